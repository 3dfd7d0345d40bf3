"""Security: dependency inventory, Snyk/Dependabot findings, threat intel, compliance, access.

Planted storylines:
- three critical findings first seen this week: two in checkout-service (the Spring one is in
  production and in CISA KEV, reported by both Snyk and Dependabot; the commons-text one is in
  staging) and one in auth-service; every other critical was first seen earlier;
- access: the departed SRE still holds AWS AdministratorAccess; two active admins lack MFA;
- compliance: mostly passing, with six named failing controls whose evidence names the subjects.

Rows follow what the vendors serve back: a Snyk finding set aside is `ignored` (Dependabot's is
`dismissed`); PagerDuty grants carry account roles (owner, admin, user); KEV advisories are
the catalogue's entries (dateAdded at midnight, no EPSS or severity, NVD link); OSV advisories
are keyed "osv:<id>"; every CVE a finding or advisory names has an "epss:<CVE>" advisory as the
FIRST EPSS feed gives it (score, percentile among the served scores, score date = today).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from cto_assistant.demo.generator import catalog
from cto_assistant.demo.generator.common import (
    GITHUB_ORG,
    Ctx,
    Repo,
    Row,
    at,
    stream,
    uuid4,
)

NEW_CRITICAL_SERVICE = "checkout-service"
_GHSA_ALPHABET = "23456789cfghjmpqrvwx"


@dataclass(frozen=True)
class PlantedVuln:
    """One of this week's new critical findings."""

    repo: str
    ecosystem: str
    package: str
    version: str
    fixed: str
    cvss: float
    title: str
    cwe: str
    environment: str
    kev: bool
    epss: float
    maturity: str
    days_ago: float
    scanners: tuple[str, ...]


PLANTED = [
    PlantedVuln(
        "acme/checkout-service",
        "maven",
        "org.springframework:spring-beans",
        "5.3.17",
        "5.3.39",
        9.8,
        "Remote Code Execution via data binding",
        "CWE-94",
        "production",
        True,
        0.943,
        "mature",
        2.2,
        ("snyk", "dependabot"),
    ),
    PlantedVuln(
        "acme/checkout-service",
        "maven",
        "org.apache.commons:commons-text",
        "1.9",
        "1.10.0",
        9.1,
        "Arbitrary Code Execution via string interpolation",
        "CWE-94",
        "staging",
        False,
        0.121,
        "poc",
        4.1,
        ("snyk",),
    ),
    PlantedVuln(
        "acme/auth-service",
        "go",
        "golang.org/x/crypto",
        "0.13.0",
        "0.31.0",
        9.1,
        "Authorization bypass in ssh ServerConfig.PublicKeyCallback",
        "CWE-285",
        "production",
        False,
        0.034,
        "none",
        5.3,
        ("snyk", "dependabot"),
    ),
]

_NOT_OURS = [  # advisories about products Acme does not run
    ("kev", "Ivanti", "Connect Secure", "Authentication bypass in web component"),
    ("kev", "Citrix", "NetScaler ADC", "Buffer overflow leading to remote code execution"),
    ("kev", "Fortinet", "FortiOS", "Out-of-bounds write in SSL VPN"),
    ("kev", "Microsoft", "Exchange Server", "Privilege escalation via NTLM relay"),
    ("kev", "Atlassian", "Confluence Data Center", "Broken access control"),
    ("osv", "npm", "vm2", "Sandbox escape"),
    ("osv", "npm", "xml2js", "Prototype pollution"),
    ("osv", "pypi", "aiohttp", "Directory traversal in static routes"),
    ("osv", "go", "github.com/docker/docker", "Authorization plugin bypass"),
    ("osv", "maven", "org.apache.struts:struts2-core", "File upload path traversal"),
    ("osv", "pypi", "gradio", "Server-side request forgery"),
    ("osv", "npm", "next-auth", "Session fixation"),
]
_KEV_ADDED = {"CVE-2023-44487": "2023-10-10", "CVE-2023-4863": "2023-09-13"}


@dataclass
class Security:
    """All security rows, built once (they are small even in the large world)."""

    dependency: list[Row] = field(default_factory=list)
    vulnerability: list[Row] = field(default_factory=list)
    advisory: list[Row] = field(default_factory=list)
    access_grant: list[Row] = field(default_factory=list)
    control: list[Row] = field(default_factory=list)
    control_evidence: list[Row] = field(default_factory=list)
    new_critical_cves: list[str] = field(default_factory=list)


def security(ctx: Ctx) -> Security:
    """The security rows of the world (memoised)."""
    if "security" not in ctx.cache:
        ctx.cache["security"] = _build(ctx)
    return ctx.cache["security"]


def rows(ctx: Ctx, table: str) -> Iterator[Row]:
    """Rows of one security table."""
    yield from getattr(security(ctx), table)


def _ghsa(cve: str) -> str:
    rng = stream(0, "ghsa", cve)
    return "GHSA-" + "-".join(
        "".join(rng.choice(_GHSA_ALPHABET) for _ in range(4)) for _ in range(3)
    )


def _snyk_id(ecosystem: str, package: str, cve: str) -> str:
    rng = stream(0, "snyk-id", cve, package)
    slug = package.upper().replace(".", "").replace(":", "").replace("/", "").replace("-", "")[:24]
    eco = {"pypi": "PYTHON", "npm": "JS", "maven": "JAVA", "go": "GOLANG"}.get(
        ecosystem, ecosystem.upper()
    )
    return f"SNYK-{eco}-{slug}-{rng.randint(1_000_000, 9_999_999)}"


def _vector(cvss: float) -> str:
    if cvss >= 9:
        return "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    if cvss >= 7:
        return "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    if cvss >= 4:
        return "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:N"
    return "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"


def _severity(cvss: float) -> str:
    return "critical" if cvss >= 9 else "high" if cvss >= 7 else "medium" if cvss >= 4 else "low"


class _Builder:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.out = Security()
        self.dependabot_numbers: dict[str, int] = {}
        self.epss: dict[str, float] = {}  # CVE → score, first seen wins
        self.year = ctx.today.year

    def run(self) -> Security:
        self._dependencies_and_findings()
        self._planted()
        self._advisories()
        self._epss()
        self._access()
        self._controls()
        return self.out

    # ------------------------------------------------------------------ inventory + findings
    def _service_env(self, repo: Repo) -> str | None:
        if repo.service is None:
            return None
        return (
            "production"
            if "production" in self.ctx.org.service(repo.service).environments
            else "staging"
        )

    def _dependencies_and_findings(self) -> None:
        ctx = self.ctx
        known = {(v[0], v[1]): v for v in catalog.KNOWN_VULNS}
        planted = {(p.repo, p.package): p for p in PLANTED}
        for repo in ctx.org.repos:
            rng = stream(ctx.seed, "security", repo.full_name)
            ecosystem = catalog.ECOSYSTEM_BY_LANGUAGE[repo.language]
            packages = catalog.PACKAGES[ecosystem]
            chosen = [
                pkg for pkg in packages if rng.random() < 0.7 or (repo.full_name, pkg[0]) in planted
            ]
            for package, version in chosen:
                vuln = known.get((ecosystem, package))
                plant = planted.get((repo.full_name, package))
                vulnerable = plant is not None or (vuln is not None and rng.random() < 0.55)
                in_use = version if vulnerable or vuln is None else vuln[3]
                self.out.dependency.append(
                    {
                        "source_id": f"{repo.full_name}:{ecosystem}:{package}",
                        "repo": repo.full_name,
                        "ecosystem": ecosystem,
                        "package": package,
                        "version": in_use,
                        "direct": rng.random() < 0.6,
                    }
                )
                if vuln is None:
                    continue
                _, _, bad, fixed, severity, cvss, cve, cwe, title, kev = vuln
                now = ctx.now
                if vulnerable:
                    oldest = 8 if severity == "critical" else 0.5
                    first_seen = now - timedelta(days=rng.uniform(oldest, ctx.delivery_days - 5))
                    fixed_at = None
                    state = "dismissed" if rng.random() < 0.04 else "open"
                else:
                    first_seen = now - timedelta(days=rng.uniform(40, ctx.delivery_days - 5))
                    fixed_at = first_seen + timedelta(days=rng.uniform(2, 30))
                    state = "fixed"
                scanners = ["dependabot"] if repo.index % 4 == 3 else ["snyk"]
                if (
                    scanners == ["snyk"]
                    and ecosystem in ("npm", "pypi", "maven", "go")
                    and rng.random() < 0.5
                ):
                    scanners.append("dependabot")
                drawn = rng.uniform(0.4, 0.97) if kev else rng.uniform(0.0004, 0.15)
                epss = self.epss.setdefault(cve, round(drawn, 4))  # EPSS scores a CVE, once
                maturity = "mature" if kev else rng.choice(["none", "none", "poc"])
                for scanner in scanners:
                    self._finding(
                        rng,
                        scanner,
                        repo,
                        ecosystem,
                        package,
                        bad,
                        fixed,
                        severity,
                        cvss,
                        cve,
                        cwe,
                        title,
                        kev,
                        epss,
                        maturity,
                        first_seen,
                        fixed_at,
                        state,
                    )

    def _finding(
        self,
        rng: random.Random,
        scanner: str,
        repo: Repo,
        ecosystem: str,
        package: str,
        version: str,
        fixed: str,
        severity: str,
        cvss: float,
        cve: str,
        cwe: str,
        title: str,
        kev: bool,
        epss: float,
        maturity: str,
        first_seen: datetime,
        fixed_at: datetime | None,
        state: str,
    ) -> None:
        if scanner == "snyk":
            source_id = uuid4(rng)
            external = _snyk_id(ecosystem, package, cve)
            url = f"https://app.snyk.io/org/acme/project/{repo.github_id}#issue-{external}"
            seen = first_seen
        else:
            number = self.dependabot_numbers.get(repo.full_name, 0) + 1
            self.dependabot_numbers[repo.full_name] = number
            source_id = f"{repo.full_name}/dependabot/{number}"
            external = _ghsa(cve)
            url = f"https://github.com/{repo.full_name}/security/dependabot/{number}"
            seen = first_seen + timedelta(hours=rng.uniform(0.5, 20))
            if seen > self.ctx.now:
                seen = first_seen
        if scanner == "snyk" and state == "dismissed":
            state = "ignored"  # Snyk's word for a finding set aside
        self.out.vulnerability.append(
            {
                "source_id": source_id,
                "scanner": scanner,
                "external_id": external,
                "title": f"{title} in {package}",
                "repo": repo.full_name,
                "service": repo.service,
                "environment": self._service_env(repo),
                "ecosystem": ecosystem,
                "package": package,
                "version": version,
                "fixed_version": fixed,
                "severity": severity,
                "cvss": cvss,
                "cvss_vector": _vector(cvss),
                "cve_ids": [cve],
                "cwe_ids": [cwe],
                "epss": round(epss, 4),
                "in_kev": kev,
                "exploit_maturity": maturity if scanner == "snyk" else None,
                "fixable": True,
                "first_seen": seen,
                "fixed_at": fixed_at,
                "state": state,
                "url": url,
            }
        )

    def _planted(self) -> None:
        ctx = self.ctx
        for index, plant in enumerate(PLANTED):
            rng = stream(ctx.seed, "planted-vuln", index)
            cve = f"CVE-{self.year}-{rng.randint(20000, 59999)}"
            self.out.new_critical_cves.append(cve)
            repo = next(r for r in ctx.org.repos if r.full_name == plant.repo)
            first_seen = ctx.now - timedelta(days=plant.days_ago)
            for scanner in plant.scanners:
                self._finding(
                    rng,
                    scanner,
                    repo,
                    plant.ecosystem,
                    plant.package,
                    plant.version,
                    plant.fixed,
                    "critical",
                    plant.cvss,
                    cve,
                    plant.cwe,
                    plant.title,
                    plant.kev,
                    plant.epss,
                    plant.maturity,
                    first_seen,
                    None,
                    "open",
                )
                self.out.vulnerability[-1]["environment"] = plant.environment
            published = first_seen - timedelta(hours=rng.uniform(6, 30))
            self._advisory(
                "osv",
                _ghsa(cve),
                cve,
                f"{plant.title} in {plant.package}",
                published,
                [
                    {
                        "ecosystem": plant.ecosystem,
                        "package": plant.package,
                        "ranges": [{"introduced": "0", "fixed": plant.fixed}],
                    }
                ],
                None,
                None,
                plant.kev,
                plant.epss,
                "critical",
            )
            if plant.kev:
                vendor, product = "VMware", "Spring Framework"
                self._advisory(
                    "kev",
                    f"kev:{cve}",
                    cve,
                    f"{vendor} {product} {plant.title}",
                    published + timedelta(hours=20),
                    [],
                    vendor,
                    product,
                    True,
                    plant.epss,
                    "critical",
                )

    def _advisory(
        self,
        feed: str,
        source_id: str,
        cve: str,
        title: str,
        published: datetime,
        affected: list[dict[str, object]],
        vendor: str | None,
        product: str | None,
        kev: bool,
        epss: float | None,
        severity: str | None,
    ) -> None:
        published = min(published, self.ctx.now - timedelta(hours=1))
        if epss is not None:
            self.epss.setdefault(cve, round(epss, 4))
        if feed == "kev":  # the catalogue has a date added, no EPSS, no severity
            self.out.advisory.append(
                {
                    "source_id": source_id,
                    "feed": feed,
                    "title": title,
                    "summary": f"{title}. {cve}. (Acme Cloud demo data)",
                    "published": datetime.combine(published.date(), time(0), tzinfo=UTC),
                    "modified": None,
                    "cve_ids": [cve],
                    "affected": affected,
                    "vendor_project": vendor,
                    "product": product,
                    "kev": True,
                    "epss": None,
                    "severity": None,
                    "url": f"https://nvd.nist.gov/vuln/detail/{cve}",
                }
            )
            return
        osv_id = source_id.removeprefix("osv:")
        # One OSV record per advisory id, listing every affected package (as OSV serves it).
        base = re.match(r"GHSA(-[0-9a-z]{4}){3}", osv_id)
        osv_id = base.group(0) if base else osv_id
        for existing in self.out.advisory:
            if existing["source_id"] == f"osv:{osv_id}":
                existing["affected"] = [*existing["affected"], *affected]
                return
        self.out.advisory.append(
            {
                "source_id": f"osv:{osv_id}",
                "feed": feed,
                "title": title,
                "summary": f"{title}. {cve}. (Acme Cloud demo data)",
                "published": published,
                "modified": published + timedelta(hours=6),
                "cve_ids": [cve],
                "affected": affected,
                "vendor_project": vendor,
                "product": product,
                "kev": kev,
                "epss": None,
                "severity": severity,
                "url": f"https://osv.dev/vulnerability/{osv_id}",
            }
        )

    def _epss(self) -> None:
        """One "epss:<CVE>" advisory per scored CVE, as the EPSS feed and its connector give it."""
        for vuln in self.out.vulnerability:
            if vuln["epss"] is not None:
                for cve in vuln["cve_ids"]:
                    self.epss.setdefault(cve, vuln["epss"])
        ranked = sorted(self.epss.values())
        day = self.ctx.today
        published = datetime.combine(day, time(0), tzinfo=UTC)
        for cve, score in sorted(self.epss.items()):
            percentile = sum(1 for x in ranked if x <= score) / len(ranked)
            self.out.advisory.append(
                {
                    "source_id": f"epss:{cve}",
                    "feed": "epss",
                    "title": f"EPSS {cve}",
                    "summary": f"EPSS {score:.5f} (percentile {percentile:.5f}) on {day}",
                    "published": published,
                    "modified": published,
                    "cve_ids": [cve],
                    "affected": [],
                    "vendor_project": None,
                    "product": None,
                    "kev": False,
                    "epss": score,
                    "severity": None,
                    "url": f"https://api.first.org/data/v1/epss?cve={cve}",
                }
            )

    def _advisories(self) -> None:
        ctx = self.ctx
        rng = stream(ctx.seed, "advisories")
        seen: list[str] = []
        for (
            ecosystem,
            package,
            _bad,
            fixed,
            severity,
            _cvss,
            cve,
            _cwe,
            title,
            kev,
        ) in catalog.KNOWN_VULNS:
            published = ctx.now - timedelta(days=rng.uniform(60, 400))
            source_id = _ghsa(cve) + ("" if cve not in seen else f"-{package}")
            seen.append(cve)
            self._advisory(
                "osv",
                source_id,
                cve,
                f"{title} in {package}",
                published,
                [
                    {
                        "ecosystem": ecosystem,
                        "package": package,
                        "ranges": [{"introduced": "0", "fixed": fixed}],
                    }
                ],
                None,
                None,
                kev,
                None,
                severity,
            )
            if kev and f"kev:{cve}" not in [a["source_id"] for a in self.out.advisory]:
                added = datetime.fromisoformat(
                    _KEV_ADDED.get(cve, "2023-10-01") + "T00:00:00+00:00"
                )
                self._advisory(
                    "kev",
                    f"kev:{cve}",
                    cve,
                    title,
                    added,
                    [],
                    package,
                    package,
                    True,
                    None,
                    severity,
                )
        for index, (feed, vendor, product, title) in enumerate(_NOT_OURS):
            cve = f"CVE-{self.year if index % 2 else self.year - 1}-{rng.randint(10000, 69999)}"
            published = ctx.now - timedelta(
                days=rng.uniform(1, 45) if index % 3 else rng.uniform(60, 300)
            )
            if feed == "kev":
                self._advisory(
                    "kev",
                    f"kev:{cve}",
                    cve,
                    f"{vendor} {product} {title}",
                    published,
                    [],
                    vendor,
                    product,
                    True,
                    rng.uniform(0.3, 0.97),
                    "critical",
                )
            else:
                self._advisory(
                    "osv",
                    _ghsa(cve),
                    cve,
                    f"{title} in {product}",
                    published,
                    [
                        {
                            "ecosystem": vendor,
                            "package": product,
                            "ranges": [{"introduced": "0", "fixed": "99.0.0"}],
                        }
                    ],
                    None,
                    None,
                    False,
                    rng.uniform(0.001, 0.2),
                    rng.choice(["high", "medium", "critical"]),
                )

    # ------------------------------------------------------------------ access
    def _access(self) -> None:
        ctx = self.ctx
        org = ctx.org
        rng = stream(ctx.seed, "access")
        now = ctx.now
        prod_account = "210987654321"

        def grant(
            system: str,
            principal: str,
            kind: str,
            email: str | None,
            role: str,
            privileged: bool,
            mfa: bool | None,
            last_used: datetime | None,
            granted: datetime | None,
            key_created: datetime | None = None,
        ) -> None:
            self.out.access_grant.append(
                {
                    # GitHub members are keyed per organisation, as the connector keys them
                    "source_id": f"{GITHUB_ORG if system == 'github' else system}:{principal}",
                    "system": system,
                    "principal": principal,
                    "principal_type": kind,
                    "person_email": email,
                    "role": role,
                    "privileged": privileged,
                    "mfa": mfa,
                    "last_used_at": last_used,
                    "granted_at": granted,
                    "key_created_at": key_created,
                }
            )

        no_mfa_aws, no_mfa_github = org.admins_without_mfa
        for person in org.people:
            granted = at(person.started_at, 10)
            recent = now - timedelta(hours=rng.uniform(1, 96))
            if person.email == org.departed_admin:
                assert person.left_at is not None
                handle = person.email.split("@")[0]
                grant(
                    "aws",
                    f"arn:aws:iam::{prod_account}:user/{handle}",
                    "user",
                    person.email,
                    "AdministratorAccess",
                    True,
                    True,
                    at(person.left_at, 0) - timedelta(days=3),
                    granted,
                    key_created=now - timedelta(days=540),
                )
                continue
            if not person.active:
                continue
            lead = person.role in (
                "Engineering Manager",
                "Chief Technology Officer",
                "VP Engineering",
                "Head of Security",
            )
            github_admin = (
                lead and person.team_key in ("PLAT", "SRE", None)
            ) or person.email == no_mfa_github
            grant(
                "github",
                person.github_login,
                "user",
                person.email,
                "admin" if github_admin else "member",
                github_admin,
                person.email != no_mfa_github,
                recent,
                granted,
            )
            if person.email == no_mfa_aws:
                handle = person.email.split("@")[0]
                grant(
                    "aws",
                    f"arn:aws:iam::{prod_account}:user/{handle}",
                    "user",
                    person.email,
                    "AdministratorAccess",
                    True,
                    False,
                    recent,
                    granted,
                    key_created=now - timedelta(days=200),
                )
            else:
                team = person.team_key
                aws_role = (
                    "AdministratorAccess"
                    if team == "SRE" or person.role == "Chief Technology Officer"
                    else "PowerUserAccess"
                    if team in ("PLAT", "DATA")
                    else "ReadOnlyAccess"
                )
                grant(
                    "aws",
                    f"sso:{person.email}",
                    "user",
                    person.email,
                    aws_role,
                    aws_role == "AdministratorAccess",
                    True,
                    recent,
                    granted,
                )
            if (
                person.team_key == "SRE"
                and person.role == "Site Reliability Engineer"
                and sum(
                    1
                    for g in self.out.access_grant
                    if g["system"] == "postgres:prod" and g["privileged"]
                )
                < 2
            ):
                grant(
                    "postgres:prod",
                    person.email.split("@")[0],
                    "user",
                    person.email,
                    "rds_superuser",
                    True,
                    None,
                    recent,
                    granted,
                )
            elif person.team_key == "DATA":
                grant(
                    "postgres:prod",
                    person.email.split("@")[0],
                    "user",
                    person.email,
                    "readonly",
                    False,
                    None,
                    recent,
                    granted,
                )
            dd_admin = lead and person.team_key in ("SRE", "PLAT")
            grant(
                "datadog",
                person.email,
                "user",
                person.email,
                "Datadog Admin Role" if dd_admin else "Datadog Standard Role",
                dd_admin,
                True,
                recent,
                granted,
            )
            # PagerDuty account roles (team roles such as manager/responder are not account
            # roles); the users API carries neither MFA nor last use nor a grant date.
            pd_role = (
                "owner"
                if person.role == "Chief Technology Officer"
                else "admin"
                if lead and person.team_key == "SRE"
                else "user"
            )
            grant(
                "pagerduty",
                person.pagerduty_id,
                "user",
                person.email,
                pd_role,
                pd_role in ("admin", "owner"),
                None,
                None,
                None,
            )
        # machine identities: privileged, but no MFA applies to them
        grant(
            "aws",
            f"arn:aws:iam::{prod_account}:user/ci-deployer",
            "service",
            None,
            "AdministratorAccess",
            True,
            None,
            now - timedelta(hours=2),
            now - timedelta(days=900),
            key_created=now - timedelta(days=430),
        )
        grant(
            "aws",
            f"arn:aws:iam::{prod_account}:role/terraform-apply",
            "role",
            None,
            "AdministratorAccess",
            True,
            None,
            now - timedelta(days=1),
            now - timedelta(days=700),
        )
        for service in org.services:
            if service.tier == 1:
                grant(
                    "postgres:prod",
                    f"svc_{service.name.replace('-', '_')}",
                    "service",
                    None,
                    "app_rw",
                    False,
                    None,
                    now - timedelta(minutes=5),
                    now - timedelta(days=600),
                )

    # ------------------------------------------------------------------ compliance
    def _controls(self) -> None:
        ctx = self.ctx
        now = ctx.now
        collected = now - timedelta(hours=1)
        grants = self.out.access_grant
        people = {p.email: p for p in ctx.org.people}
        human_admins = [
            g
            for g in grants
            if g["privileged"] and g["principal_type"] == "user" and g["mfa"] is not None
        ]
        leavers = [p for p in ctx.org.people if not p.active]
        open_crit = [
            v
            for v in self.out.vulnerability
            if v["severity"] == "critical" and v["state"] == "open"
        ]
        subjects: dict[str, list[tuple[str, bool, dict[str, object]]]] = {
            "mfa_for_admins": [
                (
                    f"{g['system']}:{g['principal']}",
                    bool(g["mfa"]),
                    {"person": g["person_email"], "role": g["role"], "mfa": g["mfa"]},
                )
                for g in human_admins
            ],
            "offboarding_revokes_access": [
                (
                    p.email,
                    not any(g["person_email"] == p.email for g in grants),
                    {
                        "left_at": p.left_at.isoformat() if p.left_at else None,
                        "remaining_grants": [
                            g["source_id"] for g in grants if g["person_email"] == p.email
                        ],
                    },
                )
                for p in leavers
            ],
            "branch_protection_on_repos": [
                (
                    r.full_name,
                    r.branch_protected,
                    {"default_branch": "main", "required_reviews": r.required_reviews},
                )
                for r in ctx.org.repos
            ],
            "critical_vulns_remediated": [
                (
                    f"{v['repo']}:{v['package']}:{v['cve_ids'][0]}",
                    not (v["in_kev"] and v["environment"] == "production")
                    and (now - v["first_seen"]) < timedelta(days=15),
                    {
                        "scanner": v["scanner"],
                        "in_kev": v["in_kev"],
                        "environment": v["environment"],
                        "first_seen": v["first_seen"].isoformat(),
                    },
                )
                for v in open_crit
            ],
        }
        del people
        controls = [
            ("soc2", "CC6.1", "Logical access: MFA for privileged users", "mfa_for_admins"),
            (
                "soc2",
                "CC6.2",
                "User registration and de-provisioning",
                "offboarding_revokes_access",
            ),
            ("soc2", "CC6.3", "Role-based access and least privilege", "privileged_access_review"),
            (
                "soc2",
                "CC6.6",
                "Boundary protection for internet-facing services",
                "waf_on_internet_facing",
            ),
            ("soc2", "CC6.7", "Encryption in transit", "tls_everywhere"),
            ("soc2", "CC7.1", "Vulnerability detection", "scanners_cover_repos"),
            ("soc2", "CC7.2", "Security event monitoring", "monitors_on_tier1"),
            ("soc2", "CC7.3", "Incident response", "incident_runbooks"),
            ("soc2", "CC7.4", "Incident recovery and postmortems", "postmortems_for_sev1_sev2"),
            (
                "soc2",
                "CC8.1",
                "Change management: reviewed changes only",
                "branch_protection_on_repos",
            ),
            ("soc2", "CC9.1", "Risk mitigation: backups", "backups_enabled"),
            ("soc2", "A1.2", "Availability: recovery tested", "restore_test_quarterly"),
            ("soc2", "CC2.1", "Audit logging", "cloudtrail_enabled"),
            ("soc2", "CC3.2", "Risk assessment", "risk_register_reviewed"),
            ("iso27001", "A.5.15", "Access control", "access_policy_published"),
            ("iso27001", "A.5.18", "Access rights", "offboarding_revokes_access"),
            (
                "iso27001",
                "A.5.23",
                "Information security for cloud services",
                "cloud_config_baseline",
            ),
            ("iso27001", "A.5.24", "Incident management planning", "incident_runbooks"),
            (
                "iso27001",
                "A.5.30",
                "ICT readiness for business continuity",
                "restore_test_quarterly",
            ),
            ("iso27001", "A.8.2", "Privileged access rights", "privileged_access_review"),
            ("iso27001", "A.8.5", "Secure authentication", "mfa_for_admins"),
            (
                "iso27001",
                "A.8.8",
                "Management of technical vulnerabilities",
                "critical_vulns_remediated",
            ),
            ("iso27001", "A.8.9", "Configuration management", "cloud_config_baseline"),
            ("iso27001", "A.8.13", "Information backup", "backups_enabled"),
            ("iso27001", "A.8.15", "Logging", "cloudtrail_enabled"),
            ("iso27001", "A.8.16", "Monitoring activities", "monitors_on_tier1"),
            ("iso27001", "A.8.24", "Use of cryptography", "tls_everywhere"),
            ("iso27001", "A.8.32", "Change management", "deploys_via_pipeline"),
        ]
        for framework, control_id, title, check in controls:
            found = subjects.get(check, [("acme", True, {"checked_by": "cto-assistant demo"})])
            # one verdict per subject (a finding reported by two scanners is one subject)
            checks = list(
                {subject: (subject, ok, detail) for subject, ok, detail in reversed(found)}.values()
            )[::-1]
            failing = [s for s in checks if not s[1]]
            self.out.control.append(
                {
                    "source_id": f"{framework}:{control_id}",
                    "framework": framework,
                    "control_id": control_id,
                    "title": title,
                    "description": f"{title} ({check.replace('_', ' ')})",
                    "check": check,
                    "status": "failing" if failing else "passing",
                    "evaluated_at": collected,
                }
            )
            for subject, ok, detail in checks:
                self.out.control_evidence.append(
                    {
                        "source_id": f"{framework}:{control_id}:{check}:{subject}:{collected.date().isoformat()}",
                        "framework": framework,
                        "control_id": control_id,
                        "check": check,
                        "subject": subject,
                        "status": "pass" if ok else "fail",
                        "evidence": detail,
                        "collected_at": collected,
                    }
                )
            for week in range(1, 9):  # the weekly summary history
                moment = collected - timedelta(days=7 * week)
                self.out.control_evidence.append(
                    {
                        "source_id": f"{framework}:{control_id}:{check}:summary:{moment.date().isoformat()}",
                        "framework": framework,
                        "control_id": control_id,
                        "check": check,
                        "subject": None,
                        "status": "fail" if failing and week <= 4 else "pass",
                        "evidence": {
                            "checked": len(checks),
                            "failing": len(failing) if week <= 4 else 0,
                        },
                        "collected_at": moment,
                    }
                )


def _build(ctx: Ctx) -> Security:
    return _Builder(ctx).run()
