"""What ``slsqp`` and ``trust-constr`` share: scipy's constrained ``minimize`` on a worker
thread (``_scipy_thread``: one solverhub iteration is one scipy iteration, the run loop keeps
budgets, time limit and trace), f and ∇f from the counted torch oracle, the constraints
``h(x) = 0`` / ``g(x) <= 0`` and their Jacobians by autograd (``_nlp.Constraints``; not oracle
calls), the variables' bounds as scipy ``Bounds``, and the multipliers in ``state.duals`` (cvxpy's
sign convention) for the constrained kind's KKT measure and ``Result.duals``. Nonsmooth terms
without a prox run in epigraph form (``_nlp.Constraints``: scipy sees ``z = (x, t)``, the
states hold ``x``). scipy's own
stopping tests are set tight by default, so the run loop's tolerance on the KKT residual
decides; when scipy stops first, the next step ends the run as ``failed`` unless that
tolerance was met at scipy's last point.
"""
from __future__ import annotations

__all__ = ["ScipyNLPSolver", "ScipyNLPState"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..result import Status
from ..solver import IterState
from ._nlp import ConstrainedSolver, Constraints
from ._scipy_thread import ScipyRun, ScipyWorker

torch = lazy_module("torch")
np = lazy_module("numpy")


@dataclass(frozen=True, kw_only=True)
class ScipyNLPState(IterState):
    run: Any = None
    cons: Any = None
    duals: Any = None           # one multiplier tensor per constraints: line (cvxpy's convention)
    message: str = ""           # scipy's message once it stopped
    scipy_iterations: int = 0


class ScipyNLPSolver(ConstrainedSolver):
    """Base of the scipy NLP builtins: subclasses give ``method`` and implement
    ``scipy_constraints(cons, options)``, ``scipy_options(options)`` and ``multipliers(res, cons, x, grad)``."""

    method = ""

    @classmethod
    def prepare(cls):
        import scipy.optimize  # noqa: F401  (import cost out of the timed region)

    def extra_kwargs(self, oracle, cons, options) -> dict:
        return {}

    def init(self, problem, oracle, x0, options):
        from scipy.optimize import Bounds, minimize
        cons = Constraints(problem, x0)
        box = cons.box(problem)        # over z = (x, epigraph auxiliaries) when there are any
        cache = {}

        def fun(z):
            zt = cons.tensor(z)
            value, grad = cons.value_and_grad(oracle, zt)
            host = cons.numpy(torch.cat([value.reshape(1), grad.reshape(-1)]))   # one sync
            cache["last"] = (np.array(z, dtype=np.float64), zt, value, grad)
            return float(host[0]), host[1:].copy()
        start = cons.numpy(cons.start(x0)).copy()
        bounds = None
        if box is not None:
            start = np.clip(start, *box)
            bounds = Bounds(*box)
        kwargs = dict(jac=True, method=self.method, bounds=bounds, constraints=self.scipy_constraints(cons, options),
                      options=self.scipy_options(options), **self.extra_kwargs(oracle, cons, options))
        worker = ScipyWorker(lambda callback: minimize(fun, start, callback=callback, **kwargs),
                             name=f"solverhub-{self.name}")
        worker.cache = cache
        z0 = cons.start(x0)
        return ScipyNLPState(x=x0, run=ScipyRun(worker), cons=cons,   # uncounted: a measurement
                             duals=cons.ls_multipliers(z0, cons.value_and_grad(oracle, z0, peek=True)[1]))

    def _point(self, state, z_np):
        """(z, value, grad) at scipy's point: the cached evaluation when it is that point."""
        last = state.run.worker.cache.get("last")
        if last is not None and np.array_equal(last[0], np.asarray(z_np, dtype=np.float64)):
            return last[1], last[2], last[3]
        return state.cons.tensor(z_np), None, None

    def step(self, state, oracle, options):
        worker = state.run.worker
        common = dict(run=state.run, cons=state.cons)
        if worker.finished:
            return ScipyNLPState(x=state.x, value=state.value, grad=state.grad, duals=state.duals,
                                 message=state.message, scipy_iterations=state.scipy_iterations, **common,
                                 stop=(Status.FAILED, f"{self.method} stopped ({state.message}) before the "
                                                      "KKT residual met the tolerance"))
        kind, res = worker.next()
        cons = state.cons
        z, value, grad = self._point(state, res.x)
        peek_grad = grad if grad is not None else cons.value_and_grad(oracle, z, peek=True)[1]   # a measurement
        duals = self.multipliers(res, cons, z, peek_grad)
        x = cons.original(z)
        if cons.epigraph is not None:      # value and grad are of the epigraph objective, not of f
            value = grad = None
        if kind == "iterate":
            return ScipyNLPState(x=x, value=value, grad=grad, duals=duals,
                                 scipy_iterations=state.scipy_iterations + 1, **common)
        return ScipyNLPState(x=x, value=value, grad=grad, duals=duals, message=str(res.message),
                             scipy_iterations=int(getattr(res, "nit", state.scipy_iterations)), **common)

    def report(self, state, oracle, options):
        state.run.worker.close()
        return {"scipy_iterations": state.scipy_iterations,
                **({"scipy_message": state.message} if state.message else {})}
