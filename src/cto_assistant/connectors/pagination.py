"""Pagination strategies: each knows how to ask for the first page and how to get the next.

A strategy has two methods (after dlt's paginators): `first(request)` sets up the first page's
request, `advance(request, response, body, items)` updates the request for the next page and
returns False when there is none. `paginate` drives any strategy and yields pages of items.

    for page in paginate(client, "GET", "rest/api/3/search/jql", params={...},
                         strategy=JsonCursor(token_path="nextPageToken", param="nextPageToken"),
                         items="issues", stream="issues"):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from cto_assistant.connectors.payload import dig
from cto_assistant.errors import SchemaDriftError

if TYPE_CHECKING:
    from cto_assistant.http import VendorClient

MAX_PAGES = 100_000  # a guard against a vendor that never stops paging


@dataclass
class PageRequest:
    """The request for one page: URL, query params and (for POST searches) a JSON body."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None


@dataclass
class Page:
    """One page: its items, the decoded body and the raw response (headers)."""

    number: int
    items: list[Any]
    body: Any
    response: httpx.Response


class PageStrategy(Protocol):
    """How a vendor pages."""

    def first(self, request: PageRequest) -> None:
        """Set up the first page's request (page size, start offset)."""

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Point `request` at the next page; False when this was the last."""


@dataclass
class SinglePage:
    """No pagination."""

    def first(self, request: PageRequest) -> None:
        """Nothing to set."""

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """There is never a next page."""
        return False


@dataclass
class LinkHeader:
    """RFC 8288 `Link: <…>; rel="next"` (GitHub, GitLab)."""

    size_param: str | None = "per_page"
    page_size: int = 100

    def first(self, request: PageRequest) -> None:
        """Ask for full pages."""
        if self.size_param:
            request.params.setdefault(self.size_param, self.page_size)

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Follow the next link (it carries every query param)."""
        nxt = response.links.get("next", {}).get("url")
        if not nxt:
            return False
        request.url = nxt
        request.params = {}
        return True


@dataclass
class JsonCursor:
    """An opaque token in the body sent back as a param or body field (Jira nextPageToken)."""

    token_path: str
    param: str
    in_body: bool = False
    size_param: str | None = None
    page_size: int = 100
    last_path: str | None = None  # e.g. "isLast"

    def first(self, request: PageRequest) -> None:
        """Set the page size where the vendor takes one."""
        if self.size_param:
            self._target(request)[self.size_param] = self.page_size

    def _target(self, request: PageRequest) -> dict[str, Any]:
        if self.in_body:
            if request.json is None:
                request.json = {}
            return request.json
        return request.params

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Send the token back; stop when it is absent or the page says it is the last."""
        if self.last_path and dig(body, self.last_path) is True:
            return False
        token = dig(body, self.token_path)
        if not token:
            return False
        self._target(request)[self.param] = token
        return True


@dataclass
class JsonLink:
    """The next page's URL in the body (Snyk `links.next`, JSON:API)."""

    path: str = "links.next"
    size_param: str | None = "limit"
    page_size: int = 100

    def first(self, request: PageRequest) -> None:
        """Ask for full pages."""
        if self.size_param:
            request.params.setdefault(self.size_param, self.page_size)

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Follow the link; relative links resolve against the response URL."""
        nxt = dig(body, self.path)
        if isinstance(nxt, dict):
            nxt = nxt.get("href")
        if not nxt or not items:
            return False
        request.url = str(response.request.url.join(nxt))
        request.params = {}
        return True


@dataclass
class Offset:
    """offset/limit paging (PagerDuty `more`, Datadog page[offset])."""

    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = 100
    more_path: str | None = None  # body flag saying there is more (PagerDuty "more")
    total_path: str | None = None  # or a total count
    next_offset_path: str | None = None  # or the vendor's own next offset
    _offset: int = 0

    def first(self, request: PageRequest) -> None:
        """Start at offset 0."""
        self._offset = 0
        request.params[self.offset_param] = 0
        request.params[self.limit_param] = self.page_size

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Move past this page; stop on `more` false, the total, or a short page."""
        if not items:
            return False
        if self.next_offset_path is not None:
            nxt = dig(body, self.next_offset_path)
            if nxt is None:
                return False
            self._offset = int(nxt)
        else:
            self._offset += len(items)
        if self.more_path is not None:
            if not dig(body, self.more_path):
                return False
        elif self.total_path is not None:
            total = dig(body, self.total_path)
            if total is not None and self._offset >= int(total):
                return False
        elif self.next_offset_path is None and len(items) < self.page_size:
            return False
        request.params[self.offset_param] = self._offset
        return True


@dataclass
class PageNumber:
    """page-number paging (SonarQube p/ps with paging.total)."""

    page_param: str = "page"
    size_param: str = "per_page"
    page_size: int = 100
    start: int = 1
    total_path: str | None = None
    _page: int = 1

    def first(self, request: PageRequest) -> None:
        """Ask for the first page."""
        self._page = self.start
        request.params[self.page_param] = self._page
        request.params[self.size_param] = self.page_size

    def advance(
        self, request: PageRequest, response: httpx.Response, body: Any, items: list[Any]
    ) -> bool:
        """Next page number; stop at the total or on a short page."""
        if not items:
            return False
        seen = (self._page - self.start + 1) * self.page_size
        if self.total_path is not None:
            total = dig(body, self.total_path)
            if total is not None and seen >= int(total):
                return False
        elif len(items) < self.page_size:
            return False
        self._page += 1
        request.params[self.page_param] = self._page
        return True


ItemsSpec = str | Callable[[Any], list[Any]]


def extract_items(body: Any, items: ItemsSpec, *, source: str, stream: str | None) -> list[Any]:
    """The list of items in a page body; a missing or non-list field is schema drift."""
    if callable(items):
        found = items(body)
    elif items == "":
        found = body
    else:
        found = dig(body, items, missing=_MISSING)
        if found is _MISSING:
            raise SchemaDriftError(
                source, f"page has no '{items}' field", stream=stream, field=items
            )
    if not isinstance(found, list):
        raise SchemaDriftError(
            source,
            f"'{items if isinstance(items, str) else 'items'}' is {type(found).__name__}, "
            "expected a list",
            stream=stream,
            field=items if isinstance(items, str) else None,
        )
    return found


_MISSING = object()


def paginate(
    client: VendorClient,
    method: str,
    url: str,
    *,
    strategy: PageStrategy,
    items: ItemsSpec,
    stream: str | None = None,
    params: dict[str, Any] | None = None,
    json: dict[str, Any] | None = None,
) -> Iterator[Page]:
    """Yield every page of a listing, counting pages in the client's stats."""
    request = PageRequest(method=method, url=url, params=dict(params or {}), json=json)
    strategy.first(request)
    for number in range(1, MAX_PAGES + 1):
        kwargs: dict[str, Any] = {"params": request.params or None}
        if request.json is not None:
            kwargs["json"] = request.json
        response = client.request(request.method, request.url, stream=stream, **kwargs)
        from cto_assistant.http import decode_json

        body = decode_json(response, client.source, stream)
        page_items = extract_items(body, items, source=client.source, stream=stream)
        client.stats.pages += 1
        yield Page(number=number, items=page_items, body=body, response=response)
        if not strategy.advance(request, response, body, page_items):
            return
    raise SchemaDriftError(client.source, f"more than {MAX_PAGES} pages", stream=stream)
