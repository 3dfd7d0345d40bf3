"""The threat-intel simulator serves the real KEV and OSV shapes (their JSON schemas) and EPSS's CSV."""

from __future__ import annotations

import gzip
import json

import jsonschema
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.threat_intel import make_app
from tests.conftest import vendor_spec
from tests.connectors.threat_intel.test_threat_intel_connector import intel_world


def test_kev_feed_validates_against_the_catalogue_schema_and_honours_etags() -> None:
    client = TestClient(make_app(intel_world()))
    schema = json.loads(
        vendor_spec(
            "threat_intel", "cisa_kev", "known_exploited_vulnerabilities_schema.json"
        ).read_text()
    )
    response = client.get("/kev/known_exploited_vulnerabilities.json")
    body = response.json()
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
    assert body["count"] == 4 and body["vulnerabilities"][0]["cveID"] == "CVE-2025-1003"
    again = client.get(
        "/kev/known_exploited_vulnerabilities.json",
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304


def test_osv_answers_validate_against_the_osv_schema() -> None:
    client = TestClient(make_app(intel_world()))
    schema = json.loads(vendor_spec("threat_intel", "osv", "schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    batch = client.post(
        "/v1/querybatch",
        json={
            "queries": [
                {"package": {"ecosystem": "npm", "name": "lib0"}, "version": "1.0.1"},
                {"package": {"ecosystem": "npm", "name": "left-pad"}, "version": "1.3.0"},
                {"package": {"ecosystem": "npm", "name": "lib1"}, "version": "9.9.9"},
            ]
        },
    ).json()
    assert [len(r.get("vulns", [])) for r in batch["results"]] == [2, 0, 0]
    for vuln in batch["results"][0]["vulns"]:
        record = client.get(f"/v1/vulns/{vuln['id']}").json()
        validator.validate(record)
        assert record["modified"] == vuln["modified"]
    full = client.post(
        "/v1/query", json={"package": {"ecosystem": "npm", "name": "lib1"}, "version": "1.0.0"}
    ).json()
    for record in full["vulns"]:
        validator.validate(record)
    assert client.get("/v1/vulns/GHSA-none").status_code == 404


def test_epss_csv_has_the_first_shape() -> None:
    client = TestClient(make_app(intel_world()))
    lines = (
        gzip.decompress(client.get("/epss/epss_scores-current.csv.gz").content)
        .decode()
        .splitlines()
    )
    assert lines[0] == "#model_version:v2025.03.14,score_date:2026-01-15T00:00:00+0000"
    assert lines[1] == "cve,epss,percentile"
    assert lines[2].startswith("CVE-2025-2000,0.92000,")
