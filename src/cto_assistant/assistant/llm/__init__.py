"""Optional LLM mode: the same tool catalogue behind a language model, for open-ended questions.

Off by default (`[llm] mode = "router"`); the deterministic router stays the product.

    config.py     LLMConfig: provider, endpoint, model, key, mode and budgets (`[llm]` settings)
    providers.py  one `complete()` over OpenAI-compatible chat completions and Anthropic messages
    prompt.py     the system prompt, tool schemas, compact tool results fenced as DATA, secret scrub
    budget.py     per-conversation token and cost budget
    numbers.py    every figure in an answer must come from a tool result (or the question)
    agent.py      the loop: model → validated tool calls → model …; write tools become pending
    routing.py    when the model takes a question instead of the router
    runner.py     glue with the assistant service: tool context, budget in the conversation, confirm
"""
