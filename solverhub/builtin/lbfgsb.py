"""L-BFGS-B: scipy's limited-memory BFGS for bound-constrained smooth problems
(Byrd, Lu, Nocedal & Zhu 1995, doi:10.1137/0916069; Morales & Nocedal 2011), with f and
∇f from the (counted) torch oracle.

Each solverhub iteration is one L-BFGS-B iteration: ``scipy.optimize.minimize(method=
"L-BFGS-B")`` runs on a worker thread (``_scipy_thread``, shared with slsqp and
trust-constr) that pauses in scipy's per-iteration ``callback`` until the run loop asks for
the next step (strict hand-off: one thread runs at a time, so runs are deterministic). The
shared loop therefore keeps its stopping rules, the oracle budget (``BudgetExhausted``
raised inside scipy's evaluation ends the step), the time limit between iterations and the
per-iteration trace. scipy's own tests are off by default (``ftol = gtol = 0``, no iteration
or evaluation caps): it stops on its own only when it can make no more progress, which ends
the run as ``failed`` unless the loop's tolerance on the projected-gradient norm was met
first.
"""
from __future__ import annotations

__all__ = ["LBFGSB", "LBFGSBOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import SolverOptions, option
from ..result import Status
from ..solver import Acceptance, Capabilities, IterState, Solver
from ._scipy_thread import ScipyRun, ScipyWorker

torch = lazy_module("torch")
np = lazy_module("numpy")


class LBFGSBOptions(SolverOptions):
    history_size: int = option(10, "curvature pairs kept (scipy maxcor)", symbol="m", ge=1)
    max_line_search: int = option(20, "f evaluations per line search (scipy maxls)", ge=1)
    ftol: float = option(0.0, "scipy's relative-decrease stop (f_k - f_{k+1})/max(|f_k|,|f_{k+1}|,1) <= ftol; "
                              "0: off (the run loop's tolerance decides)", ge=0)
    gtol: float = option(0.0, "scipy's stop on the projected gradient's max-norm; 0: off", ge=0)


@dataclass(frozen=True, kw_only=True)
class LBFGSBState(IterState):
    run: Any = None
    message: str = ""        # scipy's message once it stopped
    scipy_iterations: int = 0


class LBFGSB(Solver):
    name = "lbfgsb"
    paper = "Byrd, Lu, Nocedal & Zhu (1995), SIAM J. Sci. Comput. 16(5); doi:10.1137/0916069"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(bounds=True)
    priority = 8               # below lbfgs on unbounded problems
    Options = LBFGSBOptions
    description = "L-BFGS-B (scipy) with torch values and gradients: the reference for bound-constrained problems"
    # one device->host copy of (f, ∇f) per evaluation (counted as .cpu() and .numpy()), at most
    # 1 + max_line_search evaluations per iteration with the default max_line_search = 20
    host_syncs_per_step = 42

    def priority_for(self, problem):
        return 100 if problem.has_bounds else self.priority

    def accepts_problem(self, problem):
        return Acceptance(f"accepts kind {problem.kind.name!r}"
                          + (" with variable bounds" if problem.has_bounds else ""))

    @classmethod
    def prepare(cls):
        import scipy.optimize  # noqa: F401  (import cost out of the timed region)

    def init(self, problem, oracle, x0, options):
        lower = upper = None
        box = problem.structure.box(problem.variables)
        bounds = None
        if box is not None:
            lower, upper = box
            from scipy.optimize import Bounds
            bounds = Bounds(lower, upper)
        dtype, device = x0.dtype, x0.device

        cache = {}

        def fun(x):
            xt = torch.as_tensor(x, dtype=dtype).to(device)
            value, grad = oracle.value_and_grad(xt)
            host = torch.cat([value.reshape(1), grad.reshape(-1)]).to(torch.float64).cpu().numpy()  # one sync
            cache["last"] = (np.array(x, dtype=np.float64), xt, value, grad)
            return float(host[0]), host[1:].copy()
        start = x0.detach().to(torch.float64).cpu().numpy().copy()
        if box is not None:
            start = np.clip(start, lower, upper)
        scipy_options = {"maxcor": options.history_size, "maxls": options.max_line_search,
                         "ftol": options.ftol, "gtol": options.gtol,
                         "maxiter": 2**31 - 1, "maxfun": 2**31 - 1}
        from scipy.optimize import minimize
        worker = ScipyWorker(lambda callback: minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                                       callback=callback, options=scipy_options),
                             name="solverhub-lbfgsb")
        worker.cache = cache
        return LBFGSBState(x=x0, run=ScipyRun(worker))

    def step(self, state, oracle, options):
        worker = state.run.worker
        if worker.finished:
            return LBFGSBState(x=state.x, value=state.value, grad=state.grad, run=state.run,
                               message=state.message, scipy_iterations=state.scipy_iterations,
                               stop=(Status.FAILED, f"L-BFGS-B can make no further progress ({state.message}); "
                                                    "tolerance below attainable accuracy?"))
        answer = worker.next()
        if answer[0] == "iterate":
            x_np, value, grad, x = np.array(answer[1].x, dtype=np.float64), None, None, None
            last = worker.cache.get("last")
            if last is not None and np.array_equal(last[0], x_np):   # scipy's accepted point: f, ∇f known
                x, value, grad = last[1], last[2], last[3]
            if x is None:
                x = torch.as_tensor(x_np, dtype=state.x.dtype).to(state.x.device)
            return LBFGSBState(x=x, value=value, grad=grad, run=state.run,
                               scipy_iterations=state.scipy_iterations + 1)
        res = answer[1]          # scipy stopped: its best point; the next step reports it
        x = torch.as_tensor(np.asarray(res.x, dtype=np.float64), dtype=state.x.dtype).to(state.x.device)
        return LBFGSBState(x=x, run=state.run, message=str(res.message),
                           scipy_iterations=int(res.nit))

    def report(self, state, oracle, options):
        state.run.worker.close()
        return {"scipy_iterations": state.scipy_iterations,
                **({"scipy_message": state.message} if state.message else {})}
