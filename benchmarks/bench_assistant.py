"""Assistant latency on the demo world: router alone, router + tool in-process, `cto ask` end to end.

    .venv/bin/python benchmarks/bench_assistant.py [--cli-runs 12]

Every question of the evaluation set (tests/assistant/cases) is asked in-process through
`Assistant.ask` (route, tool call, answer, conversation rows); then a sample runs as separate
`cto ask --json` processes against the same demo store. Prints median and p95 of each.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.assistant.evaluation import conversations  # noqa: E402

from cto_assistant.assistant.service import Assistant  # noqa: E402
from cto_assistant.demo.run import prepare_demo  # noqa: E402
from cto_assistant.settings import Settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> None:
    """One line: n, median, p95, max in milliseconds."""
    print(
        f"{name:<34} n={len(values):<4} median={statistics.median(values):7.1f} ms  "
        f"p95={percentile(values, 0.95):7.1f} ms  max={max(values):7.1f} ms"
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli-runs", type=int, default=12)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    run = prepare_demo(
        Settings(data_dir=data_dir, log_level="ERROR"), seed=7, today=None, scale="small"
    )
    try:
        assistant = Assistant(run.store, run.settings)
        router = assistant.router()
        routing: list[float] = []
        answered: list[float] = []
        skipped_actions = 0
        questions: list[str] = []
        for turns in conversations():
            conversation_id = None
            for case in turns:
                if case.get("tool") == "create_jira_ticket":
                    skipped_actions += 1  # writes to Jira: not a read latency
                    continue
                started = time.perf_counter()
                router.route(case["q"], now=run.settings.now())
                routing.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                reply = assistant.ask(case["q"], conversation_id=conversation_id)
                answered.append((time.perf_counter() - started) * 1000)
                conversation_id = reply.conversation_id
                questions.append(case["q"])
        report("router only", routing)
        report("in-process router + tool call", answered)
        print(f"(skipped {skipped_actions} ticket-creating turns)")
        env = {
            **os.environ,
            "CTO_DATABASE_URL": run.settings.effective_database_url,
            "CTO_CLOCK": run.settings.now().isoformat(),
            "CTO_DATA_DIR": str(data_dir),
            "CTO_LOG_LEVEL": "ERROR",
        }
        cli: list[float] = []
        cto = str(Path(sys.executable).with_name("cto"))
        for question in questions[:: max(1, len(questions) // args.cli_runs)][: args.cli_runs]:
            started = time.perf_counter()
            subprocess.run(
                [cto, "ask", "--json", question], env=env, check=True, capture_output=True
            )
            cli.append((time.perf_counter() - started) * 1000)
        report("`cto ask --json` end to end", cli)
    finally:
        run.stop()


if __name__ == "__main__":
    main()
