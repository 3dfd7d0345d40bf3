"""The control catalogue, shipped as data (`controls.toml` in this package).

`load_catalogue()` reads it once with importlib.resources (so it works from a wheel) and
returns frozen dataclasses: frameworks, checks (automated or evidence-only) and controls with
the checks they name and their crosswalk to the other framework.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

FRAMEWORK_ALIASES = {
    "soc2": "soc2",
    "soc 2": "soc2",
    "soc-2": "soc2",
    "soc": "soc2",
    "tsc": "soc2",
    "iso27001": "iso27001",
    "iso 27001": "iso27001",
    "iso/iec 27001": "iso27001",
    "iso-27001": "iso27001",
    "iso": "iso27001",
    "27001": "iso27001",
}


@dataclass(frozen=True)
class Framework:
    """A compliance framework of the catalogue."""

    key: str
    title: str
    short: str


@dataclass(frozen=True)
class CheckDef:
    """A check: automated (evaluated from synced data) or evidence-only (collected elsewhere)."""

    key: str
    title: str
    description: str
    automated: bool = False
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlDef:
    """A control of one framework, the checks that evidence it, and its crosswalk."""

    framework: str
    control_id: str
    title: str
    description: str
    checks: tuple[str, ...]
    crosswalk: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """Frameworks, checks and controls."""

    version: str
    frameworks: dict[str, Framework]
    checks: dict[str, CheckDef]
    controls: tuple[ControlDef, ...]

    def controls_of(self, framework: str) -> list[ControlDef]:
        """The controls of one framework, in catalogue order."""
        return [c for c in self.controls if c.framework == framework]


def normalize_framework(name: str) -> str | None:
    """'SOC 2', 'soc2', 'ISO 27001', 'iso' → catalogue key; None when unknown."""
    return FRAMEWORK_ALIASES.get(" ".join(name.strip().lower().split()))


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    """Build a catalogue from parsed TOML, checking every reference."""
    frameworks = {
        key: Framework(key=key, title=str(value["title"]), short=str(value.get("short", key)))
        for key, value in data["frameworks"].items()
    }
    checks = {
        key: CheckDef(
            key=key,
            title=str(value["title"]),
            description=str(value["description"]),
            automated=bool(value.get("automated", False)),
            params=dict(value.get("params", {})),
        )
        for key, value in data["checks"].items()
    }
    controls = []
    for entry in data["controls"]:
        control = ControlDef(
            framework=str(entry["framework"]),
            control_id=str(entry["id"]),
            title=str(entry["title"]),
            description=str(entry["description"]),
            checks=tuple(entry["checks"]),
            crosswalk=tuple(entry.get("crosswalk", ())),
        )
        if control.framework not in frameworks:
            raise ValueError(f"control {control.control_id}: unknown framework {control.framework}")
        missing = [c for c in control.checks if c not in checks]
        if missing:
            raise ValueError(f"control {control.control_id}: unknown checks {missing}")
        controls.append(control)
    ids = {f"{c.framework}:{c.control_id}" for c in controls}
    for control in controls:
        for target in control.crosswalk:
            if target not in ids:
                raise ValueError(f"control {control.control_id}: crosswalk to unknown {target}")
    return Catalogue(
        version=str(data.get("version", "")),
        frameworks=frameworks,
        checks=checks,
        controls=tuple(controls),
    )


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package."""
    text = resources.files(__package__).joinpath("controls.toml").read_text(encoding="utf-8")
    return parse_catalogue(tomllib.loads(text))
