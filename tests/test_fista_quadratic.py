"""fista's affine-gradient path (quadratic smooth part, solverhub/problem/degree.py): the same
iterates as the generic path, one value_and_grad per accepted step, the generic path elsewhere."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from solverhub.builtin.fista import FISTA
from solverhub.problem.model import load_problem

pytestmark = pytest.mark.usefixtures("single_thread")

COMPOSITE = Path(__file__).resolve().parents[1] / "problems" / "composite"


@pytest.mark.parametrize("options", [{"lr": 1.0, "grow": 1.0}, {"lr": 1.0, "grow": 1.5},
                                     {"lr": 1.0, "grow": 1.0, "restart": False}])
def test_same_iterates_as_the_generic_path(drive, options):
    p = load_problem(COMPOSITE / "lasso.yaml")
    fast = drive(FISTA, p, {**options, "affine_gradient": True}, steps=30)
    slow = drive(FISTA, p, {**options, "affine_gradient": False}, steps=30)
    assert fast.states[0].grad is not None and slow.states[0].grad is None
    assert fast.states[-1].backtracks == slow.states[-1].backtracks >= 5      # lr = 1 is ~70x 1/L: backtracking
    if options.get("restart", True):
        assert int(fast.states[-1].restarts) == int(slow.states[-1].restarts)
    for a, b in zip(fast.states, slow.states):
        assert a.lr == b.lr and a.step_size == b.step_size and abs(float(a.t - b.t)) <= 1e-10 * float(b.t)
        assert torch.allclose(a.x, b.x, rtol=0, atol=1e-10)
        assert abs(float(a.smooth - b.smooth)) <= 1e-10 * max(1.0, abs(float(b.smooth)))


def test_one_value_and_grad_per_accepted_step(drive):
    p = load_problem(COMPOSITE / "lasso.yaml")
    L = np.linalg.norm(p.data["A"], 2) ** 2
    run = drive(FISTA, p, {"lr": 1 / L, "grow": 1.0}, steps=20)     # 1/L: every first trial is accepted
    assert run.states[-1].backtracks == 0
    assert run.oracle.counts["value_smooth"] == run.oracle.counts["grad_smooth"] == 21
    run = drive(FISTA, p, {"lr": 1.0}, steps=20)            # each failed trial: one more value_and_grad
    bt = run.states[-1].backtracks
    assert bt > 0 and run.oracle.counts["value_smooth"] == run.oracle.counts["grad_smooth"] == 21 + bt


def test_generic_path_when_not_quadratic(drive):
    p = load_problem(COMPOSITE / "l1_logreg.yaml")
    run = drive(FISTA, p, {"lr": 1e-3}, steps=5)
    assert run.states[-1].grad is None
    bt = run.states[-1].backtracks
    # a value at each trial point and a value_and_grad at each extrapolated point
    assert run.oracle.counts["grad_smooth"] == 6 and run.oracle.counts["value_smooth"] == 6 + 5 + bt
