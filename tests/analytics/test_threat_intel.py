"""Threat intel: version comparison per ecosystem, range matching, explained stack matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.analytics.threat_intel import (
    AdvisoryRecord,
    InstalledPackage,
    StackInventory,
    compare_versions,
    in_range_string,
    match_advisories,
    normalize_ecosystem,
    version_affected,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ecosystem", "a", "b", "expected"),
    [
        # PEP 440
        ("pypi", "2.31.0", "2.31", 0),
        ("PyPI", "1.0rc1", "1.0", -1),
        ("pip", "1.0.post1", "1.0", 1),
        ("pypi", "2.0.0.dev1", "2.0.0a1", -1),
        ("pypi", "1!0.1", "2.0", 1),  # epoch
        # semantic versioning (npm, Go)
        ("npm", "4.17.20", "4.17.21", -1),
        ("npm", "1.0.0-alpha", "1.0.0", -1),
        ("npm", "1.0.0-alpha.1", "1.0.0-alpha.beta", -1),  # numeric identifiers first
        ("npm", "1.0.0-rc.1", "1.0.0-rc.10", -1),
        ("npm", "1.0.0+build.5", "1.0.0", 0),  # build metadata ignored
        ("go", "v0.13.0", "0.31.0", -1),
        ("go", "v0.0.0-20230101000000-abcdef", "v0.0.1", -1),  # pseudo-version is a pre-release
        ("Go", "v1.2", "1.2.0", 0),
        # Maven-like
        ("maven", "5.3.17", "5.3.39", -1),
        ("maven", "4.1.94.Final", "4.1.100.Final", -1),
        ("maven", "2.17.1", "2.17.1.Final", 0),
        ("maven", "1.0-SNAPSHOT", "1.0", -1),
        ("maven", "1.0-rc1", "1.0", -1),
        ("maven", "1.0-beta", "1.0-rc", -1),
        ("maven", "1.0", "1.0-sp1", -1),
        ("maven", "1.0.0", "1", 0),  # trailing zeros do not count
        ("maven", "31.1-jre", "32.0.0-jre", -1),
        ("maven", "1.10.0", "1.9", 1),
    ],
)
def test_version_comparison_table(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b, ecosystem) == expected
    assert compare_versions(b, a, ecosystem) == -expected


def test_unreadable_versions_are_not_guessed() -> None:
    assert compare_versions("latest", "1.0", "maven") is None
    assert compare_versions("< 2.0", "1.0", "npm") is None


@pytest.mark.parametrize(
    ("version", "ecosystem", "affected", "expected"),
    [
        # flat ranges (our demo world and hand-written feeds)
        ("5.3.17", "maven", {"ranges": [{"introduced": "0", "fixed": "5.3.39"}]}, True),
        ("5.3.39", "maven", {"ranges": [{"introduced": "0", "fixed": "5.3.39"}]}, False),
        ("1.0", "maven", {"ranges": [{"introduced": "1.2", "fixed": "1.5"}]}, False),
        ("2.0", "pypi", {"ranges": [{"introduced": "1.0", "last_affected": "2.0"}]}, True),
        ("2.0.1", "pypi", {"ranges": [{"introduced": "1.0", "last_affected": "2.0"}]}, False),
        # OSV events, two intervals (two release lines)
        (
            "2.13.0",
            "maven",
            {
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "2.0"},
                            {"fixed": "2.12.2"},
                            {"introduced": "2.13.0"},
                            {"fixed": "2.15.0"},
                        ],
                    }
                ]
            },
            True,
        ),
        (
            "2.12.3",
            "maven",
            {
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "2.0"},
                            {"fixed": "2.12.2"},
                            {"introduced": "2.13.0"},
                            {"fixed": "2.15.0"},
                        ],
                    }
                ]
            },
            False,
        ),
        (
            "0.9",
            "maven",
            {
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.12.2"}]}
                ]
            },
            False,
        ),
        (
            "1.2.3",
            "npm",
            {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "2.0.0"}]}]},
            True,
        ),
        # explicit version list
        ("1.4.0", "npm", {"versions": ["1.3.0", "1.4.0"]}, True),
        ("1.5.0", "npm", {"versions": ["1.3.0", "1.4.0"]}, False),
        # connector shape: fixed list only (no introduced)
        ("2.13.0", "maven", {"fixed": ["2.12.2", "2.15.0"]}, True),
        ("2.12.4", "maven", {"fixed": ["2.12.2", "2.15.0"]}, False),  # fixed on its own line
        ("2.16.0", "maven", {"fixed": ["2.12.2", "2.15.0"]}, False),
        # GHSA range strings
        ("2.14.0", "maven", {"vulnerable_version_range": ">= 2.0.0, < 2.17.1"}, True),
        ("2.17.1", "maven", {"vulnerable_version_range": ">= 2.0.0, < 2.17.1"}, False),
        ("1.2.3", "npm", {"range": "= 1.2.3"}, True),
        # cannot tell
        ("latest", "npm", {"ranges": [{"introduced": "0", "fixed": "1.0.0"}]}, None),
        (None, "npm", {"ranges": [{"introduced": "0", "fixed": "1.0.0"}]}, None),
    ],
)
def test_version_range_matching_table(
    version: str | None, ecosystem: str, affected: dict[str, object], expected: bool | None
) -> None:
    assert version_affected(version, ecosystem, affected) is expected


def test_range_strings_with_alternatives() -> None:
    assert in_range_string("1.5.0", "npm", "< 1.0.0 || >= 1.5.0, < 1.6.0") is True
    assert in_range_string("1.2.0", "npm", "< 1.0.0 || >= 1.5.0, < 1.6.0") is False
    assert in_range_string("1.2.0", "npm", "^1.0.0") is None


def test_ecosystem_names_are_normalised() -> None:
    assert [
        normalize_ecosystem(n) for n in ("PyPI", "pip", "Maven", "Go", "golang", "crates.io")
    ] == [
        "pypi",
        "pypi",
        "maven",
        "go",
        "go",
        "cargo",
    ]


def advisory(**kw: object) -> AdvisoryRecord:
    base: dict[str, object] = {
        "source_id": "GHSA-1",
        "feed": "osv",
        "published": NOW - timedelta(days=2),
    }
    base.update(kw)
    return AdvisoryRecord(**base)  # type: ignore[arg-type]


STACK = StackInventory(
    packages=[
        InstalledPackage("acme/checkout", "maven", "org.springframework:spring-beans", "5.3.17"),
        InstalledPackage("acme/payments", "maven", "org.springframework:spring-beans", "5.3.17"),
        InstalledPackage("acme/ledger", "maven", "org.springframework:spring-beans", "5.3.40"),
        InstalledPackage("acme/web", "npm", "lodash", "4.17.20"),
        InstalledPackage("acme/etl", "pypi", "PyYAML", "6.0"),
    ],
    languages={"java": ("acme/checkout", "acme/payments"), "python": ("acme/etl",)},
    cloud_services=("Amazon Simple Storage Service",),
    findings={"CVE-2026-1111": (("acme/checkout", "org.springframework:spring-beans", "5.3.17"),)},
)


def test_matches_are_explained_with_package_version_and_repos() -> None:
    osv = advisory(
        source_id="GHSA-spring",
        cve_ids=("CVE-2026-1111",),
        severity="critical",
        affected=(
            {
                "ecosystem": "Maven",
                "package": "org.springframework:spring-beans",
                "ranges": [{"introduced": "0", "fixed": "5.3.39"}],
            },
        ),
    )
    kev = advisory(
        source_id="kev:CVE-2026-1111",
        feed="kev",
        kev=True,
        cve_ids=("CVE-2026-1111",),
        vendor_project="VMware",
        product="Spring Framework",
        published=NOW - timedelta(days=1),
    )
    report = match_advisories([osv, kev], inventory=STACK, now=NOW, days=30)
    assert (report.n_advisories, report.n_threats, report.n_kev_additions) == (2, 1, 1)
    (item,) = report.items
    assert item.kev and item.confirmed and item.feeds == ["kev", "osv"]
    assert item.repos == ["acme/checkout", "acme/payments"]  # 5.3.40 in acme/ledger is fixed
    assert item.matches[0].explanation == (
        "org.springframework:spring-beans@5.3.17 in acme/checkout, acme/payments is in the affected range"
    )
    assert item.fixed_versions == ["5.3.39"]
    assert report.summary.startswith(
        "1 of 1 threats published in the last 30 days (2 advisories, 1 KEV additions)"
    )
    assert (
        "CVE-2026-1111, exploited in the wild (CISA KEV) affects org.springframework:spring-beans@5.3.17"
        in report.summary
    )
    assert "fix: upgrade to 5.3.39" in report.summary


def test_pep503_names_and_possible_matches() -> None:
    yaml = advisory(
        source_id="GHSA-yaml",
        affected=(
            {
                "ecosystem": "PyPI",
                "package": "pyyaml",
                "ranges": [{"introduced": "0", "fixed": "6.0.1"}],
            },
        ),
    )
    odd = StackInventory(packages=[InstalledPackage("acme/x", "npm", "lodash", "git+ssh://x")])
    lodash = advisory(
        source_id="GHSA-lodash",
        affected=(
            {
                "ecosystem": "npm",
                "package": "lodash",
                "ranges": [{"introduced": "0", "fixed": "4.17.21"}],
            },
        ),
    )
    assert match_advisories([yaml], inventory=STACK, now=NOW).items[0].repos == ["acme/etl"]
    (item,) = match_advisories([lodash], inventory=odd, now=NOW).items
    assert not item.confirmed and "could not be compared" in item.matches[0].explanation


def test_a_kev_product_can_match_a_package_or_cloud_service_as_possible() -> None:
    kev = advisory(
        source_id="kev:CVE-2026-2",
        feed="kev",
        kev=True,
        cve_ids=("CVE-2026-2",),
        product="Spring Framework",
    )
    (item,) = match_advisories(
        [kev], inventory=StackInventory(packages=STACK.packages), now=NOW
    ).items
    assert item.matches[0].kind == "product" and item.matches[0].confidence == "possible"
    s3 = advisory(
        source_id="kev:CVE-2026-3",
        feed="kev",
        kev=True,
        cve_ids=("CVE-2026-3",),
        product="Simple Storage Service",
    )
    assert (
        match_advisories([s3], inventory=STACK, now=NOW).items[0].matches[0].package
        == "Amazon Simple Storage Service"
    )


def test_what_we_do_not_run_and_what_is_out_of_window_is_left_out() -> None:
    ivanti = advisory(
        source_id="kev:CVE-2026-9",
        feed="kev",
        kev=True,
        cve_ids=("CVE-2026-9",),
        vendor_project="Ivanti",
        product="Connect Secure",
    )
    vm2 = advisory(
        source_id="GHSA-vm2",
        affected=(
            {
                "ecosystem": "npm",
                "package": "vm2",
                "ranges": [{"introduced": "0", "fixed": "3.9.19"}],
            },
        ),
    )
    old = advisory(
        source_id="GHSA-old",
        published=NOW - timedelta(days=40),
        affected=(
            {
                "ecosystem": "npm",
                "package": "lodash",
                "ranges": [{"introduced": "0", "fixed": "4.17.21"}],
            },
        ),
    )
    epss = advisory(source_id="epss:CVE-1", feed="epss", cve_ids=("CVE-2026-1111",))
    report = match_advisories([ivanti, vm2, old, epss], inventory=STACK, now=NOW, days=30)
    assert report.items == [] and report.not_ours == 2 and report.n_advisories == 2
    assert report.summary.endswith("Nothing in the feeds matches what we run.")
    assert (
        match_advisories([], inventory=STACK, now=NOW).summary
        == "No advisories were published in the last 30 days."
    )
