"""SonarQube Web API simulator: the world's quality snapshots as projects, measures and history.

Serves, in the shapes of SonarSource's own response examples (../shared/vendor-specs/sonarqube/
official_ws_examples and the search/search_history examples of the web API docs):

- `GET /api/projects/search` — `p`/`ps` paging (`paging.pageIndex/pageSize/total`), `projects`
  (comma-separated keys), `qualifiers`; each component has `lastAnalysisDate`.
- `GET /api/measures/component?component=&metricKeys=` — the latest analysis' measures.
- `GET /api/qualitygates/project_status?projectKey=` — the latest analysis' gate status.
- `GET /api/measures/search_history?component=&metrics=&from=&to=&p=&ps=` — one history point
  per analysis, oldest first; paging applies to the points of each metric (`paging.total` =
  number of analyses), as SonarQube does. The gate status is the `alert_status` metric.

Every world `quality_snapshot` row is one analysis of project `project_key` (or the repo with
'/' → ':'); dates are served to the second with a `+0000` offset, values as strings.

Demo credentials: the token `sonarqube-demo-token`, as `Authorization: Bearer …` or as the
basic-auth user with an empty password.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import (
    basic_credentials,
    bearer_token,
    new_simulator,
    require,
    same,
)
from cto_assistant.demo.world import Row, World

DEMO_TOKEN = "sonarqube-demo-token"  # noqa: S105 - documented demo credential
COLUMNS = {
    "coverage": "coverage",
    "sqale_index": "tech_debt_minutes",
    "code_smells": "code_smells",
    "bugs": "bugs",
    "vulnerabilities": "vulnerabilities",
    "duplicated_lines_density": "duplicated_lines_density",
    "ncloc": "ncloc",
    "alert_status": "quality_gate",
}
INT_METRICS = {"sqale_index", "code_smells", "bugs", "vulnerabilities", "ncloc"}


def sonar_time(moment: datetime) -> str:
    """A SonarQube timestamp: seconds, numeric offset without colon."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def metric_text(metric: str, value: Any) -> str | None:
    """A measure value as SonarQube writes it (integers without a fraction)."""
    if value is None:
        return None
    if metric == "alert_status":
        return str(value)
    number = float(value)
    if metric in INT_METRICS and number.is_integer():
        return str(int(number))
    return repr(number) if not number.is_integer() else f"{number:.1f}"


def project_key_of(row: Row) -> str:
    """The SonarQube project key a snapshot row belongs to."""
    return str(row.get("project_key") or str(row["repo"]).replace("/", ":", 1))


class SonarQubeIndex:
    """The world's analyses per project, oldest first, built once."""

    def __init__(self, world: World) -> None:
        self.analyses: dict[str, list[tuple[datetime, Row]]] = defaultdict(list)
        self.names: dict[str, str] = {}
        for row in world.rows("quality_snapshot"):
            at = parse_time(row.get("at"))
            if at is None:
                continue
            key = project_key_of(row)
            self.analyses[key].append((at.replace(microsecond=0), row))
            self.names[key] = str(row.get("repo") or key).rsplit("/", 1)[-1]
        for history in self.analyses.values():
            history.sort(key=lambda pair: pair[0])

    def latest(self, key: str) -> tuple[datetime, Row]:
        """The project's last analysis (404 for an unknown project)."""
        history = self.analyses.get(key)
        if not history:
            raise HTTPException(
                status_code=404,
                detail={"errors": [{"msg": f"Component key '{key}' not found"}]},
            )
        return history[-1]


def _paging(request: Request, default_size: int = 100, max_size: int = 500) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("p", 1))
        size = int(request.query_params.get("ps", default_size))
    except ValueError:
        raise HTTPException(status_code=400, detail={"errors": [{"msg": "bad p/ps"}]}) from None
    if page < 1 or size < 1 or size > max_size:
        raise HTTPException(
            status_code=400,
            detail={"errors": [{"msg": f"'ps' value ({size}) must be between 1 and {max_size}"}]},
        )
    return page, size


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The SonarQube simulator app serving `world`."""
    app, state = new_simulator("sonarqube", world, credentials=credentials or {"token": DEMO_TOKEN})
    index = SonarQubeIndex(world)

    def authorise(request: Request) -> None:
        token = bearer_token(request)
        if token is None:
            pair = basic_credentials(request)
            token = pair[0] if pair is not None else None
        require(same(token, state.credentials.get("token")))

    @app.get("/api/projects/search")
    def projects(request: Request) -> dict[str, Any]:
        authorise(request)
        page, size = _paging(request)
        keys = sorted(index.analyses)
        wanted = request.query_params.get("projects")
        if wanted:
            allowed = set(wanted.split(","))
            keys = [key for key in keys if key in allowed]
        chunk = keys[(page - 1) * size : page * size]
        components = []
        for key in chunk:
            at, _row = index.latest(key)
            components.append(
                {
                    "key": key,
                    "name": index.names[key],
                    "qualifier": "TRK",
                    "visibility": "private",
                    "lastAnalysisDate": sonar_time(at),
                }
            )
        return {
            "paging": {"pageIndex": page, "pageSize": size, "total": len(keys)},
            "components": components,
        }

    @app.get("/api/measures/component")
    def component(request: Request) -> dict[str, Any]:
        authorise(request)
        key = request.query_params.get("component", "")
        metrics = [m for m in request.query_params.get("metricKeys", "").split(",") if m]
        if not metrics:
            raise HTTPException(
                status_code=400,
                detail={"errors": [{"msg": "The 'metricKeys' parameter is missing"}]},
            )
        _at, row = index.latest(key)
        measures = []
        for metric in metrics:
            value = metric_text(metric, row.get(COLUMNS[metric])) if metric in COLUMNS else None
            if value is not None:
                measures.append({"metric": metric, "value": value})
        return {
            "component": {
                "key": key,
                "name": index.names[key],
                "qualifier": "TRK",
                "measures": measures,
            }
        }

    @app.get("/api/qualitygates/project_status")
    def project_status(request: Request) -> dict[str, Any]:
        authorise(request)
        key = request.query_params.get("projectKey", "")
        _at, row = index.latest(key)
        status = str(row.get("quality_gate") or "NONE")
        coverage = row.get("coverage")
        conditions = []
        if coverage is not None:
            conditions.append(
                {
                    "status": "OK" if float(coverage) >= 80 else "ERROR",
                    "metricKey": "coverage",
                    "comparator": "LT",
                    "errorThreshold": "80",
                    "actualValue": metric_text("coverage", coverage),
                }
            )
        return {
            "projectStatus": {
                "status": status,
                "ignoredConditions": False,
                "caycStatus": "compliant" if status == "OK" else "non-compliant",
                "conditions": conditions,
            }
        }

    @app.get("/api/measures/search_history")
    def search_history(request: Request) -> dict[str, Any]:
        authorise(request)
        key = request.query_params.get("component", "")
        metrics = [m for m in request.query_params.get("metrics", "").split(",") if m]
        unknown = [m for m in metrics if m not in COLUMNS]
        if not metrics or unknown:
            raise HTTPException(
                status_code=404,
                detail={"errors": [{"msg": f"Metrics {', '.join(unknown)} are not found"}]},
            )
        index.latest(key)
        page, size = _paging(request, max_size=1000)
        start = parse_time(request.query_params.get("from"))
        end = parse_time(request.query_params.get("to"))
        history = [
            (at, row)
            for at, row in index.analyses[key]
            if (start is None or at >= start) and (end is None or at <= end)
        ]
        chunk = history[(page - 1) * size : page * size]
        measures = []
        for metric in metrics:
            points = []
            for at, row in chunk:
                point: dict[str, Any] = {"date": sonar_time(at)}
                value = metric_text(metric, row.get(COLUMNS[metric]))
                if value is not None:
                    point["value"] = value
                points.append(point)
            measures.append({"metric": metric, "history": points})
        return {
            "paging": {"pageIndex": page, "pageSize": size, "total": len(history)},
            "measures": measures,
        }

    return app


__all__ = ["DEMO_TOKEN", "make_app"]
