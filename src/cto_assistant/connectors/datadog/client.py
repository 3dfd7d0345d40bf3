"""Datadog: SLOs and their history, monitors, hosts (API v1), incidents and users (API v2).

Auth is the API key and application key in `DD-API-KEY` / `DD-APPLICATION-KEY`. The API root is
`https://api.<site>` for the configured site (datadoghq.com, datadoghq.eu, us3.datadoghq.com,
us5.datadoghq.com, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com,
us2.ddog-gov.com) unless `base_url` is given (a proxy or the simulator).

Requests per sync (P = pages): slos 1 + P; slo_history 1 + P (SLO list) + one history call per
SLO; monitors P; hosts P; incidents P; users P (+ P' role pages only when a page's `included`
lacks a user's role). Incremental: slo_history asks only for points after the
cursor (its `from_ts`); incidents are filtered on `modified` client-side — the v2 list has no
modified filter — so an incremental run still lists every page but yields only changes.
`users` is a snapshot of who holds access (access_grant rows, system "datadog"): every run lists
all users, and grants a run no longer yields (a removed or disabled user) are pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.datadog import mapping
from cto_assistant.connectors.pagination import Offset, PageNumber, paginate
from cto_assistant.connectors.payload import iso, parse_time
from cto_assistant.errors import ConnectorError
from cto_assistant.http import VendorClient, build_client

SITES = (
    "datadoghq.com",
    "datadoghq.eu",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
)


class DatadogConfig(ConnectorConfig):
    """Datadog site and keys."""

    kind: str = Field(default="datadog", description="Connector kind: 'datadog'.")
    base_url: str = Field(default="", description="API root; empty means https://api.<site>.")
    site: str = Field(
        default="datadoghq.com", description=f"Datadog site: one of {', '.join(SITES)}."
    )
    api_key: SecretStr = Field(description="Datadog API key (DD-API-KEY).")
    app_key: SecretStr = Field(description="Datadog application key (DD-APPLICATION-KEY).")
    history_days: int = Field(
        default=30, ge=1, le=90, description="Days of SLO history pulled on a first sync."
    )
    privileged_roles: list[str] = Field(
        default_factory=list,
        description="Custom role names that count as privileged besides roles named '*admin*'.",
    )

    @field_validator("site")
    @classmethod
    def _known_site(cls, value: str) -> str:
        site = (
            value.strip().lower().removeprefix("https://").removeprefix("app.").removeprefix("api.")
        )
        site = site.rstrip("/")
        if site not in SITES:
            raise ValueError(f"unknown Datadog site {value!r} (one of {', '.join(SITES)})")
        return site

    @property
    def api_url(self) -> str:
        """The API root this config points at."""
        return self.base_url or f"https://api.{self.site}"


class DatadogConnector(Connector):
    """Datadog API v1/v2: SLOs + history, monitors, hosts, incidents, users (access)."""

    kind = "datadog"
    config_model = DatadogConfig
    category = "operations"
    streams = (
        Stream("slos", tables=("slo",), description="Service level objectives."),
        Stream(
            "slo_history",
            tables=("sli_point",),
            incremental=True,
            description="Good/total per point of each SLO's history (cursor: to_ts).",
        ),
        Stream("monitors", tables=("monitor",), description="Monitors with overall state."),
        Stream("hosts", tables=("host_health",), description="Hosts reporting, up or down."),
        Stream(
            "incidents",
            tables=("incident",),
            incremental=True,
            description="Incidents (v2), a second incident source (cursor: modified).",
        ),
        Stream(
            "users",
            tables=("access_grant",),
            snapshot=True,
            description="Users (v2) with their roles, MFA and last login, as access grants.",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        pinned = self.settings.now
        self.clock: Callable[[], datetime] = (
            (lambda: pinned) if pinned is not None else (lambda: datetime.now(UTC))
        )
        self._client: VendorClient | None = None

    @property
    def settings(self) -> DatadogConfig:
        """The typed config."""
        assert isinstance(self.config, DatadogConfig)
        return self.config

    @property
    def client(self) -> VendorClient:
        """The authenticated HTTP client (built on first use)."""
        if self._client is None:
            api_key = self.settings.api_key.get_secret_value()
            app_key = self.settings.app_key.get_secret_value()
            self._client = build_client(
                self.context,
                base_url=self.settings.api_url,
                headers={"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key},
                secrets=(api_key, app_key),
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ----------------------------------------------------------------------------- streams

    def _slo_objects(self, stream: str) -> Iterator[Any]:
        strategy = Offset(
            offset_param="offset", limit_param="limit", page_size=self.config.page_size
        )
        for page in paginate(
            self.client, "GET", "api/v1/slo", strategy=strategy, items="data", stream=stream
        ):
            yield from page.items

    def pull_slos(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield every SLO."""
        for obj in self._slo_objects("slos"):
            yield Record("slo", mapping.slo(obj, source=self.name))

    def pull_slo_history(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield SLI points after the cursor (or `history_days` back) up to now."""
        now = self.clock()
        start = parse_time(since) if since else now - timedelta(days=self.settings.history_days)
        assert start is not None
        from_ts, to_ts = int(start.timestamp()), int(now.timestamp())
        if to_ts <= from_ts:
            return
        for obj in self._slo_objects("slo_history"):
            slo_id = str(mapping.slo(obj, source=self.name)["source_id"])
            body = self.client.get_json(
                f"api/v1/slo/{slo_id}/history",
                params={"from_ts": from_ts, "to_ts": to_ts},
                stream="slo_history",
            )
            self.context.stats.pages += 1
            for row in mapping.sli_points(body, source=self.name, slo_id=slo_id):
                # The window is inclusive at both ends; a point exactly at the cursor was
                # already taken by the previous run.
                if since is None or int(row["at"].timestamp()) > from_ts:
                    yield Record("sli_point", row)
        yield Checkpoint(iso(datetime.fromtimestamp(to_ts, tz=UTC)) or "")

    def pull_monitors(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield every monitor with its overall state."""
        strategy = PageNumber(
            page_param="page", size_param="page_size", page_size=self.config.page_size, start=0
        )
        for page in paginate(
            self.client, "GET", "api/v1/monitor", strategy=strategy, items="", stream="monitors"
        ):
            for obj in page.items:
                yield Record("monitor", mapping.monitor(obj, source=self.name))

    def pull_hosts(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield every host Datadog knows (live in the last hours)."""
        strategy = Offset(
            offset_param="start",
            limit_param="count",
            page_size=self.config.page_size,
            total_path="total_matching",
        )
        for page in paginate(
            self.client, "GET", "api/v1/hosts", strategy=strategy, items="host_list", stream="hosts"
        ):
            for obj in page.items:
                yield Record("host_health", mapping.host(obj, source=self.name))

    def pull_incidents(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield incidents modified after the cursor (all on a first sync)."""
        after = parse_time(since) if since else None
        newest = after
        strategy = Offset(
            offset_param="page[offset]",
            limit_param="page[size]",
            page_size=min(self.config.page_size, 100),
            next_offset_path="meta.pagination.next_offset",
        )
        for page in paginate(
            self.client,
            "GET",
            "api/v2/incidents",
            strategy=strategy,
            items="data",
            stream="incidents",
            params={"include": "users"},
        ):
            users = mapping.incident_users(page.body)
            for obj in page.items:
                modified = mapping.incident_modified(obj, source=self.name)
                if after is not None and modified is not None and modified <= after:
                    continue
                yield Record(
                    "incident",
                    mapping.incident(obj, source=self.name, users=users, site=self.settings.site),
                )
                if modified is not None and (newest is None or modified > newest):
                    newest = modified
        if newest is not None and newest != after:
            yield Checkpoint(iso(newest) or "")

    def pull_users(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield one access grant per enabled user (the whole set every run)."""
        strategy = PageNumber(
            page_param="page[number]",
            size_param="page[size]",
            page_size=min(self.config.page_size, 100),
            start=0,
            total_path="meta.page.total_count",
        )
        privileged = frozenset(self.settings.privileged_roles)
        roles: dict[str, str] = {}
        listed_roles = False
        for page in paginate(
            self.client, "GET", "api/v2/users", strategy=strategy, items="data", stream="users"
        ):
            roles.update(mapping.role_names(page.body))
            for obj in page.items:
                if mapping.user_is_disabled(obj):
                    continue
                unknown = [r for r in mapping.user_role_ids(obj) if r not in roles]
                if unknown and not listed_roles:
                    roles.update(self._all_role_names())
                    listed_roles = True
                yield Record(
                    "access_grant",
                    mapping.access_grant(
                        obj, source=self.name, roles=roles, privileged_roles=privileged
                    ),
                )

    def _all_role_names(self) -> dict[str, str]:
        """Role id → name for every role (when a users page did not include them)."""
        strategy = PageNumber(
            page_param="page[number]",
            size_param="page[size]",
            page_size=100,
            start=0,
            total_path="meta.page.total_count",
        )
        names: dict[str, str] = {}
        for page in paginate(
            self.client, "GET", "api/v2/roles", strategy=strategy, items="data", stream="users"
        ):
            names.update(mapping.role_names(page.body))
        return names

    # ------------------------------------------------------------------------------- check

    def check(self) -> list[CheckResult]:
        """Probe each read capability with a one-item request."""
        probes = {
            "read SLOs": ("api/v1/slo", {"limit": 1}),
            "read monitors": ("api/v1/monitor", {"page": 0, "page_size": 1}),
            "read hosts": ("api/v1/hosts", {"count": 1}),
            "read incidents": ("api/v2/incidents", {"page[size]": 1}),
            "read users": ("api/v2/users", {"page[size]": 1}),
        }
        results = []
        for capability, (url, params) in probes.items():
            try:
                self.client.get_json(url, params=params)
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
            else:
                results.append(CheckResult(capability, True))
        return results
