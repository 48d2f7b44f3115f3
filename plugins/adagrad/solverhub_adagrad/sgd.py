"""Constant-step SGD, the reference method of arXiv 2406.04592, and a step tuner.

    x_{t+1} = x_t − lr · g_t,   g_t = oracle gradient at x_t (exact, minibatch or noisy)

The paper compares AdaGrad with SGD at its *tuned* constant step (:func:`tune_step`
picks the best of a grid by the mean over seeds of min_t ‖∇f(x_t)‖₁). The default
``lr`` is a safe, untuned 1/(2L), L = ‖∇²f(x₀)‖₂ by ``lipschitz_estimate`` (10 hvp
calls), as ``gd`` takes on stochastic oracles (Bottou, Curtis & Nocedal 2018, Thm 4.6). Plain SGD: no momentum, line search or decay. No host syncs
in ``step``. Details: docs/methods/adagrad.md.
"""
from __future__ import annotations

__all__ = ["SGDOptions", "SGDState", "SGD", "TuneResult", "tune_step", "DEFAULT_LR_GRID"]

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping, Sequence

from solverhub.plugin import Capabilities, IterState, Solver, lazy_module
from solverhub.plugin import SolverOptions, lipschitz_estimate, option

from .stats import GradNormStats, stats_gradient, stats_report

torch = lazy_module("torch")

# Half-decade grid, 1e-4 .. 1: wide enough for L between ~1 and ~1e4 at unit noise.
DEFAULT_LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


class SGDOptions(SolverOptions):
    """Options of ``sgd``."""

    lr: float | None = option(None, "constant step; null: 1/(2L), L estimated at x₀ (tune it: tune_step)",
                              symbol="η", gt=0)
    grad_stats: Literal["exact", "oracle", "off"] = option("exact", "gradient behind the min/mean-over-t extras")


@dataclass(frozen=True, kw_only=True)
class SGDState(IterState):
    stats: GradNormStats
    lr: Any = None


class SGD(Solver):
    """Plain constant-step (stochastic) gradient descent; stationarity in ‖∇f‖₁ like ``adagrad``."""

    name = "sgd"
    paper = "arXiv:2406.04592 (reference method: SGD with a tuned constant step)"
    kinds = ("minimize", "finite_sum")
    capabilities = Capabilities(stochastic_ok=True)
    priority = 1
    Options = SGDOptions
    stationarity_measure = "grad_norm_l1"
    description = "plain SGD with a constant step lr (tune it); l1 gradient-norm stationarity"

    def init(self, problem, oracle, x0, options: SGDOptions) -> SGDState:
        x = x0.detach().reshape(-1).to(device=oracle.device, dtype=oracle.dtype)
        lr = 0.5 / lipschitz_estimate(oracle, x) if options.lr is None else options.lr
        return SGDState(x=x, stats=GradNormStats.empty(x), lr=lr)

    def step(self, state: SGDState, oracle, options: SGDOptions) -> SGDState:
        g = oracle.grad(state.x)
        stats = state.stats.update(stats_gradient(oracle, state.x, g, options.grad_stats))
        return replace(state, x=state.x - state.lr * g, stats=stats, value=None, grad=None)

    def report(self, state: SGDState, oracle, options) -> dict:
        return {**stats_report(state.stats, options.grad_stats, state.x, oracle), "lr": float(state.lr)}


@dataclass(frozen=True)
class TuneResult:
    """Outcome of :func:`tune_step`: the best grid value and every value's score."""

    option: str
    best: float
    best_score: float
    scores: dict = field(default_factory=dict)        # grid value -> mean score over seeds (inf: diverged)
    results: dict = field(default_factory=dict, repr=False)   # grid value -> [Result per seed]

    @property
    def at_edge(self) -> bool:
        """True if the best value is the smallest or largest of the grid: widen the grid."""
        grid = sorted(self.scores)
        return self.best in (grid[0], grid[-1])


def _score(result, score: str) -> float:
    if result.status.is_failure:
        return math.inf
    value = result.stationarity.value if score == "stationarity" else result.extras.get(score)
    return float(value) if value is not None and math.isfinite(value) else math.inf


def tune_step(problem, solver: str | type = "sgd", *, option: str = "lr",
              grid: Sequence[float] = DEFAULT_LR_GRID, seeds: Sequence[int] = (0,),
              options: Mapping[str, Any] | None = None, score: str = "grad_l1_min") -> TuneResult:
    """Run ``solver`` at every ``option`` value of ``grid`` and seed; keep the best mean ``score``
    (a key of ``Result.extras``, or ``"stationarity"``; failed runs score +inf; ties go to the
    earlier grid value). Give every run the same budget in ``options``."""
    import solverhub
    from solverhub.plugin import Problem
    if not isinstance(problem, Problem):
        problem = solverhub.load_problem(problem)
    if not grid:
        raise ValueError("grid must hold at least one value")
    scores, results = {}, {}
    for value in grid:
        runs = [solverhub.solve(problem, solver, options={**dict(options or {}), option: value}, seed=seed)
                for seed in seeds]
        results[value] = runs
        scores[value] = sum(_score(r, score) for r in runs) / len(runs)
    best = min(grid, key=lambda v: scores[v])
    return TuneResult(option, best, scores[best], scores, results)
