"""auglag: the augmented Lagrangian (PHR) method for h(x) = 0, g(x) <= 0 in torch, with the
multiplier and penalty updates of Birgin & Martínez (2014), *Practical Augmented Lagrangian
Methods for Constrained Optimization*, SIAM, doi:10.1137/1.9781611973365, Alg. 4.1:

    x_k   ≈ argmin L_ρ(x, λ, μ) = f(x) + ρ/2 (‖h(x) + λ/ρ‖² + ‖max(0, g(x) + μ/ρ)‖²)
    λ ← clip(λ + ρ h(x_k)),  μ ← clip(max(0, μ + ρ g(x_k)))
    V_k = max(‖h(x_k)‖∞, ‖max(g(x_k), -μ/ρ)‖∞)
    ρ ← min(γ ρ, ρmax) when V_k > max(τ V_{k-1}, ε_feas) and the inner solve ended before its cap

One solverhub iteration is one outer iteration. Option ``inner`` may name any registered solver
accepting the inner problem (``_auglag_inner``: bounds and prox terms kept; ``auto`` = fista with
prox terms, else as below); the two built-in paths follow. The inner solver is, warm-started,
at most ``inner_iterations`` iterations of scipy's L-BFGS-B on L_ρ within the variables' bounds
(the default when variables are bounded: bounds kept exactly, one host copy of (L_ρ, ∇L_ρ) per
evaluation) or of torch.optim.LBFGS (strong Wolfe line search; the default otherwise: on the
device). f and ∇f come from the counted oracle, h and g by autograd (not oracle calls). With
torch L-BFGS the finite bounds enter L_ρ as extra inequality rows (their multipliers are
internal; the updates read the inner solution) and the iterate the run loop sees is that
solution projected onto the box. Nonsmooth terms without a prox run in epigraph form
(``_nlp.Constraints``: L_ρ over ``z = (x, t)``, the iterate reported is ``x``). The state stays
on the oracle's device; the updates make no host sync (ρ is a tensor, its increase a
``torch.where``); torch.optim.LBFGS syncs a few times per inner iteration (its loss and
convergence tests). An L-BFGS-B inner solve on unbounded z that stops before its gradient
tolerance (its line search defeated by the rounding of L_ρ) continues with ``_gradient_lbfgs``
(one sync per gradient). See docs/methods/auglag.md.
"""
from __future__ import annotations

__all__ = ["AugLag", "AugLagOptions"]

from dataclasses import dataclass
from typing import Any

from .._lazy import lazy_module
from ..options import SolverOptions, option
from ..solver import IterState
from ._gradient_lbfgs import gradient_lbfgs
from ._auglag_inner import FAST, inner_problem, prox_terms, resolve, run_inner
from ._nlp import ConstrainedSolver, Constraints

torch = lazy_module("torch")
np = lazy_module("numpy")


class AugLagOptions(SolverOptions):
    rho0: float = option(10.0, "initial penalty parameter", symbol="ρ0", gt=0)
    gamma: float = option(10.0, "penalty increase factor when infeasibility does not drop enough", symbol="γ", gt=1)
    tau: float = option(0.5, "required infeasibility decrease ratio V_k <= τ V_{k-1}", symbol="τ", gt=0, lt=1)
    inner: str = option(
        "auto", "inner solver of L_ρ: any registered solver accepting the inner minimize problem (bounds, prox "
                "terms); lbfgs: torch L-BFGS (bounds as PHR rows), lbfgsb: scipy L-BFGS-B (bounds kept); "
                "auto: the dispatch rule among the builtins (fista with prox terms, lbfgsb with bounds, else lbfgs)")
    inner_iterations: int = option(100, "inner iterations per outer iteration", ge=1)
    inner_tolerance: float = option(1e-10, "inner stop: max-norm of (projected) ∇L_ρ, at least", ge=0)
    inner_tolerance_factor: float = option(
        0.0, "inner stop at max(inner_tolerance, factor * min(1, V_{k-1})): loose while infeasible "
             "(Birgin & Martínez's ε_k -> 0; 0.1 cuts the d = 1e5 QP 4x); 0: always inner_tolerance", ge=0)
    history_size: int = option(10, "L-BFGS curvature pairs", ge=1)
    rho_max: float = option(1e8, "cap on ρ (larger values break the multiplier updates in floating point)", gt=0)
    feasibility_tol: float = option(1e-6, "no penalty increase once the infeasibility V_k is below this "
                                          "(Birgin & Martínez's ε_feas; the multipliers keep improving)", ge=0)
    multiplier_max: float = option(1e20, "safeguard |λ|, μ <= multiplier_max (Birgin & Martínez's λmax)", gt=0)


@dataclass(frozen=True, kw_only=True)
class AugLagState(IterState):
    cons: Any = None
    z: Any = None             # the inner solver's variables: x, then epigraph auxiliaries (if any)
    lam: Any = None           # equality multipliers (flat)
    mu: Any = None            # inequality multipliers: constraint rows, then the bound rows
    rho: Any = None           # 0-d tensor
    infeasibility: Any = None  # V_{k-1}, 0-d tensor
    duals: Any = None         # one tensor per constraints: line (cvxpy's convention)
    box: Any = None           # (lower rows, upper rows) index/values of the finite bounds, or None
    scipy_box: Any = None     # numpy (lower, upper) over z for the L-BFGS-B inner solver (its bounds), or None
    inner: str = ""           # the inner solver's name (option inner, auto resolved)
    generic: Any = None       # _auglag_inner.InnerProblem when a registered solver runs L_ρ (not lbfgs/lbfgsb)
    outer: int = 0


def _bound_rows(problem, cons, x0):
    box = cons.box(problem)
    if box is None:
        return None
    lower, upper = (torch.as_tensor(b, dtype=x0.dtype).to(x0.device) for b in box)
    lo, up = torch.isfinite(lower), torch.isfinite(upper)
    return lower, upper, lo, up


class AugLag(ConstrainedSolver):
    name = "auglag"
    paper = "Birgin & Martínez (2014), Practical Augmented Lagrangian Methods, SIAM; doi:10.1137/1.9781611973365"
    priority = 30
    Options = AugLagOptions
    description = ("augmented Lagrangian (PHR), inner L-BFGS (torch, on the device) or L-BFGS-B (scipy, with bounds), "
                   "Birgin-Martinez updates; GPU-capable")
    # torch.optim.LBFGS: float(loss) and its convergence tests, a few per inner iteration
    # (measured at most 4 per inner iteration on the kit's problems) x inner_iterations = 30;
    # L-BFGS-B (bounded problems by default): one (L_ρ, ∇L_ρ) copy per evaluation, at most
    # 2 x inner_iterations = 200, plus its start point
    host_syncs_per_step = 210

    @classmethod
    def prepare(cls):
        import torch.optim  # noqa: F401  (its first import, ~1 s with torch._dynamo, out of the timed region)

    def _ineq(self, state_box, cons, x):
        g = cons.ineq(x)
        if state_box is None:
            return g
        lower, upper, lo, up = state_box
        return torch.cat([g, (lower - x)[lo], (x - upper)[up]])

    def init(self, problem, oracle, x0, options):
        name, cons, generic = options.inner, None, None
        if name not in FAST and prox_terms(problem):      # prox terms kept for a prox inner solver (fista)
            cons = Constraints(problem, x0, epigraph=False)
            generic = inner_problem(problem, cons)
            name = resolve(name, generic, x0.device)
        if generic is None or name in FAST:
            cons = Constraints(problem, x0)
            generic = inner_problem(problem, cons) if name not in FAST else None
            name = resolve(name, generic, x0.device) if name not in FAST else name
        generic = None if name in FAST else generic
        box = _bound_rows(problem, cons, x0)
        z = cons.start(x0 if box is None else torch.clamp(x0, min=box[0][:x0.numel()], max=box[1][:x0.numel()]))
        scipy_box = None
        if name == "lbfgsb":
            scipy_box = cons.box(problem) or (np.full(cons.dim, -np.inf), np.full(cons.dim, np.inf))
        if name != "lbfgs":
            box = None      # the bounds stay the inner solver's, not PHR rows
        n_mu = cons.n_ineq + (0 if box is None else int(box[2].sum()) + int(box[3].sum()))
        zeros = lambda n: torch.zeros(n, dtype=x0.dtype, device=x0.device)   # noqa: E731
        return AugLagState(x=cons.original(z), z=z, cons=cons, lam=zeros(cons.n_eq), mu=zeros(n_mu), box=box,
                           scipy_box=scipy_box, inner=name, generic=generic,
                           rho=torch.as_tensor(options.rho0, dtype=x0.dtype, device=x0.device),
                           infeasibility=torch.as_tensor(float("inf"), dtype=x0.dtype, device=x0.device),
                           duals=cons.ls_multipliers(z, cons.value_and_grad(oracle, z, peek=True)[1]))   # a measurement

    def _penalty(self, state, x):
        cons, rho = state.cons, state.rho
        h = cons.eq(x) + state.lam / rho
        g = torch.relu(self._ineq(state.box, cons, x) + state.mu / rho)
        return 0.5 * rho * (torch.sum(h * h) + torch.sum(g * g))

    def _lagrangian(self, state, oracle, z):
        """L_ρ and its gradient at ``z`` (f, ∇f counted; the penalty by autograd)."""
        value, grad = state.cons.value_and_grad(oracle, z)
        with torch.enable_grad():
            zg = z.detach().requires_grad_(True)
            pen = self._penalty(state, zg)
            (gpen,) = torch.autograd.grad(pen, zg, allow_unused=True)
        return value.detach() + pen.detach(), grad + (gpen if gpen is not None else 0)

    @staticmethod
    def _inner_tol(state, options) -> float:
        """This outer iteration's inner tolerance (one host sync: V_{k-1})."""
        if not options.inner_tolerance_factor:
            return options.inner_tolerance
        return max(options.inner_tolerance, options.inner_tolerance_factor * min(1.0, float(state.infeasibility)))

    def _inner_lbfgsb(self, state, oracle, options):
        """scipy's L-BFGS-B on L_ρ within the bounds: (solution, capped)."""
        from scipy.optimize import Bounds, minimize
        cons = state.cons
        tol = self._inner_tol(state, options)

        def fun(z_np):
            value, grad = self._lagrangian(state, oracle, cons.tensor(z_np))
            host = cons.numpy(torch.cat([value.reshape(1), grad.reshape(-1)]))      # one sync
            return float(host[0]), host[1:].copy()
        res = minimize(fun, np.clip(cons.numpy(state.z), *state.scipy_box), jac=True, method="L-BFGS-B",
                       bounds=Bounds(*state.scipy_box),    # not a list of pairs: 0.7 s per call to convert at d = 1e5
                       options={"maxiter": options.inner_iterations, "maxcor": options.history_size,
                                "gtol": tol, "ftol": 0.0, "maxfun": 2 * options.inner_iterations})
        x, capped = cons.tensor(res.x), res.nit >= options.inner_iterations or res.nfev >= 2 * options.inner_iterations
        if not capped and np.abs(res.jac).max() > tol and not np.isfinite(state.scipy_box).any():
            # stopped by the rounding of L_ρ's values before the gradient tolerance (its line search failed or
            # found no decrease): go on with the gradient alone (_gradient_lbfgs; unbounded z only)
            x, _, _, ok = gradient_lbfgs(lambda z: self._lagrangian(state, oracle, z)[1], x, cons.tensor(res.jac),
                                         iterations=options.inner_iterations - res.nit,
                                         tolerance=tol, memory=options.history_size)
            capped = not ok
        return x, capped

    def _inner_lagrangian(self, state, z, smooth_only):
        """L_ρ at ``z`` for a registered inner solver (differentiable; ``smooth_only``: without prox terms)."""
        cons = state.cons
        tp, x = cons.tp, z[:cons.n]
        if cons.epigraph is not None:
            f = tp.functions["smooth"](x, None) + torch.dot(cons.epigraph.weights, z[cons.n:])
        elif smooth_only and state.generic.composite:
            f = tp.functions["smooth"](x, None)
        else:
            f = tp.objective(x, None)
        return f + self._penalty(state, z)

    def step(self, state, oracle, options):
        cons = state.cons
        if state.generic is not None:
            z, capped = run_inner(state.inner, state.generic, lambda z, smooth: self._inner_lagrangian(state, z, smooth),
                                  oracle, state.z, options, self._inner_tol(state, options))
            return self._update(state, z, capped, options)
        if state.scipy_box is not None:
            x, capped = self._inner_lbfgsb(state, oracle, options)
            return self._update(state, x, capped, options)
        p = state.z.detach().clone().requires_grad_(True)
        max_eval = 2 * options.inner_iterations
        opt = torch.optim.LBFGS([p], lr=1.0, max_iter=options.inner_iterations, max_eval=max_eval,
                                history_size=options.history_size,
                                line_search_fn="strong_wolfe", tolerance_grad=self._inner_tol(state, options),
                                tolerance_change=1e-16)

        def closure():
            opt.zero_grad()
            value, p.grad = self._lagrangian(state, oracle, p.detach())
            return value
        opt.step(closure)
        inner = opt.state[p]                 # Python ints: no sync
        capped = inner["n_iter"] >= options.inner_iterations or inner["func_evals"] >= max_eval
        return self._update(state, p.detach(), capped, options)

    def _update(self, state, x, capped, options):
        """Multipliers and penalty from the inner solution ``x`` (Birgin & Martínez, Alg. 4.1)."""
        cons = state.cons      # the updates read the inner solution; the reported iterate is projected
        h, g = cons.eq(x).detach(), self._ineq(state.box, cons, x).detach()
        if state.box is not None:
            x = torch.clamp(x, min=state.box[0], max=state.box[1])
        rho, cap = state.rho, options.multiplier_max
        infeas = torch.max(torch.cat([torch.abs(h), torch.abs(torch.maximum(g, -state.mu / rho)),
                                      torch.zeros(1, dtype=x.dtype, device=x.device)]))
        lam = torch.clamp(state.lam + rho * h, -cap, cap)
        mu = torch.clamp(state.mu + rho * g, 0.0, cap)
        # ρ grows when V_k > τ V_{k-1}, unless the inner solve stopped at its iteration cap before its
        # tolerance (then V_k is limited by the inner accuracy and a larger ρ only worsens it)
        grow = (infeas > options.tau * state.infeasibility) & (infeas > options.feasibility_tol) \
            & (not capped)
        new_rho = torch.where(grow, torch.clamp(options.gamma * rho, max=options.rho_max), rho)
        return AugLagState(x=cons.original(x), z=x, cons=cons, lam=lam, mu=mu, rho=new_rho, infeasibility=infeas,
                           box=state.box, scipy_box=state.scipy_box, inner=state.inner, generic=state.generic,
                           duals=cons.split(lam, mu[:cons.n_ineq]), outer=state.outer + 1)

    def report(self, state, oracle, options):
        return {"outer_iterations": state.outer, "penalty": float(state.rho), "inner_solver": state.inner}
