"""Devices and dtypes: float32 runs, CUDA when present, and no per-iteration host syncs."""
import pytest
import torch

import solverhub
from solverhub.api import resolve_device
from solverhub.errors import OptionError
from solverhub.testing import TINY_PROBLEMS, count_host_syncs

TORCH_SOLVERS = ["gd", "adam", "lbfgs", "bfgs-wolfe"]


def test_auto_device_and_cuda_refusal():
    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(OptionError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(OptionError, match="allowed: auto, cpu, cuda"):
        resolve_device("tpu")


@pytest.mark.parametrize("solver", TORCH_SOLVERS)
def test_float32_runs_and_agrees_with_float64(solver):
    p = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    r64 = solverhub.solve(p, solver, options={"tolerance": 1e-4, "max_iterations": 3000})
    r32 = solverhub.solve(p, solver, dtype="float32", options={"tolerance": 1e-4, "max_iterations": 3000})
    assert r32.dtype == "float32" and r32.objective == pytest.approx(r64.objective, rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("solver", TORCH_SOLVERS)
def test_cuda_matches_cpu(solver):
    p = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    cpu = solverhub.solve(p, solver, device="cpu", options={"max_iterations": 200})
    gpu = solverhub.solve(p, solver, device="cuda", options={"max_iterations": 200})
    assert gpu.device.startswith("cuda") and gpu.objective == pytest.approx(cpu.objective, rel=1e-8)


@pytest.mark.parametrize("solver,options", [("gd", {"backtracking": False, "lr": 0.1}), ("adam", {"lr": 0.01})])
def test_run_loop_syncs_only_at_trace_samples(solver, options, monkeypatch):
    """Host syncs (float(t), t.item(), bool(t)) happen only when the trace is sampled (adam
    too, since it runs on the core's sync-free adam_step instead of torch.optim.Adam)."""
    p = solverhub.load_problem(TINY_PROBLEMS["minimize"])
    syncs = count_host_syncs(monkeypatch)
    options = {"max_iterations": 200, "tolerance": 0.0, "trace_every": 50, **options}
    result = solverhub.solve(p, solver, options=options)
    assert result.iterations == 200 and len(result.trace) == 5
    # 2 syncs per trace sample (objective, stationarity) plus a small constant for set-up and the result
    assert syncs["n"] <= 2 * len(result.trace) + 10, syncs["n"]
