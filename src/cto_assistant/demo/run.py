"""`cto demo`: build Acme Cloud, serve its simulators, sync through the real connectors.

The demo keeps its own database (`<data dir>/demo.db`, rebuilt on every run) so a demo never
mixes with a real installation's data. Its clock is pinned to the world's clock, so "this week"
and "active now" mean the same thing to the generator, the sync and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cto_assistant.accounts import ensure_demo_user
from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.demo.exports import write_catalog, write_evidence, write_focus_exports
from cto_assistant.demo.sandbox import (
    Sandbox,
    ServedProcess,
    sandbox_sources,
    start_sandbox,
    start_sandbox_process,
)
from cto_assistant.demo.simulators.common import ServedApp
from cto_assistant.demo.world import Scale, World, build_world
from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.sync.engine import StreamRunResult, SyncEngine, SyncProgress


@dataclass
class DemoRun:
    """A prepared demo: the world, its running sandbox, the settings pointing at it, the store."""

    world: World
    sandbox: Sandbox | None  # None when the simulators run in a child process
    served: ServedApp | ServedProcess
    settings: Settings
    store: Store
    results: list[StreamRunResult]
    username: str
    password: str

    def stop(self) -> None:
        """Stop the simulators and close the store."""
        self.served.stop()
        self.store.dispose()


def demo_database_url(settings: Settings) -> str:
    """The demo's own SQLite file unless CTO_DATABASE_URL names another database."""
    if settings.database_url:
        return settings.effective_database_url
    return f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}"


def fresh_sqlite(url: str) -> None:
    """Remove a previous demo's SQLite file (and its WAL side files)."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def prepare_demo(
    base: Settings,
    *,
    seed: int,
    today: date | None,
    scale: Scale,
    sandbox_port: int = 0,
    progress: SyncProgress | None = None,
    on_phase: Any = None,
    separate_process: bool = False,
) -> DemoRun:
    """Build the world, serve it, sync it into a fresh demo store and create the demo user.

    With `separate_process` the simulators run in a child process, so the vendors' work and the
    sync each get a core (what `cto demo` does); tests keep them in-process to inspect them.
    """

    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(name)

    phase("Building Acme Cloud")
    world = build_world(seed=seed, today=today, scale=scale)
    phase("Starting vendor simulators")
    sandbox: Sandbox | None = None
    served: ServedApp | ServedProcess
    if separate_process:
        served = start_sandbox_process(world, port=sandbox_port)
    else:
        sandbox, served = start_sandbox(world, port=sandbox_port)
    url = demo_database_url(base)
    fresh_sqlite(url)
    catalog = write_catalog(world, base.data_dir / "demo-exports" / "catalog.json")
    sources = {
        "catalog": {"kind": "catalog", "path": str(catalog)},
        **sandbox_sources(world, served.base_url),
    }
    evidence = write_evidence(world, base.data_dir / "demo-exports" / "grc-evidence.json")
    if evidence is not None:
        sources["evidence"] = {"kind": "evidence", "path": str(evidence)}
    exports = write_focus_exports(world, base.data_dir / "demo-exports")
    if exports:
        sources["focus"] = {"kind": "focus", "paths": [str(path) for path in exports]}
    settings = base.model_copy(
        update={"demo": True, "database_url": url, "clock": world.now, "sources": sources}
    )
    store = open_store(settings.effective_database_url)
    phase("Syncing through the real connectors")
    connectors = configured_connectors(settings)
    engine = SyncEngine(
        store, connectors, now=settings.now, progress=progress, lock_dir=settings.data_dir / "locks"
    )
    results = engine.run()
    phase("Creating the demo user")
    password = base.demo_password.get_secret_value() if base.demo_password else None
    with store.session() as session:
        username, password = ensure_demo_user(session=session, password=password)
    return DemoRun(
        world=world,
        sandbox=sandbox,
        served=served,
        settings=settings,
        store=store,
        results=results,
        username=username,
        password=password,
    )
