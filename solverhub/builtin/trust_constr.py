"""trust-constr: scipy's trust-region interior-point / equality-constrained SQP method
(Byrd, Hribar & Nocedal 1999, doi:10.1137/S1052623497325107; Lalee, Nocedal & Plantenga 1998)
with f, ∇f and Hessian-vector products from the counted torch oracle, constraint Jacobians by
autograd and the constraints' Hessian-vector products by double backward (``hessian=hvp``;
``bfgs``: scipy's quasi-Newton updates instead). Runs in the shared loop through
``scipy_nlp`` (one solverhub iteration = one trust-constr iteration); multipliers are scipy's
``v`` at every iterate (already in cvxpy's convention for ``g(x) <= 0`` / ``h(x) = 0``).
See docs/methods/trust-constr.md.
"""
from __future__ import annotations

__all__ = ["TrustConstr", "TrustConstrOptions"]

from typing import Literal

from .._lazy import lazy_module
from ..options import SolverOptions, option
from .scipy_nlp import ScipyNLPSolver

torch = lazy_module("torch")
np = lazy_module("numpy")


class TrustConstrOptions(SolverOptions):
    hessian: Literal["hvp", "bfgs"] = option("hvp", "Hessians: exact products by autograd (hvp: oracle.hvp for f, "
                                                    "double backward for the constraints) or scipy's BFGS updates")
    gtol: float = option(0.0, "scipy's stop on the Lagrangian gradient's max-norm; 0: off, the loop decides (scipy's "
                              "interior-point test ignores the barrier parameter: any gtol > 0 may stop it with "
                              "complementarity ~ the barrier, e.g. 1.3e-6 from HS21's active bound)", ge=0)
    xtol: float = option(1e-14, "scipy's stop on the trust radius", gt=0)
    barrier_tol: float = option(1e-10, "scipy's final barrier parameter (interior point: complementarity ~ this)",
                                gt=0)
    initial_tr_radius: float = option(1.0, "scipy's initial trust radius", symbol="Δ0", gt=0)


class TrustConstr(ScipyNLPSolver):
    name = "trust-constr"
    paper = "Byrd, Hribar & Nocedal (1999), SIAM J. Optim. 9(4); doi:10.1137/S1052623497325107"
    method = "trust-constr"
    priority = 40
    Options = TrustConstrOptions
    description = "trust-constr (scipy) with torch gradients, Hessian-vector products and autograd Jacobians"
    # per step: one (f, ∇f) copy per evaluation, one per constraint value/Jacobian/Hessian-vector
    # product (its CG steps), the multipliers' copy (measured at most 80 on the kit's problems)
    host_syncs_per_step = 200

    def scipy_constraints(self, cons, options):
        from scipy.optimize import BFGS, NonlinearConstraint
        from scipy.sparse.linalg import LinearOperator
        out = []
        blocks = ((cons.eq, cons.jac_eq, cons.n_eq, 0.0), (cons.ineq, cons.jac_ineq, cons.n_ineq, -np.inf))
        for fn, jac, n, lb in blocks:
            if not n:
                continue

            def hess(x, v, fn=fn):
                xt, vt = cons.tensor(x), cons.tensor(v)
                matvec = lambda p: cons.numpy(cons.lagrangian_hvp(fn, xt, vt, cons.tensor(p).reshape(-1)))  # noqa: E731
                return LinearOperator((cons.dim, cons.dim), dtype=np.float64, matvec=matvec)
            out.append(NonlinearConstraint(lambda x, fn=fn: cons.numpy(fn(cons.tensor(x))), lb, 0.0,
                                           jac=lambda x, jac=jac: cons.numpy(jac(cons.tensor(x))),
                                           hess=hess if options.hessian == "hvp" else BFGS()))
        return out

    def extra_kwargs(self, oracle, cons, options):
        if options.hessian == "bfgs":
            from scipy.optimize import BFGS
            return {"hess": BFGS()}
        return {"hessp": lambda z, p: cons.numpy(cons.hvp(oracle, cons.tensor(z), cons.tensor(p)))}

    def scipy_options(self, options):
        return {"gtol": options.gtol, "xtol": options.xtol, "maxiter": 2**31 - 1,
                "initial_tr_radius": options.initial_tr_radius,
                "barrier_tol": options.barrier_tol}

    def multipliers(self, res, cons, x, grad):
        v = list(getattr(res, "v", None) or [])
        if len(v) < bool(cons.n_eq) + bool(cons.n_ineq):
            return cons.ls_multipliers(x, grad)
        lam = torch.zeros(0, dtype=x.dtype, device=x.device)
        mu = torch.zeros(0, dtype=x.dtype, device=x.device)
        if cons.n_eq:
            lam = torch.as_tensor(np.asarray(v.pop(0)), dtype=x.dtype, device=x.device).reshape(-1)
        if cons.n_ineq:
            mu = torch.as_tensor(np.asarray(v.pop(0)), dtype=x.dtype, device=x.device).reshape(-1)
        return cons.split(lam, mu)
