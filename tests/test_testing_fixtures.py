"""The pytest fixtures solverhub.testing registers (entry point pytest11) for any plugin's tests."""
import pytest
import torch

from solverhub.builtin.gd import GradientDescent
from solverhub.testing import TINY_PROBLEMS

pytestmark = pytest.mark.usefixtures("single_thread")


def test_single_thread():
    assert torch.get_num_threads() == 1


def test_make_oracle_drive_and_count_host_syncs(drive, make_oracle, count_host_syncs):
    oracle = make_oracle(TINY_PROBLEMS["minimize"])
    assert oracle.x0.dtype == torch.float64 and oracle.counts["grad"] == 0
    syncs = count_host_syncs(phases={"in_step": (GradientDescent, "step")})
    run = drive(GradientDescent, TINY_PROBLEMS["minimize"], None, 5)
    assert len(run.states) == 6 and run.final is run.states[-1]
    assert len(syncs.calls["in_step"]) == 5 and syncs["in_step"] == sum(syncs.calls["in_step"]) >= 5  # Armijo
    kept = drive(GradientDescent, oracle, {}, 6, every=2)
    assert [k for k, _ in kept.kept] == [2, 4, 6] and len(kept.states) == 2 and oracle.counts["grad"] > 0
    stopped = drive(GradientDescent, oracle, {}, 6, until=lambda state, oracle: state.backtracks == 0)
    assert len(stopped.states) < 7
