"""The two long-running processes of queue mode: a worker and the scheduler ("beat").

    run_worker(settings, threads=2, stop=event)     # `cto worker`: consume sync jobs until stopped
    run_scheduler(settings, stop=event)             # `cto scheduler`: enqueue every source each interval

Both return when `stop` is set (the CLI sets it on SIGTERM / SIGINT). A stopped worker lets its
running jobs finish for `grace_seconds`; a job still running after that is redelivered to another
worker once this one's heartbeat has expired, exactly as if the worker had died.
"""

from __future__ import annotations

import threading

import dramatiq

from cto_assistant.jobs.queue import QUEUE_NAME, JobQueue, worker_database_url
from cto_assistant.logging import get_logger
from cto_assistant.reports.schedule import run_weekly_if_due
from cto_assistant.settings import Settings
from cto_assistant.store import open_store
from cto_assistant.web import events

log = get_logger("jobs.runner")


def run_worker(
    settings: Settings, *, threads: int, stop: threading.Event, grace_seconds: float = 30.0
) -> None:
    """Consume sync jobs with `threads` threads until `stop` is set."""
    queue = JobQueue(settings)
    store = open_store(worker_database_url(settings, role="worker"))
    queue.attach_store(store)
    # The web processes' browsers hear this worker's "sync finished" over Redis.
    events.connect_relay(settings.queue_url or "", namespace=queue.namespace, listen=False)
    worker = dramatiq.Worker(queue.broker, queues={QUEUE_NAME}, worker_threads=threads)
    # One message per thread: a worker must not sit on jobs that an idle worker could run.
    worker.queue_prefetch = threads
    worker.start()
    log.info("worker started", threads=threads, namespace=queue.namespace)
    try:
        stop.wait()
    finally:
        log.info("worker stopping", grace_s=grace_seconds)
        worker.stop(timeout=int(grace_seconds * 1000))
        queue.broker.close()
        events.disconnect_relay()
        store.dispose()


def run_scheduler(settings: Settings, *, stop: threading.Event) -> None:
    """Enqueue every configured stream now and then every `sync_interval_minutes`."""
    interval = settings.sync_interval_minutes * 60
    if interval <= 0:
        log.warning("scheduler idle: sync_interval_minutes is 0")
        stop.wait()
        return
    queue = JobQueue(settings)
    store = open_store(worker_database_url(settings, role="scheduler"))
    queue.attach_store(store)
    log.info("scheduler started", interval_s=interval, namespace=queue.namespace)
    try:
        while not stop.is_set():
            queue.enqueue_sync()
            run_weekly_if_due(store, settings)  # once per ISO week, on this week's data so far
            stop.wait(interval)
    finally:
        queue.broker.close()
        store.dispose()


__all__ = ["run_scheduler", "run_worker"]
