"""FOCUS import: provider flavours, CSV/gzip/Parquet, totals to the cent, refusal, replacement."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.focus import FocusConfig, FocusConnector
from cto_assistant.connectors.focus.importer import import_focus
from cto_assistant.connectors.focus.mapping import MANDATORY_COLUMNS, rollup_file
from cto_assistant.errors import ImportFileError
from cto_assistant.store import Store
from cto_assistant.store.models import CostDaily
from tests.conftest import vendor_spec

BASE_COLUMNS = [
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "SubAccountId",
    "ResourceType",
    "SkuId",
    "Tags",
]


def _row(
    provider: str,
    day: int,
    service: str,
    region: str,
    billed: str,
    effective: str,
    *,
    currency: str = "USD",
    account: str = "111111111111",
    tags: dict[str, str] | None = None,
    category: str = "Usage",
    resource_type: str = "Virtual Machine",
    **extra: str,
) -> dict[str, str]:
    row = {
        "BillingAccountId": "billing-1",
        "BillingCurrency": currency,
        "BillingPeriodStart": "2026-01-01T00:00:00Z",
        "BillingPeriodEnd": "2026-02-01T00:00:00Z",
        "ChargeCategory": category,
        "ChargeDescription": f"{service} usage on day {day}",
        "ChargePeriodStart": f"2026-01-{day:02d}T{day % 24:02d}:00:00Z",
        "ChargePeriodEnd": f"2026-01-{day:02d}T23:00:00Z",
        "BilledCost": billed,
        "EffectiveCost": effective,
        "ListCost": billed,
        "ContractedCost": billed,
        "ProviderName": provider,
        "PublisherName": provider,
        "InvoiceIssuerName": provider,
        "ServiceName": service,
        "ServiceCategory": "Compute",
        "RegionId": region,
        "SubAccountId": account,
        "ResourceType": resource_type,
        "SkuId": f"SKU-{service[:3]}",
        "Tags": json.dumps(tags) if tags is not None else "",
    }
    row.update(extra)
    return row


def _write_csv(path: Path, rows: list[dict[str, str]], *, gz: bool = False) -> Path:
    columns = list(dict.fromkeys(c for r in rows for c in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    if gz:
        path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    else:
        path.write_text(buffer.getvalue())
    return path


def _write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    staging = _write_csv(path.with_suffix(".staging.csv"), rows)
    con = duckdb.connect()
    # Typed Parquet like real exports: costs as DECIMAL, times as TIMESTAMP.
    con.execute(
        f"""COPY (SELECT * REPLACE (CAST(BilledCost AS DECIMAL(18,6)) AS BilledCost,
                                   CAST(EffectiveCost AS DECIMAL(18,6)) AS EffectiveCost,
                                   CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart)
                 FROM read_csv('{staging}', all_varchar=true))
            TO '{path}' (FORMAT PARQUET)"""  # noqa: S608 - test paths
    )
    con.close()
    staging.unlink()
    return path


def provider_rows() -> dict[str, list[dict[str, str]]]:
    """Small exports in each provider's flavour, with the quirks real ones have."""
    aws = [
        _row(
            "AWS",
            3,
            "Amazon Simple Storage Service",
            "us-east-1",
            "120.015",
            "118.50",
            tags={"user:team": "data", "user:project": "data-processing-pipeline"},
            x_UsageType="USE1-TimedStorage-ByteHrs",
            x_ServiceCode="AmazonS3",
        ),
        _row(
            "AWS",
            3,
            "Amazon Simple Storage Service",
            "us-east-1",
            "30.005",
            "30.005",
            tags={
                "user:project": "data-processing-pipeline",
                "user:team": "data",
            },  # same tags, other order
            x_UsageType="USE1-TimedStorage-ByteHrs",
            x_ServiceCode="AmazonS3",
        ),
        _row(
            "AWS",
            4,
            "Amazon Elastic Compute Cloud",
            "eu-west-1",
            "88.12",
            "61.40",
            account="222222222222",
            tags={"user:team": "payments"},
            x_UsageType="EU-BoxUsage:m5.large",
            x_ServiceCode="AmazonEC2",
        ),
        _row(
            "AWS",
            4,
            "AWS Support (Business)",
            "",
            "10.00",
            "10.00",
            category="Purchase",
            x_UsageType="",
            x_ServiceCode="AWSSupportBusiness",
        ),
    ]
    azure = [
        _row(
            "Microsoft",
            5,
            "Virtual Machines",
            "westeurope",
            "40.10",
            "40.10",
            currency="EUR",
            account="/subscriptions/0000-aaaa",
            tags={"team": "identity", "project": "sso"},
        ),
        _row(
            "Microsoft",
            6,
            "Storage",
            "westeurope",
            "5.555",
            "5.555",
            currency="EUR",
            account="/subscriptions/0000-aaaa",
            tags={"Team": "identity"},
        ),
    ]
    gcp = [
        _row(
            "Google Cloud",
            7,
            "BigQuery",
            "us-central1",
            "12.34",
            "12.34",
            account="acme-analytics",
            tags={"team": "data"},
        ),
        _row("Google Cloud", 7, "Cloud DNS", "", "0.40", "0.40", account="acme-analytics"),
        _row(
            "Google Cloud",
            8,
            "Compute Engine",
            "us-central1",
            "-25.00",
            "-25.00",
            account="acme-analytics",
            category="Credit",
        ),
    ]
    oci = [
        _row(
            "Oracle",
            9,
            "Compute",
            "us-ashburn-1",
            "7.77",
            "7.00",
            account="ocid1.tenancy.oc1..aaa",
            tags={"team": "platform"},
            x_Compartment="prod",
        ),
    ]
    return {"aws": aws, "azure": azure, "gcp": gcp, "oci": oci}


def _billed_by_currency(rows: list[dict[str, str]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row["BillingCurrency"]] = totals.get(row["BillingCurrency"], Decimal(0)) + Decimal(
            row["BilledCost"]
        )
    return totals


def _store_totals(store: Store) -> dict[str, Decimal]:
    with store.session() as session:
        result = session.execute(
            sa.select(CostDaily.currency, sa.func.sum(CostDaily.unblended_cost)).group_by(
                CostDaily.currency
            )
        ).all()
    return {cur: Decimal(str(total)).quantize(Decimal("0.01")) for cur, total in result}


@pytest.fixture
def export_folder(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    folder = tmp_path / "exports"
    (folder / "gcp").mkdir(parents=True)
    flavours = provider_rows()
    _write_csv(folder / "aws-focus-2026-01.csv", flavours["aws"])
    _write_csv(folder / "azure-focus.csv.gz", flavours["azure"], gz=True)
    _write_parquet(folder / "gcp" / "gcp-focus.parquet", flavours["gcp"])
    _write_csv(folder / "oci-focus.csv", flavours["oci"])
    (folder / "README.txt").write_text("not an export")
    all_rows = [row for rows in flavours.values() for row in rows]
    return folder, all_rows


def test_folder_of_provider_flavours_imports_with_billed_totals_to_the_cent(
    any_store: Store, export_folder: tuple[Path, list[dict[str, str]]]
) -> None:
    folder, rows = export_folder
    result = import_focus(any_store, [folder])
    assert len(result.files) == 4
    assert result.source_rows == len(rows)
    expected = {
        cur: total.quantize(Decimal("0.01")) for cur, total in _billed_by_currency(rows).items()
    }
    assert _store_totals(any_store) == expected
    with any_store.session() as session:
        stored = session.scalars(sa.select(CostDaily)).all()
    by_provider = {row.provider for row in stored}
    assert by_provider == {"aws", "azure", "gcp", "oci"}
    s3 = [r for r in stored if r.service == "Amazon Simple Storage Service"]
    # Two export rows whose tags differ only in key order roll into one daily row.
    assert len(s3) == 1
    assert s3[0].unblended_cost == pytest.approx(150.02)
    assert s3[0].amortized_cost == pytest.approx(148.505)
    assert (s3[0].team, s3[0].project) == ("data", "data-processing-pipeline")
    assert s3[0].usage_type == "USE1-TimedStorage-ByteHrs"
    assert s3[0].region == "us-east-1" and s3[0].account == "111111111111"
    assert str(s3[0].day) == "2026-01-03"
    support = next(r for r in stored if r.service == "AWS Support (Business)")
    assert support.region is None and support.tags == {}
    azure_storage = next(r for r in stored if r.service == "Storage")
    assert azure_storage.team == "identity" and azure_storage.currency == "EUR"
    credit = next(r for r in stored if r.service == "Compute Engine")
    assert credit.unblended_cost == pytest.approx(-25.0)
    dns = next(r for r in stored if r.service == "Cloud DNS")
    assert dns.region is None and dns.usage_type == "Virtual Machine"  # ResourceType fallback


def test_reimporting_a_file_replaces_its_rows_never_doubles(
    sqlite_store: Store, tmp_path: Path
) -> None:
    rows = provider_rows()["aws"]
    path = _write_csv(tmp_path / "aws.csv", rows)
    first = import_focus(sqlite_store, [path])
    again = import_focus(sqlite_store, [path])
    assert again.files[0].rows_replaced == first.rows_written
    assert _store_totals(sqlite_store) == {"USD": Decimal("248.14")}
    # The provider restates the month: same file path, new content → still replaced.
    rows[0]["BilledCost"] = "100.001"
    _write_csv(path, rows)
    import_focus(sqlite_store, [path])
    assert _store_totals(sqlite_store) == {"USD": Decimal("228.13")}
    with sqlite_store.session() as session:
        batches = session.scalars(sa.select(CostDaily.import_batch).distinct()).all()
    assert len(batches) == 1


def test_a_file_missing_mandatory_columns_is_refused_with_the_list_and_nothing_written(
    sqlite_store: Store, tmp_path: Path
) -> None:
    good = _write_csv(tmp_path / "good.csv", provider_rows()["oci"])
    broken_rows = [
        {k: v for k, v in r.items() if k not in ("EffectiveCost", "ServiceName")}
        for r in provider_rows()["gcp"]
    ]
    bad = _write_csv(tmp_path / "bad.csv", broken_rows)
    with pytest.raises(ImportFileError) as caught:
        import_focus(sqlite_store, [good, bad])
    message = str(caught.value)
    assert "bad.csv" in message and "EffectiveCost" in message and "ServiceName" in message
    assert "good.csv" not in message
    assert _store_totals(sqlite_store) == {}


def test_mandatory_columns_are_mandatory_in_the_focus_specification() -> None:
    digest = vendor_spec("focus", "focus_columns.csv")
    with digest.open() as handle:
        mandatory = {
            row["ColumnID"] for row in csv.DictReader(handle) if row["FeatureLevel"] == "Mandatory"
        }
    assert set(MANDATORY_COLUMNS) <= mandatory


def test_specification_example_data_rolls_up_to_its_billed_cost(tmp_path: Path) -> None:
    example = vendor_spec(
        "focus",
        "spec_example_data",
        "commitment_discount_scenarios",
        "commitment_discount_usage_scenario_1.csv",
    )
    with example.open() as handle:
        rows = list(csv.DictReader(handle))
    # The worked examples omit dimensions; add the mandatory ones they leave out.
    for row in rows:
        row.update({"BillingCurrency": "USD", "ProviderName": "AWS", "ServiceName": "Amazon EC2"})
    path = _write_csv(tmp_path / "example.csv", rows)
    rollup = rollup_file(path, source="focus")
    assert rollup.source_rows == len(rows)
    billed = sum(Decimal(r["BilledCost"]) for r in rows)
    effective = sum(Decimal(r["EffectiveCost"]) for r in rows)
    assert Decimal(str(sum(r["unblended_cost"] for r in rollup.rows))).quantize(
        Decimal("0.01")
    ) == billed.quantize(Decimal("0.01"))
    assert Decimal(str(sum(r["amortized_cost"] for r in rollup.rows))).quantize(
        Decimal("0.01")
    ) == effective.quantize(Decimal("0.01"))


def test_connector_stream_yields_rows_and_only_rereads_newer_files(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    _write_csv(folder / "a.csv", provider_rows()["aws"])
    connector = FocusConnector(
        ConnectorContext(name="focus", config=FocusConfig(paths=[str(folder)]))
    )
    items = list(connector.pull("costs", None))
    records = [i for i in items if isinstance(i, Record)]
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    assert {r.table for r in records} == {"cost_daily"} and len(records) == 3
    assert all(r.values["source"] == "focus" for r in records)
    assert list(connector.pull("costs", checkpoints[-1].cursor)) == []
    assert connector.check()[0].ok


def test_cli_imports_a_folder_and_refuses_cur(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cto_assistant.cli import app

    monkeypatch.setenv("CTO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CTO_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    path = _write_csv(tmp_path / "oci.csv", provider_rows()["oci"])
    runner = CliRunner()
    result = runner.invoke(app, ["import-costs", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 file(s)" in result.output and "7.77 USD" in result.output
    refused = runner.invoke(app, ["import-costs", str(path), "--format", "cur"])
    assert refused.exit_code == 2
