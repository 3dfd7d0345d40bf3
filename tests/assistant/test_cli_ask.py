"""`cto ask --json` prints one JSON object answered from a demo store."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cto_assistant.cli import app
from cto_assistant.demo.run import DemoRun


def test_cto_ask_json_prints_one_object(demo: DemoRun) -> None:
    env = {
        "CTO_DATABASE_URL": demo.settings.effective_database_url,
        "CTO_CLOCK": demo.settings.now().isoformat(),
        "CTO_DATA_DIR": str(demo.settings.data_dir),
        "CTO_LOG_LEVEL": "ERROR",
    }
    result = CliRunner().invoke(
        app, ["ask", "--json", "critical vulns in checkout-service?"], env=env
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"tool", "arguments", "answer", "data", "as_of"} <= payload.keys()
    assert payload["tool"] == "vulnerabilities"
    assert payload["arguments"] == {"service": "checkout-service", "severity": "critical"}
    assert payload["as_of"] is not None and payload["data"]

    again = CliRunner().invoke(
        app,
        ["ask", "--json", "--session", payload["conversation_id"], "what about staging?"],
        env=env,
    )
    follow = json.loads(again.stdout)
    assert follow["conversation_id"] == payload["conversation_id"]
    assert follow["arguments"]["environment"] == "staging"
