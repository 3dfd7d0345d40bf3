"""Queue mode: sync jobs on Dramatiq over Redis, run by `cto worker` processes.

    cto scheduler --(source, stream) jobs--> Redis --> M x `cto worker` --> PostgreSQL
                                                                  N x `cto serve` --^

Embedded mode (no `CTO_QUEUE_URL`) does not import this package: `cto serve` syncs in-process.
`queue.py` holds the broker, the actor and the job; `runner.py` the worker and scheduler loops;
the per-stream lock lives in sync/locks.py (every sync takes it, queued or not). docs/DEPLOYMENT.md describes the topology.
"""

from __future__ import annotations
