"""``kind: lora_meta`` -- T linear regression tasks sharing a base matrix with task-specific
low-rank parts (the linear setting of arXiv 2410.22264, LoRA-ML); the planted draw is in
:mod:`.planted`. Sections, extras and the reference: ``docs/methods/lora-ml.md``.

Variables (implied): ``A`` (d, d) and ``U`` (T, d, k). Objective (the meta loss)::

    f(A, U) = (1/T) sum_t (1/2N) ||Y_t - (A + U_t U_tᵀ) X_t||_F^2

evaluated exactly from the sufficient statistics S_t = X_tX_tᵀ/N, C_t = Y_tX_tᵀ/N,
s_t = ||Y_t||²/N. Default start: A = 0, U ~ init.scale * N(0, 1) (U = 0 is a saddle).
``report`` fine-tunes a fresh rank-r adapter on the new task (evaluation, uncounted);
``reference_solve`` is L-BFGS-B (scipy) from the planted (A*, U*): a *local* optimum.
"""
from __future__ import annotations

__all__ = ["LoraMeta", "LoraMetaSpec", "LoraMetaModel"]

import time
from dataclasses import dataclass

import numpy as np

from solverhub.plugin import ModelKind, ProblemError, Reference, ReferenceStatus, lazy_module

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
        self.spec, p = spec, spec.planted
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
    start_seed = ("init", "seed")      # unset in the file: the run's seed draws the start
    description = ("T linear tasks sharing a base with task-specific rank-k parts (LoRA-ML, arXiv 2410.22264); "
                   "objective: the meta loss over (A, U)")
    Sections = LoraMetaSections
    polishable = False
    data_names = ()                  # the tasks are planted, not read
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
        p, n_new = sections.planted, sections.new_task.n
        if p.rank > p.d:
            raise ProblemError(f"planted.rank: {p.rank} exceeds d = {p.d}", location=ctx.location("planted", "rank"),
                               allowed=f"1 <= rank <= {p.d}")
        for what, shape in (("planted X_t", (p.tasks, p.d, p.n)), ("planted Y_t", (p.tasks, p.d, p.n)),
                            ("new task X'", (p.d, n_new)), ("new task Y'", (p.d, n_new))):
            ctx.charge(shape, ("planted",), what)
        if n_new < p.d:
            raise ProblemError(f"new_task.n: {n_new} samples < d = {p.d}; the fine-tune's optimal adapter is "
                               "not determined", location=ctx.location("new_task", "n"), allowed=f"n >= {p.d}")
        r = sections.finetune.rank or (p.rank if p.tasks >= 3 else 3 * p.rank)
        if r > p.d:
            raise ProblemError(f"finetune.rank: {r} exceeds d = {p.d}", location=ctx.location("finetune"),
                               allowed=f"rank <= {p.d}")
        return LoraMetaSpec(p, generate(p, sections.new_task), sections.finetune, r, sections.init)

    def torch_model(self, problem, device, dtype) -> LoraMetaModel:
        return LoraMetaModel(problem.sections.model, device, dtype)

    def default_start(self, problem, seed=None) -> np.ndarray:
        """A = 0, U ~ init.scale * N(0, 1) (the official code's start)."""
        spec: LoraMetaSpec = problem.sections.model
        p, init = spec.planted, spec.init
        x0 = np.zeros(problem.dim)
        x0[p.d * p.d:] = init.scale * np.random.default_rng(init.seed if seed is None else seed).standard_normal(p.tasks * p.d * p.rank)
        return x0

    def report(self, tp, oracle, x) -> dict:
        model: LoraMetaModel = tp.model
        pl, ft, r = model.spec.tasks, model.spec.finetune, model.spec.finetune_rank
        with torch.no_grad():
            meta = float(model.objective(x))
            A = model.split(x)[0].detach()
            A_true, W_new, Xn, Yn = (torch.as_tensor(a, dtype=A.dtype, device=A.device)
                                     for a in (pl.A_true, pl.W_new, pl.X_new, pl.Y_new))
            delta, train = finetune(A, Xn, Yn, r, ft.steps, ft.lr, ft.init_scale, ft.seed)
            post, pre = float(((A + delta - W_new) ** 2).sum()), float(((A - W_new) ** 2).sum())
            shared = float(torch.linalg.matrix_norm(A - A_true))
        A_np = A.cpu().numpy().astype(np.float64)
        post_best = float(np.sum((A_np + best_adapter(A_np, pl.X_new, pl.Y_new, r) - pl.W_new) ** 2))
        return {"meta_loss": meta, "shared_error": shared,
                "shared_error_rel": shared / float(np.linalg.norm(pl.A_true)),
                "post_finetune_loss": post, "post_finetune_loss_rrr": post_best, "pre_finetune_loss": pre,
                "finetune_train_loss": float(train), "finetune_rank": r, "finetune_steps": ft.steps,
                "truth_meta_loss": meta_loss_numpy(pl.A_true, pl.U_true, pl.X, pl.Y)}

    def reference_solve(self, problem, solver=None) -> Reference:
        """scipy L-BFGS-B on the numpy meta loss from the planted (A*, U*): a local optimum."""
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
