"""The planted model of ``kind: lora_meta`` (the linear setting of arXiv 2410.22264) in numpy,
float64: the YAML sections, the seeded draw, the meta loss written independently of the torch
one (the baseline's), and the new-task fine-tune (GD on a rank-r adapter; reduced-rank
regression as its closed form). Planted (``default_rng(planted.seed)``, all N(0, 1))::

    A* (d x d),  U*_t (d x k),  X_t (d x N),  Y_t = (A* + U*_t U*_tᵀ) X_t + sigma * N(0, 1)

New task (``default_rng(new_task.seed)``): W_new = A* + u uᵀ, Y' = W_new X' + sigma * noise.
``planted.symmetric``: A* = (G + Gᵀ)/2 as the official code. Reconstructed [R]: these
standard-normal laws and noise std sigma (the official code: std sigma², i.e. write 0.01 for its 0.1).
"""
from __future__ import annotations

__all__ = ["LoraMetaSections", "PlantedSpec", "NewTaskSpec", "FinetuneSpec", "InitSpec", "PlantedTasks",
           "generate", "meta_loss_numpy", "meta_loss_and_grad_numpy", "finetune", "best_adapter"]

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from solverhub.plugin import lazy_module

torch = lazy_module("torch")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantedSpec(_Strict):
    d: int = Field(10, gt=0, le=200)
    tasks: int = Field(3, gt=0, le=100)
    rank: int = Field(1, gt=0)
    n: int = Field(500, gt=0)
    sigma: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)
    symmetric: bool = False         # A* = (G + Gᵀ)/2 (the official linear code) instead of G


class NewTaskSpec(_Strict):
    n: int = Field(100, gt=0)
    seed: int = Field(1, ge=0)


class FinetuneSpec(_Strict):
    rank: int | None = Field(None, gt=0)
    steps: int = Field(2000, ge=0, le=100_000)
    lr: float = Field(0.005, gt=0)
    init_scale: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)


class InitSpec(_Strict):
    scale: float = Field(0.1, ge=0)
    seed: int = Field(0, ge=0)


class LoraMetaSections(_Strict):
    planted: PlantedSpec
    new_task: NewTaskSpec = NewTaskSpec()
    finetune: FinetuneSpec = FinetuneSpec()
    init: InitSpec = InitSpec()


@dataclass(frozen=True, eq=False)
class PlantedTasks:
    """The drawn tasks and new task, with the sufficient statistics of the meta loss."""

    A_true: np.ndarray     # (d, d)
    U_true: np.ndarray     # (T, d, k)
    X: np.ndarray          # (T, d, N)
    Y: np.ndarray          # (T, d, N)
    S: np.ndarray          # (T, d, d): X_t X_tᵀ / N
    C: np.ndarray          # (T, d, d): Y_t X_tᵀ / N
    s: np.ndarray          # (T,): ||Y_t||² / N
    W_new: np.ndarray      # (d, d): the new task's matrix
    X_new: np.ndarray      # (d, n')
    Y_new: np.ndarray      # (d, n')


def generate(p: PlantedSpec, new: NewTaskSpec) -> PlantedTasks:
    """Draw the planted tasks and the new task."""
    d, T, k, N = p.d, p.tasks, p.rank, p.n
    rng = np.random.default_rng(p.seed)
    A = rng.standard_normal((d, d))
    if p.symmetric:
        A = 0.5 * (A + A.T)
    U = rng.standard_normal((T, d, k))
    X = rng.standard_normal((T, d, N))
    W = A[None] + U @ U.transpose(0, 2, 1)
    Y = W @ X + p.sigma * rng.standard_normal((T, d, N))
    rng2 = np.random.default_rng(new.seed)
    u = rng2.standard_normal((d, k))
    W_new = A + u @ u.T
    Xn = rng2.standard_normal((d, new.n))
    Yn = W_new @ Xn + p.sigma * rng2.standard_normal((d, new.n))
    return PlantedTasks(A_true=A, U_true=U, X=X, Y=Y, S=X @ X.transpose(0, 2, 1) / N, C=Y @ X.transpose(0, 2, 1) / N,
                        s=np.einsum("tij,tij->t", Y, Y) / N, W_new=W_new, X_new=Xn, Y_new=Yn)


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
