"""A stop that fires between two trace samples after the tolerance was met ends ``converged``:
with a log-spaced schedule the loop no longer sees every iterate, so a solver's "no progress"
at the attainable floor, or a budget, must not turn a solved run into a failure."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import torch

from solverhub.options import RunOptions
from solverhub.oracle import Oracle
from solverhub.result import Status
from solverhub.solver import IterState, NoOptions, Solver, run_loop


@dataclass(frozen=True, kw_only=True)
class HalvingState(IterState):
    k: int = 0


class Halving(Solver):
    """x <- x / 2 (stationarity of |x|^2 is 2|x|); reports ``failed`` ("no progress") at ``stop_at``."""

    name = "halving"
    kinds = ("minimize",)
    stop_at = 14

    def init(self, problem, oracle, x0, options):
        return HalvingState(x=x0)

    def step(self, state, oracle, options):
        k = state.k + 1
        stop = (Status.FAILED, "no progress") if k == self.stop_at else None
        return replace(state, x=state.x * 0.5, k=k, stop=stop)


def _measure(x, known):
    return (x * x).sum(), 2 * torch.linalg.vector_norm(x)


def _run(tolerance, **run):
    oracle = Oracle(lambda x, rows=None: (x * x).sum(), x0=torch.ones(3, dtype=torch.float64))
    options = RunOptions(tolerance=tolerance, **run)
    return run_loop(Halving(), None, oracle, oracle.x0.clone(), NoOptions(), options, _measure)


def test_a_failure_stop_after_the_tolerance_was_met_is_converged():
    # 2|x_k| = 2 sqrt(3) 2^-k: 4.2e-4 at the sampled k = 13, 2.1e-4 at k = 14 where the solver stops
    outcome = _run(3e-4)
    assert outcome.iterations == 14
    assert outcome.status is Status.CONVERGED
    assert "no progress" in outcome.message
    assert outcome.final_stationarity == pytest.approx(2 * 3 ** 0.5 * 2.0 ** -14, rel=1e-12)


def test_a_failure_stop_short_of_the_tolerance_stays_failed():
    outcome = _run(1e-6)            # 2 sqrt(3) 2^-14 = 2.1e-4 > 1e-6
    assert outcome.status is Status.FAILED
    assert outcome.message == "no progress"


def test_max_iterations_between_samples_with_the_tolerance_met_is_converged():
    # 2 sqrt(3) 2^-12 = 8.5e-4 <= 1e-3 at k = 12, which the default schedule (10, 13, ...) skips
    outcome = _run(1e-3, max_iterations=12)
    assert outcome.status is Status.CONVERGED and "max_iterations=12" in outcome.message
