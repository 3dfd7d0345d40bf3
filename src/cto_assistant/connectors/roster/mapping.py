"""The roster's documented row shape (email, name, team, started, left, role) → `person` rows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

FIELDS = ("email", "name", "team", "role", "started", "left")
REQUIRED = ("email", "name")

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RosterRow(BaseModel):
    """One employee of the roster: who, which team, when they started and (if so) left."""

    model_config = ConfigDict(extra="ignore")

    email: Email = Field(description="Work e-mail: the key people are matched on.")
    name: Text = Field(description="Full name.")
    team: Short | None = Field(default=None, description="Team key (e.g. PLAT).")
    role: Short | None = Field(default=None, description="Job title.")
    started: date | None = Field(default=None, description="First day (YYYY-MM-DD).")
    left: date | None = Field(
        default=None, description="Last day (YYYY-MM-DD); empty while employed."
    )

    @model_validator(mode="after")
    def _left_after_started(self) -> RosterRow:
        if self.started and self.left and self.left < self.started:
            raise ValueError(f"left ({self.left}) is before started ({self.started})")
        return self


def person(row: RosterRow, *, source: str, today: date) -> dict[str, Any]:
    """One roster row → one `person` row (active through its `left` day)."""
    return {
        "source": source,
        "source_id": row.email,
        "name": row.name,
        "email": row.email,
        "team_key": row.team,
        "role": row.role,
        "active": row.left is None or row.left >= today,
        "started_at": row.started,
        "left_at": row.left,
    }
