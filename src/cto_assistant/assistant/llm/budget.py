"""The per-conversation model budget: tokens and (when prices are set) dollars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cto_assistant.assistant.llm.config import LLMConfig
from cto_assistant.assistant.llm.providers import Usage

MIN_CALL_TOKENS = 16


@dataclass
class Budget:
    """Limits of one conversation and what it has used so far."""

    max_tokens: int
    max_cost: float
    input_price: float = 0.0
    output_price: float = 0.0
    tokens: int = 0
    cost: float = 0.0
    last_input: int = 0  # the next call re-sends at least what the last one did

    @classmethod
    def for_conversation(cls, config: LLMConfig, used: dict[str, Any] | None = None) -> Budget:
        """The budget of a conversation, with what its earlier turns used."""
        used = used or {}
        return cls(
            max_tokens=config.max_tokens_per_conversation,
            max_cost=config.max_cost_per_conversation,
            input_price=config.input_price_per_million,
            output_price=config.output_price_per_million,
            tokens=int(used.get("tokens", 0)),
            cost=float(used.get("cost", 0.0)),
            last_input=int(used.get("last_input", 0)),
        )

    def charge(self, usage: Usage) -> None:
        """Count one call's tokens and cost."""
        self.tokens += usage.total
        self.last_input = usage.input_tokens
        self.cost += (
            usage.input_tokens * self.input_price + usage.output_tokens * self.output_price
        ) / 1_000_000

    @property
    def remaining_tokens(self) -> int:
        """Tokens left in this conversation."""
        return max(0, self.max_tokens - self.tokens)

    def exhausted(self, *, next_input: int = 0) -> str | None:
        """Why no further call may be made: the budget is spent or the next call cannot fit."""
        if self.remaining_tokens < max(MIN_CALL_TOKENS, next_input + MIN_CALL_TOKENS):
            return (
                f"This conversation has used its model budget ({self.tokens:,} of "
                f"{self.max_tokens:,} tokens)."
            )
        if self.max_cost > 0 and self.cost >= self.max_cost:
            return (
                f"This conversation has used its model budget (${self.cost:.2f} of "
                f"${self.max_cost:.2f})."
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        """What the conversation stores."""
        return {"tokens": self.tokens, "cost": round(self.cost, 6), "last_input": self.last_input}
