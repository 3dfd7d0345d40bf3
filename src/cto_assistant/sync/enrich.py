"""What the sync does around connectors that need the store's knowledge, and after a run.

Connectors never read the store. Some still need what it knows: threat intel asks OSV about
the packages of our stack inventory and keeps EPSS scores for the CVEs we carry. The engine
hands those facts over before such a connector runs (`prepare_connector`) and, after a run,
enriches vulnerabilities with KEV membership and EPSS from the advisories (`after_sync`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.connectors.threat_intel.mapping import PackageRef, inventory_from_rows
from cto_assistant.store.models import Advisory, Dependency, Vulnerability


@runtime_checkable
class InventoryAware(Protocol):
    """A connector that needs the stack inventory and the CVEs we carry."""

    def set_inventory(self, packages: Iterable[PackageRef]) -> None:
        """Receive the distinct packages of the `dependency` table."""

    def watch_cves(self, cves: Iterable[str]) -> None:
        """Receive the CVE ids of our vulnerabilities."""


def prepare_connector(session: Session, connector: object) -> None:
    """Give an inventory-aware connector the packages and CVEs the store holds."""
    if not isinstance(connector, InventoryAware):
        return
    rows = session.execute(sa.select(Dependency.ecosystem, Dependency.package, Dependency.version))
    connector.set_inventory(
        inventory_from_rows(
            {"ecosystem": eco, "package": pkg, "version": ver} for eco, pkg, ver in rows
        )
    )
    cves: set[str] = set()
    for (ids,) in session.execute(sa.select(Vulnerability.cve_ids)):
        cves.update(str(c).upper() for c in ids or [])
    connector.watch_cves(sorted(cves))


def enrich_vulnerabilities(session: Session) -> int:
    """Set `in_kev` and `epss` on vulnerabilities from the advisories; return rows changed.

    KEV membership is only ever turned on (a feed that misses an entry does not clear it);
    EPSS takes the highest score among the vulnerability's CVEs.
    """
    kev: set[str] = set()
    epss: dict[str, float] = {}
    advisories = session.execute(sa.select(Advisory.kev, Advisory.epss, Advisory.cve_ids))
    for is_kev, score, ids in advisories:
        for cve in (str(c).upper() for c in ids or []):
            if is_kev:
                kev.add(cve)
            if score is not None:
                epss[cve] = max(score, epss.get(cve, 0.0))
    if not kev and not epss:
        return 0
    changed = 0
    for vuln in session.scalars(sa.select(Vulnerability)):
        cves = [str(c).upper() for c in vuln.cve_ids or []]
        in_kev = vuln.in_kev or any(c in kev for c in cves)
        scores = [epss[c] for c in cves if c in epss]
        best = max(scores) if scores else vuln.epss
        if in_kev != vuln.in_kev or best != vuln.epss:
            vuln.in_kev, vuln.epss = in_kev, best
            changed += 1
    return changed
