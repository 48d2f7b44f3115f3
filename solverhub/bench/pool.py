"""A small pool of worker processes with a hard per-run time limit.

Unlike ``concurrent.futures``, one hung or crashed worker can be killed and
replaced without losing the others: a run that outlives its limit is recorded
``time_limit``, a worker that dies is recorded ``failed`` with its exit code.
Workers are spawned (not forked: torch's thread pools do not survive a fork),
import torch once at start-up, and report when a run begins, so the time limit
counts the run and not the start-up.
"""
from __future__ import annotations

__all__ = ["WorkerPool"]

import multiprocessing as mp
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Iterable

from ..result import Status
from .tasks import RunTask, failed_result, run_task

HARD_LIMIT_GRACE_S = 2.0


def _worker_main(conn) -> None:
    try:
        import torch  # noqa: F401 - pay the import once, before any run is timed
        from .. import api  # noqa: F401
    except Exception:
        pass
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        try:
            conn.send(("begin", task.key))
            conn.send(("done", task.key, run_task(task)))
        except (BrokenPipeError, OSError, KeyboardInterrupt):
            return


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: RunTask | None = None
        self.deadline: float | None = None
        self.started: float | None = None

    def kill(self) -> None:
        try:
            self.process.kill()
        finally:
            self.process.join(timeout=5)
            self.conn.close()


class WorkerPool:
    """``jobs`` spawned worker processes running :func:`run_task`."""

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, int(jobs))
        self._ctx = mp.get_context("spawn")

    def run(self, tasks: Iterable[RunTask], on_result: Callable[[RunTask, str], None]) -> None:
        queue = deque(tasks)
        workers = [_Worker(self._ctx) for _ in range(min(self.jobs, len(queue)) or 0)]
        try:
            while queue or any(w.task is not None for w in workers):
                for w in workers:
                    if w.task is None and queue:
                        w.task, w.deadline, w.started = queue.popleft(), None, None
                        w.conn.send(w.task)
                busy = [w for w in workers if w.task is not None]
                now = time.monotonic()
                deadlines = [w.deadline for w in busy if w.deadline is not None]
                timeout = max(0.0, min(deadlines) - now) if deadlines else None
                ready = wait([w.conn for w in busy], timeout=timeout)
                for i, w in enumerate(list(workers)):
                    if w.task is None:
                        continue
                    if w.conn in ready:
                        try:
                            message = w.conn.recv()
                        except (EOFError, OSError):
                            w.process.join(timeout=5)
                            code = w.process.exitcode
                            on_result(w.task, failed_result(w.task, Status.FAILED,
                                                            f"worker process died (exit code {code})").to_json())
                            w.kill()
                            workers[i] = _Worker(self._ctx)
                            continue
                        if message[0] == "begin":
                            w.started = time.monotonic()
                            limit = w.task.time_limit_s
                            w.deadline = None if limit is None else w.started + limit + max(HARD_LIMIT_GRACE_S, 0.5 * limit)
                        else:
                            task, w.task = w.task, None
                            on_result(task, message[2])
                    elif w.deadline is not None and time.monotonic() >= w.deadline:
                        elapsed = time.monotonic() - (w.started or time.monotonic())
                        on_result(w.task, failed_result(
                            w.task, Status.TIME_LIMIT,
                            f"killed after {elapsed:.1f} s (time_limit_s={w.task.time_limit_s:g})", elapsed).to_json())
                        w.kill()
                        workers[i] = _Worker(self._ctx)
        finally:
            for w in workers:
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
            for w in workers:
                w.process.join(timeout=2)
                if w.process.is_alive():
                    w.kill()
