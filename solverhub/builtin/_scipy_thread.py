"""Run a scipy optimizer inside the shared run loop: ``scipy.optimize.minimize`` runs on a
worker thread that pauses in scipy's per-iteration ``callback`` until the loop asks for the
next step (strict hand-off: one thread runs at a time, so runs are deterministic). The loop
keeps its stopping rules, the oracle budget (``BudgetExhausted`` raised inside scipy's
evaluation ends the step), the time limit and the trace. The design of ``lbfgsb``, shared by
``slsqp`` and ``trust-constr``.
"""
from __future__ import annotations

__all__ = ["ScipyWorker", "ScipyRun"]

import queue
import threading
import weakref


class _Abort(BaseException):
    """Unwinds scipy on the worker thread when the run is over."""


class ScipyWorker:
    """``minimize(callback=...)`` (a function of the callback) on a daemon thread, paused at each
    iteration's callback. ``next()`` resumes it and returns ``("iterate", intermediate_result)``,
    ``("done", OptimizeResult)`` or re-raises what scipy's evaluation raised."""

    def __init__(self, minimize, name: str = "solverhub-scipy"):
        self._minimize = minimize
        self._go: queue.Queue = queue.Queue(maxsize=1)
        self._out: queue.Queue = queue.Queue(maxsize=1)
        self.finished = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _callback(self, intermediate_result):
        self._out.put(("iterate", intermediate_result))
        if self._go.get() is None:
            raise _Abort

    def _run(self):
        if self._go.get() is None:
            return
        try:
            res = self._minimize(self._callback)
        except _Abort:
            return
        except BaseException as err:          # BudgetExhausted, a solver error: to the run loop's thread
            self._out.put(("error", err))
            return
        self._out.put(("done", res))

    def next(self):
        self._go.put(True)
        answer = self._out.get()
        if answer[0] == "error":
            self.finished = True
            raise answer[1]
        if answer[0] == "done":
            self.finished = True
        return answer

    def close(self):
        """Stop the thread (it waits in the callback, or before starting)."""
        if self._thread.is_alive() and not self.finished:
            self.finished = True
            self._go.put(None)
            self._thread.join(timeout=10)


class ScipyRun:
    """Held by the states only: when the last state goes, the worker thread is stopped."""

    def __init__(self, worker: ScipyWorker):
        self.worker = worker
        weakref.finalize(self, worker.close)
