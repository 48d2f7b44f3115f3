"""``kind: lora_meta`` -- T linear regression tasks sharing a base matrix with
task-specific low-rank parts (the linear setting of arXiv 2410.22264, LoRA-ML).

Planted model (seeded; every draw from ``numpy.random.default_rng(planted.seed)``)::

    A*      (d x d)   entries N(0, 1)
    U*_t    (d x k)   entries N(0, 1),            t = 1..T
    X_t     (d x N)   entries N(0, 1)
    Y_t = (A* + U*_t U*_tᵀ) X_t + sigma * N(0, 1)

The new (test) task uses ``numpy.random.default_rng(new_task.seed)``:
u (d x k) ~ N(0, 1), W_new = A* + u uᵀ, X' (d x n') ~ N(0, 1), Y' = W_new X' + sigma * noise.

YAML (kind sections)::

    planted: {d: 10, tasks: 3, rank: 1, n: 500, sigma: 0.1, seed: 0}
    new_task: {n: 100, seed: 1}
    finetune: {rank: null, steps: 2000, lr: 0.005, init_scale: 0.1, seed: 0}
    init: {scale: 0.1, seed: 0}

Variables (implied): ``A`` (d, d) and ``U`` (T, d, k). Objective (the meta loss,
minimisable by every gradient method)::

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

Baseline (classical, named in the Result): L-BFGS-B (scipy) on a numpy meta loss
written independently of the torch one, started at the planted (A*, U*). The meta
loss is nonconvex: it is a reference local optimum next to the truth, not a global
certificate.

Reconstructed [R]: the distributions of A*, U*_t, u (the paper's code draws its own;
we use standard normals), noise std = sigma (the official code's noise std is sigma²,
a quirk we do not copy), and the fine-tune's number of steps.
"""
from __future__ import annotations

__all__ = ["LoraMeta", "LoraMetaSections", "PlantedSpec", "NewTaskSpec", "FinetuneSpec", "InitSpec",
           "generate", "meta_loss_numpy", "meta_loss_and_grad_numpy", "finetune", "best_adapter"]

import time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import (CompiledSections, Const, CvxpySolution, Location, NoBaseline, ProblemError, ProblemKind,
                              TorchProblem, lazy_module, max_elements)

torch = lazy_module("torch")


class PlantedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    d: int = Field(10, gt=0, le=200)
    tasks: int = Field(3, gt=0, le=100)
    rank: int = Field(1, gt=0)
    n: int = Field(500, gt=0)
    sigma: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)


class NewTaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n: int = Field(100, gt=0)
    seed: int = Field(1, ge=0)


class FinetuneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rank: int | None = Field(None, gt=0)
    steps: int = Field(2000, ge=0, le=100_000)
    lr: float = Field(0.005, gt=0)
    init_scale: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)


class InitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)


class LoraMetaSections(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    planted: PlantedSpec
    new_task: NewTaskSpec = NewTaskSpec()
    finetune: FinetuneSpec = FinetuneSpec()
    init: InitSpec = InitSpec()


# ---------------------------------------------------------------------------
# the planted model (numpy, float64)
# ---------------------------------------------------------------------------

def generate(p: PlantedSpec, new: NewTaskSpec) -> dict:
    """Draw the planted tasks and the new task; return the arrays and sufficient statistics."""
    d, T, k, N = p.d, p.tasks, p.rank, p.n
    rng = np.random.default_rng(p.seed)
    A = rng.standard_normal((d, d))
    U = rng.standard_normal((T, d, k))
    X = rng.standard_normal((T, d, N))
    W = A[None] + U @ U.transpose(0, 2, 1)
    Y = W @ X + p.sigma * rng.standard_normal((T, d, N))
    rng2 = np.random.default_rng(new.seed)
    u = rng2.standard_normal((d, k))
    W_new = A + u @ u.T
    Xn = rng2.standard_normal((d, new.n))
    Yn = W_new @ Xn + p.sigma * rng2.standard_normal((d, new.n))
    return {"A_true": A, "U_true": U, "W_new": W_new, "X_new": Xn, "Y_new": Yn,
            "S": X @ X.transpose(0, 2, 1) / N, "C": Y @ X.transpose(0, 2, 1) / N,
            "s": np.einsum("tij,tij->t", Y, Y) / N, "X": X, "Y": Y}


def meta_loss_numpy(A, U, X, Y) -> float:
    """(1/T) sum_t (1/2N) ||Y_t - (A + U_tU_tᵀ) X_t||² from the raw samples (independent of the torch form)."""
    T, _, N = X.shape
    R = Y - (A[None] + U @ U.transpose(0, 2, 1)) @ X
    return float(0.5 * np.sum(R ** 2) / (N * T))


def meta_loss_and_grad_numpy(theta, S, C, s, d, T, k):
    """Meta loss and gradient over theta = [vec A, vec U] from the sufficient statistics (numpy)."""
    A = theta[:d * d].reshape(d, d)
    U = theta[d * d:].reshape(T, d, k)
    W = A[None] + U @ U.transpose(0, 2, 1)
    WS = W @ S
    f = 0.5 * np.mean(np.einsum("tij,tij->t", WS, W) - 2 * np.einsum("tij,tij->t", W, C) + s)
    G = (WS - C) / T                              # d f / d W_t
    gA = G.sum(0)
    gU = (G + G.transpose(0, 2, 1)) @ U
    return f, np.concatenate([gA.ravel(), gU.ravel()])


def best_adapter(A, Xn, Yn, r: int):
    """The optimal rank-r Δ of min ||Yn - (A + Δ) Xn||² (reduced-rank regression, needs n' >= d)."""
    n = Xn.shape[1]
    R = Yn - A @ Xn
    S = Xn @ Xn.T / n
    Q = R @ Xn.T / n
    evals, evecs = np.linalg.eigh(S)
    inv_half = (evecs / np.sqrt(evals)) @ evecs.T
    Uq, sq, Vq = np.linalg.svd(Q @ inv_half)
    M = (Uq[:, :r] * sq[:r]) @ Vq[:r]
    return M @ inv_half


def finetune(A, Xn, Yn, r: int, steps: int, lr: float, init_scale: float, seed: int):
    """GD on a fresh asymmetric adapter B Cᵀ (rank r) with A frozen, on (1/2n') ||Yn - (A + BCᵀ) Xn||².
    Torch tensors in (A on its device/dtype); returns (Δ = B Cᵀ, final train loss)."""
    d, n = Xn.shape
    rng = np.random.default_rng(seed)
    B = torch.as_tensor(init_scale * rng.standard_normal((d, r)), dtype=A.dtype, device=A.device)
    Cm = torch.as_tensor(init_scale * rng.standard_normal((d, r)), dtype=A.dtype, device=A.device)
    S = Xn @ Xn.T / n
    Q = (Yn - A @ Xn) @ Xn.T / n
    for _ in range(steps):
        G = B @ (Cm.T @ S) - Q                  # d/dΔ of (1/2n')||R - Δ Xn||²
        B, Cm = B - lr * G @ Cm, Cm - lr * G.T @ B
    delta = B @ Cm.T
    resid = Yn - (A + delta) @ Xn
    return delta, 0.5 * (resid ** 2).sum() / n


# ---------------------------------------------------------------------------
# the kind
# ---------------------------------------------------------------------------

class LoraMeta(ProblemKind):
    name = "lora_meta"
    description = ("T linear tasks sharing a base with task-specific rank-k parts (LoRA-ML, arXiv 2410.22264); "
                   "objective: the meta loss over (A, U)")
    Sections = LoraMetaSections
    polishable = False
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

    def compile(self, sections: LoraMetaSections, ctx) -> CompiledSections:
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
        want = {"A": (p.d, p.d), "U": (p.tasks, p.d, p.rank)}
        declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        if declared != want:
            raise ProblemError(f"variables: {declared} do not match the model's {want}",
                               location=loc("variables"), allowed="omit variables: (the kind implies them)")
        planted = generate(p, sections.new_task)
        return CompiledSections(objective=Const(shape=(), value=0.0),
                                extra={"planted": planted, "spec": p, "new_task": sections.new_task,
                                       "finetune": sections.finetune, "finetune_rank": r, "init": sections.init})

    # -- torch -------------------------------------------------------------
    @staticmethod
    def default_start(problem) -> np.ndarray:
        """The file's x0 if it gives one (not all zeros), else A = 0, U ~ init.scale * N(0, 1)."""
        if np.any(problem.x0 != 0):
            return np.array(problem.x0, dtype=np.float64)
        init, p = problem.sections.extra["init"], problem.sections.extra["spec"]
        x0 = np.zeros(problem.dim)
        x0[p.d * p.d:] = init.scale * np.random.default_rng(init.seed).standard_normal(p.tasks * p.d * p.rank)
        return x0

    def lower_torch(self, problem, device, dtype) -> TorchProblem:
        extra = problem.sections.extra
        p, pl = extra["spec"], extra["planted"]
        d, T, k = p.d, p.tasks, p.rank
        S, C, s = (torch.as_tensor(pl[key], dtype=dtype, device=device) for key in ("S", "C", "s"))
        nA = d * d

        def unflatten(x):
            return {"A": x[:nA].reshape(d, d), "U": x[nA:].reshape(T, d, k)}

        def objective(x, rows=None):
            A, U = x[:nA].reshape(d, d), x[nA:].reshape(T, d, k)
            W = A + U @ U.transpose(1, 2)
            WS = W @ S
            return 0.5 * ((WS * W).sum((1, 2)) - 2 * (W * C).sum((1, 2)) + s).mean()

        x0 = torch.as_tensor(self.default_start(problem), dtype=dtype, device=device)
        tp = TorchProblem(objective=objective, constraints=(), unflatten=unflatten, x0=x0)
        tp.lora_meta = {"spec": p, "planted": pl, "finetune": extra["finetune"], "rank": extra["finetune_rank"]}
        return tp

    def report(self, tp, oracle, x) -> dict:
        info = tp.lora_meta
        p, pl, ft, r = info["spec"], info["planted"], info["finetune"], info["rank"]
        with torch.no_grad():
            meta = float(tp.objective(x))
            A = tp.unflatten(x)["A"].detach()
            as_t = lambda a: torch.as_tensor(a, dtype=A.dtype, device=A.device)  # noqa: E731
            A_true, W_new, Xn, Yn = (as_t(pl[key]) for key in ("A_true", "W_new", "X_new", "Y_new"))
            delta, train = finetune(A, Xn, Yn, r, ft.steps, ft.lr, ft.init_scale, ft.seed)
            post = float(((A + delta - W_new) ** 2).sum())
            pre = float(((A - W_new) ** 2).sum())
            shared = float(torch.linalg.matrix_norm(A - A_true))
        A_np = A.cpu().numpy().astype(np.float64)
        best = best_adapter(A_np, pl["X_new"], pl["Y_new"], r)
        post_best = float(np.sum((A_np + best - pl["W_new"]) ** 2))
        return {"meta_loss": meta, "shared_error": shared,
                "shared_error_rel": shared / float(np.linalg.norm(pl["A_true"])),
                "post_finetune_loss": post, "post_finetune_loss_rrr": post_best, "pre_finetune_loss": pre,
                "finetune_train_loss": float(train), "finetune_rank": r, "finetune_steps": ft.steps,
                "truth_meta_loss": meta_loss_numpy(pl["A_true"], pl["U_true"], pl["X"], pl["Y"])}

    # -- baseline ------------------------------------------------------------
    def lower_cvxpy(self, problem):
        raise NoBaseline("the meta loss over (A, U) is nonconvex (no cvxpy form); the kind's baseline is "
                         "L-BFGS-B on the meta loss from the planted parameters (solverhub baseline FILE)")

    def cvxpy_solve(self, problem, solver=None) -> CvxpySolution:
        """Classical reference: scipy L-BFGS-B on the numpy meta loss, started at the planted (A*, U*)."""
        from scipy.optimize import minimize
        extra = problem.sections.extra
        p, pl = extra["spec"], extra["planted"]
        start = np.concatenate([pl["A_true"].ravel(), pl["U_true"].ravel()])
        label = "classical: L-BFGS-B (scipy) on the meta loss from the planted (A*, U*)"
        t0 = time.perf_counter()
        res = minimize(meta_loss_and_grad_numpy, start, args=(pl["S"], pl["C"], pl["s"], p.d, p.tasks, p.rank),
                       jac=True, method="L-BFGS-B", options={"maxiter": 5000, "ftol": 0.0, "gtol": 1e-12})
        if not np.isfinite(res.fun):
            return CvxpySolution("failed", None, None, label, time.perf_counter() - t0, "no finite meta loss")
        return CvxpySolution("optimal", res.x, None, label, time.perf_counter() - t0,
                             "local optimum next to the planted parameters (nonconvex: a reference, "
                             "not a global certificate)", extras={"iterations": int(res.nit)})
