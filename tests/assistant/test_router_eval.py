"""The router must route at least 95% of the evaluation set exactly (tool and arguments)."""

from __future__ import annotations

from tests.assistant.evaluation import evaluate, load_router

THRESHOLD = 0.95


def test_evaluation_set_routes_at_least_95_percent_exactly() -> None:
    router, now = load_router()
    outcomes = evaluate(router, now)
    misses = [o for o in outcomes if not o.ok]
    accuracy = 1 - len(misses) / len(outcomes)
    report = "\n".join(
        f"  {o.question!r}\n    expected {o.expected.get('expect') or (o.expected['tool'], o.expected['args'])}"
        f"\n    got      {o.route.kind} {o.route.tool} {o.route.arguments}"
        for o in misses
    )
    print(f"\nrouting accuracy {accuracy:.1%} over {len(outcomes)} questions; misses:\n{report}")
    assert len(outcomes) >= 300
    assert accuracy >= THRESHOLD, f"accuracy {accuracy:.1%} < {THRESHOLD:.0%}; misses:\n{report}"
