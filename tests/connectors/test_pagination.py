"""Pagination strategies against a toy vendor that pages 23 items in each vendor style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request, Response

from cto_assistant.connectors.base import ConnectorConfig, ConnectorContext
from cto_assistant.connectors.pagination import (
    JsonCursor,
    JsonLink,
    LinkHeader,
    Offset,
    PageNumber,
    PageStrategy,
    SinglePage,
    paginate,
)
from cto_assistant.demo.simulators.common import ServedApp, new_simulator, serve
from cto_assistant.demo.world import World
from cto_assistant.errors import SchemaDriftError
from cto_assistant.http import VendorClient, build_client

ITEMS = list(range(23))


@pytest.fixture(scope="module")
def vendor() -> Iterator[ServedApp]:
    app, _ = new_simulator("pager", World.from_rows({}))

    @app.get("/link")
    def link(request: Request, response: Response, page: int = 1, per_page: int = 10) -> list[int]:
        start = (page - 1) * per_page
        if start + per_page < len(ITEMS):
            response.headers["link"] = (
                f'<{request.url.replace_query_params(page=page + 1, per_page=per_page)}>; rel="next"'
            )
        return ITEMS[start : start + per_page]

    @app.get("/cursor")
    def cursor(nextPageToken: str | None = None, maxResults: int = 10) -> dict[str, Any]:
        start = int(nextPageToken or 0)
        body: dict[str, Any] = {"issues": ITEMS[start : start + maxResults]}
        if start + maxResults < len(ITEMS):
            body["nextPageToken"] = str(start + maxResults)
        return body

    @app.post("/cursor-body")
    async def cursor_body(request: Request) -> dict[str, Any]:
        payload = await request.json()
        start = int(payload.get("nextPageToken") or 0)
        size = payload["maxResults"]
        return {
            "values": ITEMS[start : start + size],
            "isLast": start + size >= len(ITEMS),
            "nextPageToken": str(start + size),
        }

    @app.get("/jsonapi")
    def jsonapi(starting_after: int = -1, limit: int = 10) -> dict[str, Any]:
        page = [i for i in ITEMS if i > starting_after][:limit]
        links = {"self": "/jsonapi"}
        if page and page[-1] != ITEMS[-1]:
            links["next"] = f"/jsonapi?starting_after={page[-1]}&limit={limit}"
        return {"data": page, "links": links}

    @app.get("/offset")
    def offset(offset: int = 0, limit: int = 10) -> dict[str, Any]:
        return {
            "incidents": ITEMS[offset : offset + limit],
            "more": offset + limit < len(ITEMS),
            "total": None,
        }

    @app.get("/pages")
    def pages(p: int = 1, ps: int = 10) -> dict[str, Any]:
        return {
            "paging": {"pageIndex": p, "pageSize": ps, "total": len(ITEMS)},
            "components": ITEMS[(p - 1) * ps : p * ps],
        }

    running = serve(app)
    yield running
    running.stop()


def client(base_url: str) -> VendorClient:
    config = ConnectorConfig(kind="pager", base_url=base_url)
    return build_client(ConnectorContext(name="pager", config=config, sleep=lambda _: None))


CASES: list[tuple[str, str, PageStrategy, str, dict[str, Any] | None]] = [
    ("GET", "link", LinkHeader(page_size=10), "", None),
    (
        "GET",
        "cursor",
        JsonCursor(
            token_path="nextPageToken", param="nextPageToken", size_param="maxResults", page_size=10
        ),
        "issues",
        None,
    ),
    (
        "POST",
        "cursor-body",
        JsonCursor(
            token_path="nextPageToken",
            param="nextPageToken",
            in_body=True,
            size_param="maxResults",
            page_size=10,
            last_path="isLast",
        ),
        "values",
        {},
    ),
    ("GET", "jsonapi", JsonLink(page_size=10), "data", None),
    ("GET", "offset", Offset(page_size=10, more_path="more"), "incidents", None),
    (
        "GET",
        "pages",
        PageNumber(page_param="p", size_param="ps", page_size=10, total_path="paging.total"),
        "components",
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "strategy", "items", "body"), CASES, ids=[c[1] for c in CASES]
)
def test_every_strategy_reads_all_items_exactly_once(
    vendor: ServedApp,
    method: str,
    path: str,
    strategy: PageStrategy,
    items: str,
    body: dict[str, Any] | None,
) -> None:
    c = client(vendor.base_url)
    pages = list(paginate(c, method, path, strategy=strategy, items=items, json=body))
    assert [i for page in pages for i in page.items] == ITEMS
    assert len(pages) == 3
    assert c.stats.pages == 3
    assert c.stats.requests == 3


def test_offset_stops_on_a_short_page_without_a_more_flag(vendor: ServedApp) -> None:
    c = client(vendor.base_url)
    pages = list(paginate(c, "GET", "offset", strategy=Offset(page_size=10), items="incidents"))
    assert sum(len(p.items) for p in pages) == 23
    assert c.stats.requests == 3


def test_single_page(vendor: ServedApp) -> None:
    c = client(vendor.base_url)
    pages = list(paginate(c, "GET", "pages", strategy=SinglePage(), items="components"))
    assert len(pages) == 1


def test_missing_items_field_is_schema_drift_naming_it(vendor: ServedApp) -> None:
    c = client(vendor.base_url)
    with pytest.raises(SchemaDriftError, match="no 'values' field") as caught:
        list(paginate(c, "GET", "cursor", strategy=SinglePage(), items="values", stream="issues"))
    assert caught.value.field == "values"
    assert caught.value.stream == "issues"


def test_items_that_are_not_a_list_are_schema_drift(vendor: ServedApp) -> None:
    c = client(vendor.base_url)
    with pytest.raises(SchemaDriftError, match="expected a list"):
        list(paginate(c, "GET", "pages", strategy=SinglePage(), items="paging"))
