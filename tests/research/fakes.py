"""Local fakes of the search APIs, answering in each provider's documented response shape."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.demo.simulators.common import SimulatorState, bearer_token, new_simulator, same
from cto_assistant.demo.world import World

BRAVE_KEY = "brave-test-key"
TAVILY_KEY = "tvly-test-key"


def _world() -> World:
    return World(seed=1, today=date(2025, 6, 1))


def _hits(query: str) -> list[dict[str, str]]:
    return [
        {
            "title": f"{query} — NVD detail",
            "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
            "text": "Malicious code was discovered in the upstream tarballs of xz.",
            "date": "2024-03-29T16:15:00",
        },
        {
            "title": "CISA adds xz-utils to the KEV catalog",
            "url": "https://www.cisa.gov/news-events/alerts/2024/03/29/xz",
            "text": "CISA is aware of supply chain compromise affecting XZ Utils 5.6.0 and 5.6.1.",
            "date": "",
        },
    ]


def searxng_app() -> tuple[FastAPI, SimulatorState]:
    """SearxNG: GET /search?q=…&format=json → {query, number_of_results, results, …}."""
    app, state = new_simulator("searxng", _world())

    @app.get("/search")
    def search(q: str, format: str = "html") -> dict[str, Any]:
        if format != "json":
            raise HTTPException(403, "format not allowed")
        results = [
            {
                "url": hit["url"],
                "title": hit["title"],
                "content": hit["text"],
                "engine": "duckduckgo",
                "engines": ["duckduckgo", "brave"],
                "parsed_url": ["https", hit["url"].split("/")[2], "/", "", "", ""],
                "template": "default.html",
                "positions": [1],
                "score": 2.0,
                "category": "general",
                "publishedDate": hit["date"] or None,
            }
            for hit in _hits(q)
        ]
        return {
            "query": q,
            "number_of_results": 0,
            "results": results,
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [f"{q} patch"],
            "unresponsive_engines": [],
        }

    return app, state


def brave_app() -> tuple[FastAPI, SimulatorState]:
    """Brave: GET /res/v1/web/search with X-Subscription-Token → {type, query, web: {results}}."""
    app, state = new_simulator("brave", _world())

    @app.get("/res/v1/web/search")
    def search(request: Request, q: str, count: int = 20) -> dict[str, Any]:
        if not same(request.headers.get("x-subscription-token"), BRAVE_KEY):
            raise HTTPException(401, "invalid subscription token")
        results = [
            {
                "type": "search_result",
                "title": hit["title"],
                "url": hit["url"],
                "is_source_local": False,
                "is_source_both": False,
                "description": f"<strong>{hit['text']}</strong>",
                "page_age": hit["date"] or None,
                "age": "March 29, 2024" if hit["date"] else None,
                "profile": {"name": "NVD", "url": hit["url"], "long_name": "nvd.nist.gov"},
                "language": "en",
                "family_friendly": True,
                "meta_url": {"scheme": "https", "netloc": hit["url"].split("/")[2]},
            }
            for hit in _hits(q)[:count]
        ]
        return {
            "type": "search",
            "query": {"original": q, "show_strict_warning": False, "is_navigational": False},
            "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
            "web": {"type": "search", "results": results, "family_friendly": True},
        }

    return app, state


def tavily_app() -> tuple[FastAPI, SimulatorState]:
    """Tavily: POST /search (Bearer key) → {query, answer, images, results, response_time}."""
    app, state = new_simulator("tavily", _world())

    @app.post("/search")
    async def search(request: Request) -> dict[str, Any]:
        if not same(bearer_token(request), TAVILY_KEY):
            raise HTTPException(401, "Unauthorized: missing or invalid API key.")
        body = await request.json()
        hits = _hits(body["query"])[: int(body.get("max_results", 5))]
        return {
            "query": body["query"],
            "follow_up_questions": None,
            "answer": None,
            "images": [],
            "results": [
                {
                    "title": hit["title"],
                    "url": hit["url"],
                    "content": hit["text"],
                    "score": 0.81,
                    "raw_content": None,
                }
                for hit in hits
            ],
            "response_time": 0.42,
        }

    return app, state
