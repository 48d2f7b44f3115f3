"""A small pool of worker processes with a hard per-run time limit and per-run output capture.

Unlike ``concurrent.futures``, one hung or crashed worker can be killed and
replaced without losing the others: a run that outlives its limit is recorded
``time_limit``, a worker that dies is recorded ``failed`` with its exit code or
signal. Workers are :class:`solverhub.isolation.IsolatedWorker` processes (fresh
interpreters, not forks: torch's thread pools do not survive a fork) that import
torch and the plugins once, and report when a run begins, so the time limit
counts the run and not the start-up. A worker's stdout and stderr are a pipe
read here: each run's output is kept, bounded (``Result.captured_output``), and
never reaches the terminal.
"""
from __future__ import annotations

__all__ = ["WorkerPool"]

import time
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Iterable

from ..isolation import HARD_LIMIT_GRACE_S, IsolatedWorker  # noqa: F401 - HARD_LIMIT_GRACE_S re-exported
from .tasks import RunTask


class WorkerPool:
    """``jobs`` worker processes running :func:`solverhub.bench.tasks.run_task`."""

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, int(jobs))

    def run(self, tasks: Iterable[RunTask], on_result: Callable[[RunTask, str], None]) -> None:
        queue = deque(tasks)
        workers: list[IsolatedWorker] = [IsolatedWorker() for _ in range(min(self.jobs, len(queue)))]
        try:
            while queue or any(w.task is not None for w in workers):
                for i, w in enumerate(workers):
                    if w.task is None and queue:
                        if not w.alive:             # died while idle: not the next run's fault
                            w.kill()
                            workers[i] = w = IsolatedWorker()
                        w.submit(queue.popleft())
                busy = [w for w in workers if w.task is not None]
                deadlines = [d for d in (w.deadline() for w in busy) if d is not None]
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                if any(w.sup.pidfd is None for w in busy):
                    timeout = 0.25 if timeout is None else min(timeout, 0.25)
                ready = set(wait([x for w in busy for x in w.waitables()], timeout=timeout))
                now = time.monotonic()
                for w in workers:
                    if w.task is None:
                        continue
                    finished = w.step(ready) or w.expire_if_due(now)
                    if finished is None:
                        continue
                    task, payload, alive = finished
                    if not alive:
                        w.kill()                    # replaced above when there is more to do
                    on_result(task, payload)
        finally:
            for w in workers:
                if w.task is not None or not w.alive:
                    w.kill()
                else:
                    w.close()
