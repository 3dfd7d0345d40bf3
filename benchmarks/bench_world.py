"""Build the large Acme Cloud world by streaming every table; print rows, seconds and peak RSS.

Usage: .venv/bin/python benchmarks/bench_world.py [--scale large|small] [--seed N] [--today D]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date

from cto_assistant.demo.world import build_world


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Stream every table of the world once and report the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "large"], default="large")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 1, 15))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    world = build_world(seed=args.seed, today=args.today, scale=args.scale)
    print(
        f"world {args.scale} seed={args.seed} today={args.today}: "
        f"skeleton in {time.perf_counter() - started:.2f}s"
    )
    total = 0
    for table in world.tables():
        table_started = time.perf_counter()
        count = sum(1 for _ in world.rows(table))
        total += count
        print(
            f"{table:22s} {count:>10,d} rows {time.perf_counter() - table_started:8.2f}s "
            f"peak RSS {peak_rss_mb():7.1f} MiB",
            flush=True,
        )
    elapsed = time.perf_counter() - started
    print(
        f"{'total':22s} {total:>10,d} rows {elapsed:8.2f}s peak RSS {peak_rss_mb():7.1f} MiB "
        f"({total / elapsed:,.0f} rows/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
