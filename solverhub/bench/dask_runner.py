"""Run compare tasks on a Dask distributed cluster (``--scheduler tcp://host:port``).

The same :func:`run_task` runs on the cluster's workers; results come back to
this process, which alone writes the store. Per-run time limits are the solver's
soft ``time_limit_s`` (Dask cannot kill a running task); a worker lost mid-run
is recorded ``failed``.
"""
from __future__ import annotations

__all__ = ["run_on_dask"]

from typing import Callable, Sequence

from ..errors import OptionError
from ..result import Status
from .tasks import RunTask, failed_result, run_task


def run_on_dask(tasks: Sequence[RunTask], address, record: Callable[[RunTask, str], None]) -> None:
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
        by_future = {client.submit(run_task, t, pure=False, key=f"solverhub-run-{t.key}"): t for t in tasks}
        for future in as_completed(by_future):
            task = by_future[future]
            try:
                payload = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker or cancelled task
                payload = failed_result(task, Status.FAILED, f"dask: {type(err).__name__}: {err}").to_json()
            record(task, payload)
    finally:
        if own:
            client.close()
