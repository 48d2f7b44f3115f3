"""The constraint functions of a ``constrained`` problem as the NLP solvers (``slsqp``,
``trust-constr``, ``auglag``) use them: ``h(x) = 0`` and ``g(x) <= 0`` as flat torch
functions (the lowered violation forms of the ``constraints:`` lines, in file order), their
Jacobians by autograd, numpy wrappers for scipy, and the mapping of flat multipliers back to
one array per line in cvxpy's sign convention (∇f + Σ λᵢ∇gᵢ = 0, λ >= 0 on inequalities),
which the constrained kind's KKT measure and ``Result.duals`` read. Constraint evaluations
are not oracle calls (the oracle counts the objective).
"""
from __future__ import annotations

__all__ = ["Constraints", "ConstrainedSolver"]

from .._lazy import lazy_module
from ..solver import Acceptance, Capabilities, Refusal, RefusalCode, Solver

torch = lazy_module("torch")
np = lazy_module("numpy")


class Constraints:
    """``eq(z)``/``ineq(z)`` (flat, possibly empty), ``jac_eq``/``jac_ineq`` (rows x dim) and
    ``split(lam, mu)`` -> one multiplier tensor per ``constraints:`` line (then one per epigraph term).

    With an epigraph form (``structure.epigraph``: nonsmooth terms without a prox,
    ``solverhub.problem.epigraph``) the solvers work on ``z = (x, t)``: ``dim = n + n_aux``,
    the objective is ``smooth(x) + w·t`` (:meth:`value_and_grad`; the oracle's ``smooth``),
    the epigraph rows ``p_l(x) - t <= 0`` follow the lines' inequalities and :meth:`original`
    gives back ``x``. Without one, ``z = x`` and the objective is the oracle's f."""

    def __init__(self, problem, x0, epigraph: bool = True):
        tp = problem.lower_torch(x0.device, x0.dtype)
        self.tp = tp                        # the lowered problem (auglag's inner L_ρ reads f and s from it)
        self.lines = tuple(tp.constraints)
        self.structure = tp.structure       # h(x) and g(x), stacked in line order by the lowering
        # epigraph False: z = x, the nonsmooth terms left to the caller (auglag's prox inner solver)
        self.epigraph = tp.structure.epigraph if epigraph else None
        self.n = x0.numel()
        self.dtype, self.device = x0.dtype, x0.device
        self.dim = self.n + (self.epigraph.n_aux if self.epigraph is not None else 0)
        with torch.no_grad():
            self.sizes = tuple(int(torch.as_tensor(fn(x0)).numel()) for _, fn in self.lines)
        self.is_eq = tuple(op == "==" for op, _ in self.lines)
        if self.epigraph is not None:
            self.sizes += self.epigraph.row_counts
            self.is_eq += (False,) * len(self.epigraph.row_counts)
        self.n_eq = sum(n for n, e in zip(self.sizes, self.is_eq) if e)
        self.n_ineq = sum(n for n, e in zip(self.sizes, self.is_eq) if not e)

    # -- the (augmented) variables and objective ------------------------------
    def start(self, x0):
        """``z0``: ``x0`` and, with an epigraph, its tight auxiliaries."""
        return x0 if self.epigraph is None else torch.cat([x0, self.epigraph.tight(x0)])

    def original(self, z):
        return z[:self.n]

    def box(self, problem):
        """Flat numpy ``(lower, upper)`` over ``z`` (auxiliaries free), or None."""
        box = problem.structure.box(problem.variables)
        if box is None or self.epigraph is None:
            return box
        free = np.full(self.epigraph.n_aux, np.inf)
        return np.concatenate([box[0], -free]), np.concatenate([box[1], free])

    def value_and_grad(self, oracle, z, peek: bool = False):
        """Objective value and gradient at ``z`` (counted unless ``peek``)."""
        if self.epigraph is None:
            return oracle.peek_value_and_grad(z) if peek else oracle.value_and_grad(z)
        x, t = z[:self.n], z[self.n:]
        call = oracle.peek_value_and_grad if peek else oracle.value_and_grad
        value, grad = call(x, of="smooth")
        w = self.epigraph.weights
        return value + torch.dot(w, t), torch.cat([grad, w])

    def hvp(self, oracle, z, v):
        """Hessian-vector product of the objective (counted; the epigraph's linear part has none)."""
        if self.epigraph is None:
            return oracle.hvp(z, v)
        return torch.cat([oracle.hvp(z[:self.n], v[:self.n], of="smooth"), torch.zeros_like(v[self.n:])])

    def _or_empty(self, fn, x):
        return fn(x) if fn is not None else torch.zeros(0, dtype=self.dtype, device=self.device)

    def eq(self, z):
        return self._or_empty(self.structure.equalities, z[:self.n])

    def ineq(self, z):
        g = self._or_empty(self.structure.inequalities, z[:self.n])
        if self.epigraph is None:
            return g
        return torch.cat([g, self.epigraph.rows(z[:self.n], z[self.n:])])

    def _jac(self, fn, x, rows: int):
        if rows == 0:
            return torch.zeros(0, self.dim, dtype=self.dtype, device=self.device)
        with torch.enable_grad():
            return torch.autograd.functional.jacobian(fn, x.detach()).reshape(rows, self.dim)

    def jac_eq(self, x):
        return self._jac(self.eq, x, self.n_eq)

    def jac_ineq(self, x):
        return self._jac(self.ineq, x, self.n_ineq)

    def split(self, lam, mu):
        """Flat equality multipliers ``lam`` and inequality multipliers ``mu`` -> one tensor per line."""
        out, i, j = [], 0, 0
        for n, e in zip(self.sizes, self.is_eq):
            if e:
                out.append(lam[i:i + n])
                i += n
            else:
                out.append(mu[j:j + n])
                j += n
        return tuple(out)

    def lagrangian_hvp(self, fn, x, v, p):
        """``∇²(v · fn(x)) p`` by double backward (for scipy's constraint Hessians)."""
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(torch.sum(v * fn(xg)), xg, create_graph=True, allow_unused=True)
            if g is None or not g.requires_grad:      # affine constraints: zero curvature
                return torch.zeros_like(x)
            (hp,) = torch.autograd.grad(g, xg, grad_outputs=p, allow_unused=True)
        if hp is None:
            return torch.zeros_like(x)
        # at a kink (norm2(x) <= r at x = 0) the second derivative does not exist and double
        # backward gives NaN: take zero curvature there, as for an affine piece
        return torch.nan_to_num(hp, nan=0.0, posinf=0.0, neginf=0.0)

    # -- numpy wrappers (scipy) --------------------------------------------
    def tensor(self, x_np):
        return torch.as_tensor(np.asarray(x_np, dtype=np.float64), dtype=self.dtype).to(self.device)

    def numpy(self, t):
        return t.detach().to(torch.float64).cpu().numpy()

    def ls_multipliers(self, x, grad):
        """Least-squares multipliers at ``x``: argmin ‖∇f + Jᵀλ‖ over the equalities and the
        inequalities active within 1e-8 (others 0), inequality ones clipped at 0 (a measure for
        iterates of methods that do not report multipliers per iteration)."""
        je, ji, g = self.jac_eq(x), self.jac_ineq(x), self.ineq(x)
        active = g >= -1e-8 * (1 + torch.abs(g))
        jac = torch.cat([je, ji * active.to(ji.dtype).unsqueeze(1)])
        if jac.shape[0] == 0:
            return self.split(torch.zeros(0, dtype=x.dtype), torch.zeros(0, dtype=x.dtype))
        sol = torch.linalg.lstsq(jac.T.cpu(), -grad.reshape(-1, 1).cpu(), driver="gelsd").solution.reshape(-1)
        sol = sol.to(x.device)
        lam, mu = sol[:self.n_eq], torch.clamp(sol[self.n_eq:], min=0) * active
        return self.split(lam, mu)


class ConstrainedSolver(Solver):
    """What the constrained builtins share: kind ``constrained`` (and ``minimize`` with
    nonsmooth terms in epigraph form, see :meth:`accepts`), constraints and bounds, refusal of
    a problem with neither, dispatch priority ``priority`` on one."""

    kinds = ("constrained",)
    capabilities = Capabilities(constraints=True, bounds=True, nonsmooth=True)

    def accepts(self, problem):
        """Kind ``constrained``, and ``minimize`` with nonsmooth terms without a prox (epigraph form or
        the refusal saying why not): not listed in ``kinds``, whose tiny problem is smooth."""
        st = getattr(problem, "structure", None)
        if problem.kind.name == "minimize" and st is not None and st.unsplit:
            if problem.oracle_config.stochastic:
                return Refusal(RefusalCode.NEEDS_EXACT, "needs exact gradients (the problem's oracle is stochastic)")
            return self.accepts_problem(problem)
        return super().accepts(problem)

    def priority_for(self, problem):
        st = problem.structure
        return self.priority if st.has_constraint_functions or st.epigraph is not None else 0

    def accepts_problem(self, problem):
        st = problem.structure
        if st.epigraph is not None:
            return Acceptance(f"accepts kind {problem.kind.name!r}: nonsmooth term(s) "
                              f"{', '.join(t.text for t in st.epigraph.terms)} in epigraph form "
                              f"({st.epigraph.n_aux} auxiliary variable(s))")
        if st.unsplit:
            return Refusal(RefusalCode.STRUCTURE, f"the objective's nonsmooth term has no epigraph form: {st.no_epigraph}")
        if not problem.structure.has_constraint_functions:
            return Refusal(RefusalCode.STRUCTURE, "no constraints: lbfgsb or lbfgs solve this")
        return Acceptance(f"accepts kind {problem.kind.name!r}: {problem.structure.n_equalities} equality and "
                          f"{problem.structure.n_inequalities} inequality constraint line(s)"
                          + (" with variable bounds" if problem.has_bounds else ""))
