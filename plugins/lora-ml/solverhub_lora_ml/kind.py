"""``kind: lora_meta`` -- T linear regression tasks sharing a base matrix with
task-specific low-rank parts (the linear setting of arXiv 2410.22264, LoRA-ML);
the planted draw is in :mod:`.planted`.

YAML (kind sections)::

    planted: {d: 10, tasks: 3, rank: 1, n: 500, sigma: 0.1, seed: 0}
    new_task: {n: 100, seed: 1}
    finetune: {rank: null, steps: 2000, lr: 0.005, init_scale: 0.1, seed: 0}
    init: {scale: 0.1, seed: 0}

Variables (implied): ``A`` (d, d) and ``U`` (T, d, k). Objective (the meta loss)::

    f(A, U) = (1/T) sum_t (1/2N) ||Y_t - (A + U_t U_tᵀ) X_t||_F^2

evaluated exactly from the sufficient statistics S_t = X_tX_tᵀ/N, C_t = Y_tX_tᵀ/N,
s_t = ||Y_t||²/N (d x d work per task, whatever N). Default start: A = 0,
U ~ init.scale * N(0, 1) (the official code's start; U = 0 is a saddle).

``Result.extras`` (``report``): ``shared_error`` = ||A - A*||_F; the post-fine-tune loss
``post_finetune_loss`` = ||A + B Cᵀ - W_new||_F^2 (the excess test risk
E||(W - W_new) x||² for x ~ N(0, I)) after fitting a fresh asymmetric rank-r adapter
B Cᵀ (r = finetune.rank, default k when T >= 3 and 3k when T <= 2, as in the official
code) by ``finetune.steps`` GD steps with lr ``finetune.lr`` on the n' new-task samples
with A frozen; ``post_finetune_loss_rrr``: the same with the rank-r adapter that fits the n' samples best
(reduced-rank regression, closed form); ``pre_finetune_loss``
= ||A - W_new||_F^2. The fine-tune is evaluation: it is not counted as oracle calls.

Reference (``reference_solve``, named in the Result): L-BFGS-B (scipy) on the numpy meta
loss, started at the planted (A*, U*). The meta loss is nonconvex: the answer is a *local*
optimum next to the truth, not a global certificate.
"""
from __future__ import annotations

__all__ = ["LoraMeta", "LoraMetaSpec", "LoraMetaModel"]

import time
from dataclasses import dataclass

import numpy as np

from solverhub.plugin import Location, ModelKind, ProblemError, Reference, ReferenceStatus, lazy_module, max_elements

from .planted import (FinetuneSpec, InitSpec, LoraMetaSections, PlantedSpec, PlantedTasks, best_adapter, finetune,
                      generate, meta_loss_and_grad_numpy, meta_loss_numpy)

torch = lazy_module("torch")


@dataclass(frozen=True, eq=False)
class LoraMetaSpec:
    """The compiled sections (``problem.sections.model``): the drawn tasks and the evaluation."""

    planted: PlantedSpec
    tasks: PlantedTasks
    finetune: FinetuneSpec
    finetune_rank: int              # r of the new task's adapter
    init: InitSpec


class LoraMetaModel:
    """The meta loss on one device, from the sufficient statistics."""

    def __init__(self, spec: LoraMetaSpec, device, dtype):
        self.spec = spec
        p = spec.planted
        self.shapes = (p.d, p.d), (p.tasks, p.d, p.rank)
        self.S, self.C, self.s = (torch.as_tensor(a, dtype=dtype, device=device)
                                  for a in (spec.tasks.S, spec.tasks.C, spec.tasks.s))

    def split(self, x):
        """(A, U) views of the flat x = [vec A, vec U]."""
        (d, _), shape_U = self.shapes
        return x[:d * d].reshape(d, d), x[d * d:].reshape(shape_U)

    def objective(self, x, rows=None):
        A, U = self.split(x)
        W = A + U @ U.transpose(1, 2)
        return 0.5 * (((W @ self.S) * W).sum((1, 2)) - 2 * (W * self.C).sum((1, 2)) + self.s).mean()


class LoraMeta(ModelKind):
    name = "lora_meta"
    description = ("T linear tasks sharing a base with task-specific rank-k parts (LoRA-ML, arXiv 2410.22264); "
                   "objective: the meta loss over (A, U)")
    Sections = LoraMetaSections
    polishable = False
    generic_minimization = False     # the kind's solvers: lora-ml and retrain-standard
    no_cvxpy_reason = "the meta loss over (A, U) is nonconvex (no cvxpy form)"
    tiny_problem = """
name: tiny-lora-meta
kind: lora_meta
description: one task (T = 1), d = 3, rank 1; standard retraining and LoRA-ML both reach the least-squares fit
planted: {d: 3, tasks: 1, rank: 1, n: 40, sigma: 0.1, seed: 0}
new_task: {n: 20, seed: 1}
finetune: {steps: 200}
"""

    def implicit_variables(self, sections, data_shapes, location) -> dict:
        p = sections.planted
        return {"A": (p.d, p.d), "U": (p.tasks, p.d, p.rank)}

    def build_model(self, sections: LoraMetaSections, ctx) -> LoraMetaSpec:
        loc = lambda *path: Location(ctx.file, ctx.line_of(path))  # noqa: E731
        if ctx.symbols.data:
            name = next(iter(ctx.symbols.data))
            raise ProblemError(f"data: kind lora_meta generates its tasks (planted:); got data entry {name!r}",
                               location=loc("data", name), allowed="planted: {d, tasks, rank, n, sigma, seed}")
        p = sections.planted
        if p.rank > p.d:
            raise ProblemError(f"planted.rank: {p.rank} exceeds d = {p.d}", location=loc("planted", "rank"),
                               allowed=f"1 <= rank <= {p.d}")
        if p.tasks * p.d * p.n > max_elements() or sections.new_task.n * p.d > max_elements():
            raise ProblemError(f"planted: tasks x d x n = {p.tasks * p.d * p.n} elements exceeds the cap of "
                               f"{max_elements()}", location=loc("planted"), allowed=f"<= {max_elements()}")
        if sections.new_task.n < p.d:
            raise ProblemError(f"new_task.n: {sections.new_task.n} samples < d = {p.d}; the fine-tune's optimal "
                               "adapter is not determined", location=loc("new_task", "n"), allowed=f"n >= {p.d}")
        r = sections.finetune.rank or (p.rank if p.tasks >= 3 else 3 * p.rank)
        if r > p.d:
            raise ProblemError(f"finetune.rank: {r} exceeds d = {p.d}", location=loc("finetune"),
                               allowed=f"rank <= {p.d}")
        want = self.implicit_variables(sections, {}, None)
        declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        if declared != want:
            raise ProblemError(f"variables: {declared} do not match the model's {want}",
                               location=loc("variables"), allowed="omit variables: (the kind implies them)")
        return LoraMetaSpec(p, generate(p, sections.new_task), sections.finetune, r, sections.init)

    # -- torch -------------------------------------------------------------
    def torch_model(self, problem, device, dtype) -> LoraMetaModel:
        return LoraMetaModel(problem.sections.model, device, dtype)

    def start(self, problem) -> np.ndarray:
        """The file's x0 if it gives one (not all zeros), else A = 0, U ~ init.scale * N(0, 1)."""
        if np.any(problem.x0 != 0):
            return np.array(problem.x0, dtype=np.float64)
        spec: LoraMetaSpec = problem.sections.model
        p, init = spec.planted, spec.init
        x0 = np.zeros(problem.dim)
        x0[p.d * p.d:] = init.scale * np.random.default_rng(init.seed).standard_normal(p.tasks * p.d * p.rank)
        return x0

    def report(self, tp, oracle, x) -> dict:
        model: LoraMetaModel = tp.model
        spec = model.spec
        pl, ft, r = spec.tasks, spec.finetune, spec.finetune_rank
        with torch.no_grad():
            meta = float(model.objective(x))
            A = model.split(x)[0].detach()
            as_t = lambda a: torch.as_tensor(a, dtype=A.dtype, device=A.device)  # noqa: E731
            A_true, W_new, Xn, Yn = as_t(pl.A_true), as_t(pl.W_new), as_t(pl.X_new), as_t(pl.Y_new)
            delta, train = finetune(A, Xn, Yn, r, ft.steps, ft.lr, ft.init_scale, ft.seed)
            post = float(((A + delta - W_new) ** 2).sum())
            pre = float(((A - W_new) ** 2).sum())
            shared = float(torch.linalg.matrix_norm(A - A_true))
        A_np = A.cpu().numpy().astype(np.float64)
        best = best_adapter(A_np, pl.X_new, pl.Y_new, r)
        post_best = float(np.sum((A_np + best - pl.W_new) ** 2))
        return {"meta_loss": meta, "shared_error": shared,
                "shared_error_rel": shared / float(np.linalg.norm(pl.A_true)),
                "post_finetune_loss": post, "post_finetune_loss_rrr": post_best, "pre_finetune_loss": pre,
                "finetune_train_loss": float(train), "finetune_rank": r, "finetune_steps": ft.steps,
                "truth_meta_loss": meta_loss_numpy(pl.A_true, pl.U_true, pl.X, pl.Y)}

    # -- the reference ---------------------------------------------------------
    def reference_solve(self, problem, solver=None) -> Reference:
        """Classical reference: scipy L-BFGS-B on the numpy meta loss, started at the planted (A*, U*);
        a local optimum of the nonconvex meta loss."""
        from scipy.optimize import minimize
        spec: LoraMetaSpec = problem.sections.model
        p, pl = spec.planted, spec.tasks
        label = "classical: L-BFGS-B (scipy) on the meta loss from the planted (A*, U*)"
        t0 = time.perf_counter()
        res = minimize(meta_loss_and_grad_numpy, np.concatenate([pl.A_true.ravel(), pl.U_true.ravel()]),
                       args=(pl.S, pl.C, pl.s, p.d, p.tasks, p.rank), jac=True, method="L-BFGS-B",
                       options={"maxiter": 5000, "ftol": 0.0, "gtol": 1e-12})
        seconds = time.perf_counter() - t0
        if not np.isfinite(res.fun):
            return Reference(ReferenceStatus.FAILED, label, solve_time_s=seconds, message="no finite meta loss",
                             backend_status=str(res.message))
        return Reference(ReferenceStatus.LOCAL, label, x=res.x, solve_time_s=seconds, iterations=int(res.nit),
                         backend_status=str(res.message),
                         message="local optimum next to the planted parameters (nonconvex: a reference, "
                                 "not a global certificate)")
