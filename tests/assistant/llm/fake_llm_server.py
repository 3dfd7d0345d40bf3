"""A fake model server speaking the real wire protocols: OpenAI chat completions and Anthropic messages.

Each reply is scripted (a list of JSON bodies or HTTP status codes); every request body is
recorded so tests can check what left the process (tools, tool results, no secrets).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class Script:
    """Replies to play in order, and the raw bodies received."""

    replies: list[dict[str, Any] | int] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    def requests(self) -> list[dict[str, Any]]:
        """The received bodies, parsed."""
        return [json.loads(body) for body in self.bodies]


def openai_tool_calls(*calls: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A chat completion whose assistant message calls tools: (id, name, arguments)."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_750_000_000,
        "model": "fake-gpt",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(arguments)},
                        }
                        for call_id, name, arguments in calls
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230},
    }


def openai_answer(text: str) -> dict[str, Any]:
    """A chat completion with a final text answer."""
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1_750_000_001,
        "model": "fake-gpt",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"prompt_tokens": 1500, "completion_tokens": 60, "total_tokens": 1560},
    }


def anthropic_tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic message that uses a tool."""
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "fake-claude",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": call_id, "name": name, "input": arguments},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1100, "output_tokens": 40},
    }


def anthropic_answer(text: str) -> dict[str, Any]:
    """An Anthropic message with a final answer."""
    return {
        "id": "msg_2",
        "type": "message",
        "role": "assistant",
        "model": "fake-claude",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1400, "output_tokens": 50},
    }


def make_app(script: Script) -> FastAPI:
    """The fake server: /v1/chat/completions and /v1/messages play the same script."""
    app = FastAPI()

    async def play(request: Request) -> JSONResponse:
        script.bodies.append((await request.body()).decode())
        reply = script.replies.pop(0) if script.replies else 500
        if isinstance(reply, int):
            error = {"error": {"type": "rate_limit_error", "message": "slow down"}}
            return JSONResponse(error, status_code=reply, headers={"retry-after": "0"})
        return JSONResponse(reply)

    app.add_api_route("/v1/chat/completions", play, methods=["POST"])
    app.add_api_route("/v1/messages", play, methods=["POST"])
    return app
