"""FOCUS 1.x billing exports → `cost_daily` rows, rolled up with DuckDB.

One file (CSV or Parquet, gzip or not) is scanned once by DuckDB and grouped per

    day (ChargePeriodStart, UTC) x provider (ProviderName) x account (SubAccountId, else
    BillingAccountId) x service (ServiceName) x region (RegionId, '' → NULL) x usage type x
    Tags x currency (BillingCurrency)

summing BilledCost → `unblended_cost` and EffectiveCost → `amortized_cost` (credits are
negative BilledCost rows and simply count; currencies are never mixed or converted).

Usage type: FOCUS has no usage-type column, so the first present of `USAGE_TYPE_COLUMNS` is
used — AWS's `x_UsageType` extension (the CUR usage type, stable and low-cardinality), then
FOCUS 1.1 `SkuMeter` (e.g. "Compute Usage"), then `ResourceType` ("Virtual Machine"). Never
ChargeDescription: it is free text that differs per price and would explode the rollup.

Tags are the FOCUS JSON object; `team` and `project` come from configurable tag keys, matched
case-insensitively and ignoring a provider prefix ("user:team" matches "team").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cto_assistant.errors import ImportFileError

# The FOCUS columns the rollup reads that the specification makes Mandatory (focus_columns.csv).
MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "EffectiveCost",
    "ProviderName",
    "ServiceName",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("SubAccountId", "BillingAccountId", "RegionId", "Tags")
USAGE_TYPE_COLUMNS: tuple[str, ...] = ("x_UsageType", "SkuMeter", "ResourceType")
EXPORT_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".parquet.gz", ".gz")

PROVIDERS = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon": "aws",
    "microsoft": "azure",
    "microsoft azure": "azure",
    "azure": "azure",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "google": "gcp",
    "gcp": "gcp",
    "oracle": "oci",
    "oracle cloud infrastructure": "oci",
    "oci": "oci",
}


@dataclass(frozen=True)
class TagKeys:
    """Which tag keys fill `team` and `project`."""

    team: str = "team"
    project: str = "project"


@dataclass
class FileRollup:
    """One export file read and rolled up: its identity, rows scanned and cost_daily rows."""

    path: Path
    import_batch: str
    source_rows: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def billed_total(self) -> dict[str, float]:
        """Sum of BilledCost per currency, as written to the rows."""
        totals: dict[str, float] = {}
        for row in self.rows:
            totals[row["currency"]] = totals.get(row["currency"], 0.0) + row["unblended_cost"]
        return totals


def find_exports(paths: Sequence[Path]) -> list[Path]:
    """Expand files and folders into a sorted list of export files (folders recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _is_export(p))
        elif path.exists():
            found.append(path)
        else:
            raise ImportFileError(str(path), ["no such file or folder"])
    return found


def _is_export(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(EXPORT_SUFFIXES)


def file_identity(path: Path) -> tuple[str, str]:
    """(path key, content hash): the batch is '<path key>:<sha256 prefix>'."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    path_key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return path_key, digest.hexdigest()[:16]


def _relation_sql(path: Path) -> str:
    name = path.name.lower()
    quoted = str(path).replace("'", "''")
    if ".parquet" in name:
        return f"read_parquet('{quoted}')"
    # All columns as text: FOCUS exports vary in how they write numbers and dates, and typed
    # sniffing of a few thousand rows can guess wrong for the millionth.
    return f"read_csv('{quoted}', header=true, all_varchar=true, compression='auto')"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column names of the file, keyed by lower-case name."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608
    return {str(row[0]).lower(): str(row[0]) for row in described}


def missing_columns(present: dict[str, str]) -> list[str]:
    """The mandatory columns the file lacks (case-insensitive)."""
    return [name for name in MANDATORY_COLUMNS if name.lower() not in present]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rollup_sql(relation: str, present: dict[str, str]) -> str:
    """The GROUP BY that turns FOCUS rows into daily cost rows (also used by the benchmark)."""

    def col(name: str) -> str:
        return _ident(present[name.lower()])

    def text_or_null(name: str) -> str:
        if name.lower() not in present:
            return "NULL"
        return f"NULLIF(TRIM(CAST({col(name)} AS VARCHAR)), '')"

    account_parts = [
        text_or_null(n) for n in ("SubAccountId", "BillingAccountId") if n.lower() in present
    ]
    account = f"COALESCE({', '.join(account_parts)})" if account_parts else "NULL"
    usage = next((text_or_null(n) for n in USAGE_TYPE_COLUMNS if n.lower() in present), "NULL")
    tags = text_or_null("Tags")
    # Dates: the first 10 characters of the ISO text (or of a UTC timestamp's rendering).
    day = f"CAST(SUBSTR(CAST({col('ChargePeriodStart')} AS VARCHAR), 1, 10) AS DATE)"
    return f"""
        SELECT {day} AS day,
               {text_or_null("ProviderName")} AS provider,
               {account} AS account,
               {text_or_null("ServiceName")} AS service,
               {text_or_null("RegionId")} AS region,
               {usage} AS usage_type,
               {tags} AS tags,
               UPPER({text_or_null("BillingCurrency")}) AS currency,
               SUM(CAST({col("BilledCost")} AS DECIMAL(38, 12))) AS billed,
               SUM(CAST({col("EffectiveCost")} AS DECIMAL(38, 12))) AS effective,
               COUNT(*) AS n
        FROM {relation}
        GROUP BY ALL
    """  # noqa: S608 - identifiers quoted, path escaped


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone='UTC'")
    return con


def rollup_file(
    path: Path,
    *,
    source: str,
    tag_keys: TagKeys = TagKeys(),
    con: duckdb.DuckDBPyConnection | None = None,
) -> FileRollup:
    """Read one FOCUS export and roll it up; refuse it (ImportFileError) if columns are missing."""
    own = con is None
    con = con or connect()
    try:
        relation = _relation_sql(path)
        try:
            present = _columns(con, relation)
        except duckdb.Error as exc:
            raise ImportFileError(str(path), [f"not a readable CSV/Parquet file: {exc}"]) from exc
        missing = missing_columns(present)
        if missing:
            raise ImportFileError(
                str(path), [f"missing mandatory FOCUS column(s): {', '.join(missing)}"]
            )
        try:
            grouped = con.execute(rollup_sql(relation, present)).fetchall()
        except duckdb.Error as exc:
            raise ImportFileError(str(path), [f"cannot roll up: {exc}"]) from exc
    finally:
        if own:
            con.close()
    path_key, content = file_identity(path)
    batch = f"{path_key}:{content}"
    rows, scanned = merge_groups(
        grouped, source=source, path_key=path_key, batch=batch, tag_keys=tag_keys, path=path
    )
    return FileRollup(path=path, import_batch=batch, source_rows=scanned, rows=rows)


def merge_groups(
    grouped: Sequence[Sequence[Any]],
    *,
    source: str,
    path_key: str,
    batch: str,
    tag_keys: TagKeys,
    path: Path,
) -> tuple[list[dict[str, Any]], int]:
    """Turn DuckDB groups into cost_daily rows, merging groups whose tags parse equal."""
    merged: dict[str, dict[str, Any]] = {}
    scanned = 0
    problems: list[str] = []
    for (
        day,
        provider,
        account,
        service,
        region,
        usage,
        raw_tags,
        currency,
        billed,
        effective,
        n,
    ) in grouped:
        scanned += int(n)
        if day is None or provider is None or currency is None:
            problems.append(
                f"{n} row(s) without ChargePeriodStart, ProviderName or BillingCurrency"
            )
            continue
        tags = parse_tags(raw_tags)
        key_text = json.dumps(
            [str(day), provider, account, service, region, usage, tags, currency],
            sort_keys=True,
            separators=(",", ":"),
        )
        row = merged.get(key_text)
        if row is None:
            row = merged[key_text] = {
                "source": source,
                "source_id": f"{path_key}:{hashlib.sha1(key_text.encode()).hexdigest()[:24]}",  # noqa: S324 - a key, not security
                "day": day if isinstance(day, date) else date.fromisoformat(str(day)),
                "provider": provider_key(provider),
                "account": account,
                "service": service,
                "region": region,
                "usage_type": usage,
                "tags": tags,
                "team": tag_value(tags, tag_keys.team),
                "project": tag_value(tags, tag_keys.project),
                "amortized_cost": 0.0,
                "unblended_cost": 0.0,
                "currency": currency,
                "import_batch": batch,
            }
        row["unblended_cost"] += float(billed or 0.0)
        row["amortized_cost"] += float(effective or 0.0)
    if problems:
        raise ImportFileError(str(path), problems)
    return list(merged.values()), scanned


def provider_key(name: str) -> str:
    """'Amazon Web Services' → 'aws', 'Microsoft' → 'azure', … (else a lower-case slug)."""
    clean = name.strip().lower()
    return PROVIDERS.get(clean) or re.sub(r"[^a-z0-9]+", "-", clean).strip("-") or "unknown"


def parse_tags(raw: str | None) -> dict[str, Any]:
    """The Tags JSON object (an empty or malformed value → {})."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v for k, v in parsed.items()}


def tag_value(tags: dict[str, Any], wanted: str) -> str | None:
    """The value of tag `wanted`, matching case-insensitively and ignoring a 'prefix:'."""
    target = wanted.lower()
    for key, value in tags.items():
        lowered = key.lower()
        if lowered == target or lowered.rsplit(":", 1)[-1] == target:
            return None if value is None else str(value)
    return None


def iter_rollups(
    paths: Sequence[Path], *, source: str, tag_keys: TagKeys = TagKeys()
) -> Iterator[FileRollup]:
    """Roll up every export under `paths`, one file at a time."""
    con = connect()
    try:
        for path in find_exports(paths):
            yield rollup_file(path, source=source, tag_keys=tag_keys, con=con)
    finally:
        con.close()
