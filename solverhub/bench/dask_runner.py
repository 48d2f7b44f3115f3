"""Run compare tasks on a Dask distributed cluster (``--scheduler tcp://host:port``).

Each Dask task is :func:`run_task_isolated`: on the Dask worker it hands the run to
an :class:`solverhub.isolation.IsolatedWorker` (a child process kept for the next
task, one per Dask worker thread), so a run on the cluster has the same hard
limit, crash containment and output capture as with local workers: a run past
its limit is killed and recorded ``time_limit`` and its Dask worker moves on.
Results come back to this process, which alone writes the store; a Dask worker
lost mid-run is recorded ``failed``.
"""
from __future__ import annotations

__all__ = ["run_on_dask", "run_task_isolated"]

import atexit
import threading
import time
from typing import Callable, Sequence

from ..errors import OptionError
from ..result import Status
from .tasks import BaselineTask, RunTask, failed_baseline, failed_result

_IDLE: list = []            # (IsolatedWorker, idle since) of this (Dask worker) process, free for the next task
_IDLE_LOCK = threading.Lock()
IDLE_TIMEOUT_S = 60.0       # an idle worker (a few hundred MB) is closed after this long
_reaper: threading.Thread | None = None


def run_task_isolated(task: RunTask | BaselineTask) -> bytes | str:
    """What a Dask worker executes: a run (or a baseline) in a child process under the hard limit."""
    from ..isolation import IsolatedWorker
    with _IDLE_LOCK:
        worker = _IDLE.pop()[0] if _IDLE else None
    if worker is not None and not worker.alive:
        worker.kill()
        worker = None
    if worker is None:
        worker = IsolatedWorker()
    try:
        payload, alive = worker.run(task)
    except BaseException:
        worker.kill()
        raise
    if alive:
        _park(worker)
    else:
        worker.kill()
    return payload if isinstance(task, BaselineTask) else _where(payload)


def _park(worker) -> None:
    global _reaper
    with _IDLE_LOCK:
        _IDLE.append((worker, time.monotonic()))
        if _reaper is None:
            _reaper = threading.Thread(target=_reap, name="solverhub-idle-workers", daemon=True)
            _reaper.start()


def _reap() -> None:
    global _reaper
    while True:
        time.sleep(min(5.0, IDLE_TIMEOUT_S / 4))
        with _IDLE_LOCK:
            now = time.monotonic()
            stale = [w for w, since in _IDLE if now - since > IDLE_TIMEOUT_S]
            _IDLE[:] = [(w, since) for w, since in _IDLE if now - since <= IDLE_TIMEOUT_S]
            done = not _IDLE
            if done:
                _reaper = None          # the next _park starts another
        for w in stale:
            w.close(timeout=1.0)
        if done:
            return


def _where(payload: bytes | str) -> bytes | str:
    """Name the Dask worker in the Result (``extras["dask_worker"]``), and in the message
    when the solver is not installed there."""
    from .codec import encode_result
    from .tasks import result_of
    try:
        from distributed import get_worker
        address = get_worker().address
    except Exception:  # noqa: BLE001 - not on a Dask worker
        return payload
    result = result_of(payload)
    message = result.message
    if result.status is Status.FAILED and "UnknownName: unknown solver" in message:
        message = f"solver {result.solver!r} is not installed on Dask worker {address}: {message}"
    return encode_result(result.replace(message=message, extras={**result.extras, "dask_worker": address}))


@atexit.register
def _close_idle() -> None:
    with _IDLE_LOCK:
        workers, _IDLE[:] = [w for w, _ in _IDLE], []
    for w in workers:
        w.close(timeout=1.0)


def run_on_dask(tasks: Sequence[RunTask | BaselineTask], address, record: Callable[[RunTask, bytes | str], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise OptionError("--scheduler needs Dask distributed: pip install 'dask[distributed]'") from None
    try:
        client = address if hasattr(address, "submit") else Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as err:
        raise OptionError(f"--scheduler {address}: cannot connect ({err})", allowed="tcp://HOST:PORT") from None
    own = client is not address
    try:
        by_future = {client.submit(run_task_isolated, t, pure=False, key=f"solverhub-run-{t.key}"): t for t in tasks}
        for future in as_completed(by_future):
            task = by_future[future]
            try:
                payload = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker or cancelled task
                why = f"dask: {type(err).__name__}: {err}"
                payload = (failed_baseline(task, "failed", why) if isinstance(task, BaselineTask)
                           else failed_result(task, Status.FAILED, why).to_json())
            record(task, payload)
    finally:
        if own:
            client.close()
