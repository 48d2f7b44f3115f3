"""A pool of persistent worker processes with a hard per-run time limit and per-run output capture.

Workers are started once per compare and run one task after the other. On CPU they
are **forked** from the compare process (:class:`~solverhub.isolation.ForkedWorker`),
which has already imported torch, solverhub and the plugins and loaded every problem
while planning: a worker starts in milliseconds and reads its problems from memory.
For CUDA (a fork cannot use CUDA) and where ``fork`` does not exist, workers are fresh
interpreters (:class:`~solverhub.isolation.IsolatedWorker`) that import once and load
each problem once. Unlike ``concurrent.futures``, one hung or crashed worker is killed
and replaced without losing the others: a run that outlives its limit is recorded
``time_limit``, a worker that dies is recorded ``failed`` with its exit code or signal.
A worker's stdout and stderr are a pipe read here: each run's output is kept, bounded
(``Result.captured_output``), and never reaches the terminal.

Baselines (:class:`~solverhub.bench.tasks.BaselineTask`) go through the same workers,
under the same limits: the first worker takes them first, the others start on runs.

Tiny runs travel in chunks (:class:`~solverhub.bench.tasks.ChunkTask`): once ``CHUNK_AFTER`` runs
of a configuration (problem, solver label) took under ``CHUNK_S / 2`` each, dispatch to answer,
its next runs go to a worker several at a time, about ``CHUNK_S`` of work per message, so a run of a
few ms no longer pays two wake-ups of this process and a round trip of its worker. A chunk
that ends any other way than with every answer and no output (a hang, a crash, a print) is
run again one task at a time, each under its own limit and capture, and that configuration
is never chunked again: what is recorded is what one-at-a-time runs record. A chunk's own
time limit is ``CHUNK_LIMIT_S`` (ten times its expected work), so a run that hangs in a chunk
costs that hard limit (~3 s) before its own.
"""
from __future__ import annotations

__all__ = ["WorkerPool", "assign_devices"]

import time
from collections import deque
from multiprocessing.connection import wait
from typing import Callable, Iterable

from ..isolation import HARD_LIMIT_GRACE_S, IsolatedWorker  # noqa: F401 - HARD_LIMIT_GRACE_S re-exported
from .tasks import BaselineTask, ChunkTask, chunk_answers

TICK_S = 0.5        # with a ``tick`` callback: the longest the loop waits without calling it
CHUNK_S = 0.1       # the work of one chunk of tiny runs (seconds, by the runs timed so far)
CHUNK_MAX = 32      # runs in a chunk at most
CHUNK_AFTER = 2     # runs of a configuration timed one at a time before its runs are chunked
CHUNK_LIMIT_S = 1.0     # a chunk's time limit (its hard limit ~3 s): a hang in a chunk costs that, then its run's


def assign_devices(device: str, jobs: int, gpus: int) -> list[str]:
    """The device of each worker: ``jobs`` CPU workers for ``cpu``; for ``cuda`` one worker
    per GPU (``cuda:0`` .. ``cuda:{gpus-1}``), or ``jobs`` workers dealt round-robin over
    the GPUs when ``jobs`` is larger; a named GPU (``cuda:1``) takes every worker."""
    jobs = max(1, int(jobs))
    if device == "cuda":
        if gpus < 1:
            raise ValueError("device 'cuda' with no GPU")
        return [f"cuda:{i % gpus}" for i in range(max(jobs, gpus))]
    return [device] * jobs


def preload(solvers: Iterable[str] | None = None) -> None:
    """Import what every run needs once, here, before workers are forked from this process:
    torch, the run path and the classes of ``solvers`` (default: every registered solver and
    kind; importing all of them costs ~0.4 s, which a compare of two solvers need not pay).
    The problems' kinds were imported when the plan loaded them."""
    from ..isolation import note_torch_import
    note_torch_import()
    from .. import api  # noqa: F401
    from ..registry import get_registry
    from . import codec, tasks  # noqa: F401
    registry = get_registry()
    if solvers is None:
        registry.load_all()
        return
    for name in sorted(set(solvers)):
        if name in registry.solvers:
            try:
                registry.solver(name)
            except Exception:  # noqa: BLE001 - the run reports it (a failed result), not the pool
                pass


class _Chunker:
    """Forms the chunks: times each configuration's runs (dispatch to answer, per run; the slowest
    of its last ``CHUNK_AFTER`` tasks counts) and takes the next runs of the queue one at a time or
    as a chunk."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.timed: dict[tuple, deque] = {}                 # configuration -> its last tasks' seconds a run
        self.solo: set[tuple] = set()                       # configurations never chunked again

    @staticmethod
    def config(task) -> tuple:
        return task.problem_hash, task.label or task.solver, task.device

    def take(self, runs: deque):
        first = runs.popleft()
        config = self.config(first)
        timed = self.timed.get(config, ())
        slowest = max(timed, default=0.0)
        if len(timed) < CHUNK_AFTER or config in self.solo or slowest >= CHUNK_S / 2:
            return first
        size = min(CHUNK_MAX, int(CHUNK_S / max(slowest, 1e-4)), 1 + len(runs) // (2 * self.jobs))
        batch = [first]
        while len(batch) < size and runs and self.config(runs[0]) == config:
            batch.append(runs.popleft())
        return first if len(batch) == 1 else ChunkTask(tuple(batch), device=first.device, limit_s=CHUNK_LIMIT_S)

    def timed_run(self, task, seconds: float) -> None:
        config = self.config(task)
        n = len(task.tasks) if isinstance(task, ChunkTask) else 1
        self.timed.setdefault(config, deque(maxlen=CHUNK_AFTER)).append(seconds / n)

    def answers(self, task, payload, runs: deque) -> list[tuple]:
        """``[(run, answer)]`` of a finished task; a chunk that did not answer in full goes back
        to the front of ``runs``, one task at a time (its configuration is chunked no more)."""
        if not isinstance(task, ChunkTask):
            return [(task, payload)]
        blobs = chunk_answers(payload)
        if blobs is not None and len(blobs) == len(task.tasks):
            return list(zip(task.tasks, blobs))
        self.solo.add(self.config(task))
        runs.extendleft(reversed(task.tasks))
        return []


class WorkerPool:
    """Persistent workers running :func:`solverhub.bench.tasks.execute`, one per entry of
    ``devices`` (default ``jobs`` CPU workers). ``problems``: content hash -> Problem,
    inherited by forked workers."""

    def __init__(self, jobs: int = 1, *, devices: list[str] | None = None, problems: dict | None = None):
        self.devices = list(devices) if devices else ["cpu"] * max(1, int(jobs))
        self.jobs = len(self.devices)
        self.problems = problems
        self.started = 0            # workers started, replacements included

    def _new_worker(self, index: int, others) -> IsolatedWorker:
        from ..isolation import ForkedWorker, can_fork_workers, fork_threads
        device = self.devices[index]
        self.started += 1
        if can_fork_workers(device):
            return ForkedWorker(device=device, problems=self.problems, threads=fork_threads(self.jobs),
                                close_fds=[fd for w in others if w is not None for fd in w.fds()])
        return IsolatedWorker(device=device)

    def run(self, tasks: Iterable, on_result: Callable[[object, bytes | str], None],
            tick: Callable[[], None] | None = None, settle: Callable[[], None] | None = None) -> None:
        """Run every task; ``on_result(task, answer)`` as each finishes (in this process; a run's
        answer is its Result as a codec blob, :func:`~solverhub.bench.tasks.result_of` reads it);
        ``settle()`` after the answers of one wake-up (a store commits them together); ``tick()``
        at least every ``TICK_S`` (a progress display)."""
        tasks = list(tasks)
        baselines = deque(t for t in tasks if isinstance(t, BaselineTask))
        runs = deque(t for t in tasks if not isinstance(t, BaselineTask))
        workers: list[IsolatedWorker | None] = [None] * min(self.jobs, len(tasks))
        chunker = _Chunker(self.jobs)

        def next_task(i: int):
            first, second = (baselines, runs) if i == 0 else (runs, baselines)
            queue = first or second
            return chunker.take(queue) if queue is runs else queue.popleft()

        from ..isolation import can_fork_workers
        if workers and any(can_fork_workers(d) for d in self.devices):
            preload(t.solver for t in runs)
        try:
            for i in range(len(workers)):
                workers[i] = self._new_worker(i, workers)
            while baselines or runs or any(w.task is not None for w in workers):
                for i, w in enumerate(workers):
                    if w.task is None and (baselines or runs):
                        if not w.alive:             # died while idle: not the next run's fault
                            w.kill()
                            workers[i] = None
                            workers[i] = w = self._new_worker(i, workers)
                        w.submit(next_task(i))
                busy = [w for w in workers if w.task is not None]
                deadlines = [d for d in (w.deadline() for w in busy) if d is not None]
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                if any(w.sup.pidfd is None for w in busy):
                    timeout = 0.25 if timeout is None else min(timeout, 0.25)
                if tick is not None:
                    timeout = TICK_S if timeout is None else min(timeout, TICK_S)
                ready = set(wait([x for w in busy for x in w.waitables()], timeout=timeout))
                now = time.monotonic()
                answers = []
                for i, w in enumerate(workers):
                    if w.task is None:
                        continue
                    finished = w.step(ready) or w.expire_if_due(now)
                    if finished is None:
                        continue
                    task, payload, alive = finished
                    if not isinstance(task, BaselineTask):
                        chunker.timed_run(task, time.monotonic() - w.sup.dispatched_at)
                        answers += chunker.answers(task, payload, runs)
                    else:
                        answers.append((task, payload))
                    if not alive:
                        w.kill()                    # replaced above when there is more to do
                    elif (baselines or runs) and w.alive:
                        w.submit(next_task(i))      # its next task first: the worker never waits for the store
                for task, payload in answers:
                    on_result(task, payload)
                if answers and settle is not None:
                    settle()
                if tick is not None:
                    tick()
        finally:
            idle = [w for w in workers if w is not None and w.task is None and w.alive]
            for w in idle:                  # all told to exit first: they exit together, not one by one
                try:
                    w.inbox.send(None)
                except OSError:
                    pass
            for w in workers:
                if w is None:
                    continue
                if w in idle:
                    w.close()
                else:
                    w.kill()
