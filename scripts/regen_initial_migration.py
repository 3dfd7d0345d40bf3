"""Regenerate migration 0001 from store/models.py (only while no release has shipped).

Run: .venv/bin/python scripts/regen_initial_migration.py
After the first release, add new migrations with `alembic revision --autogenerate` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from cto_assistant.store.db import MIGRATIONS_DIR, alembic_config


def main() -> None:
    """Delete 0001 and autogenerate it again against an empty SQLite database."""
    for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        config = alembic_config(f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(config, message="domain model", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    main()
