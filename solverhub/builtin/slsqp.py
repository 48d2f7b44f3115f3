"""SLSQP: scipy's sequential least-squares quadratic programming (Kraft 1988, DFVLR-FB 88-28)
for smooth objectives with equality/inequality constraints and bounds; f and ∇f from the
counted torch oracle, constraint Jacobians by autograd. Runs in the shared loop through
``scipy_nlp`` (one solverhub iteration = one SLSQP iteration). Multipliers: scipy's
``res.multipliers`` at its last point (equalities negated into cvxpy's convention), and
least-squares estimates on the active constraints at the iterates in between.
See docs/methods/slsqp.md.
"""
from __future__ import annotations

__all__ = ["SLSQP", "SLSQPOptions"]

from .._lazy import lazy_module
from ..options import SolverOptions, option
from .scipy_nlp import ScipyNLPSolver

torch = lazy_module("torch")


class SLSQPOptions(SolverOptions):
    ftol: float = option(1e-16, "scipy's precision goal on f (its own stop); tiny: the run loop's tolerance decides",
                         gt=0)


class SLSQP(ScipyNLPSolver):
    name = "slsqp"
    paper = "Kraft (1988), DFVLR-FB 88-28; scipy.optimize.minimize(method='SLSQP')"
    method = "SLSQP"
    priority = 20
    Options = SLSQPOptions
    description = "SLSQP (scipy) with torch gradients and autograd constraint Jacobians; reports multipliers"
    # per step: one (f, ∇f) copy per evaluation, one copy per constraint value/Jacobian, the
    # least-squares multiplier estimate (measured at most 30 on the kit's problems)
    host_syncs_per_step = 60

    def scipy_constraints(self, cons, options):
        out = []
        if cons.n_eq:
            out.append({"type": "eq", "fun": lambda x: cons.numpy(cons.eq(cons.tensor(x))),
                        "jac": lambda x: cons.numpy(cons.jac_eq(cons.tensor(x)))})
        if cons.n_ineq:           # scipy's inequalities are c(x) >= 0: c = -g
            out.append({"type": "ineq", "fun": lambda x: -cons.numpy(cons.ineq(cons.tensor(x))),
                        "jac": lambda x: -cons.numpy(cons.jac_ineq(cons.tensor(x)))})
        return out

    def scipy_options(self, options):
        return {"ftol": options.ftol, "maxiter": 2**31 - 1}

    def multipliers(self, res, cons, x, grad):
        mult = getattr(res, "multipliers", None)
        if mult is None or len(mult) < cons.n_eq + cons.n_ineq:
            return cons.ls_multipliers(x, grad)
        mult = torch.as_tensor(mult, dtype=x.dtype, device=x.device)
        return cons.split(-mult[:cons.n_eq], mult[cons.n_eq:cons.n_eq + cons.n_ineq])
