"""The builtin lbfgs on plain tensors (no torch.optim.Optimizer, hence no torch._dynamo import)
reproduces torch.optim.LBFGS(max_iter=1)'s iterates, with and without the line search."""
import pytest
import torch

from solverhub.builtin.lbfgs import LBFGS
from solverhub.testing import drive, make_oracle

ROSENBROCK = """
name: rosenbrock-4
kind: minimize
variables: {x: {shape: [4], x0: [-1.2, 1.0, -1.2, 1.0]}}
objective: "sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)"
"""


def _torch_iterates(oracle, steps, lr, line_search, history_size):
    param = oracle.x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([param], lr=lr, max_iter=1, max_eval=25, history_size=history_size,
                            tolerance_grad=0.0, tolerance_change=0.0,
                            line_search_fn="strong_wolfe" if line_search == "strong_wolfe" else None)

    def closure():
        value, grad = oracle.value_and_grad(param.detach())
        param.grad = grad
        return value
    out = []
    for _ in range(steps):
        opt.step(closure)
        out.append(param.detach().clone())
    return out


@pytest.mark.parametrize("line_search,lr,steps", [("strong_wolfe", 1.0, 25), ("none", 1e-3, 8)])
def test_iterates_match_torch_optim_lbfgs(line_search, lr, steps):
    options = {"line_search": line_search, "history_size": 3, "lr": lr}
    ours = drive(LBFGS, ROSENBROCK, options, steps=steps).states[1:]
    theirs = _torch_iterates(make_oracle(ROSENBROCK), steps, lr, line_search, history_size=3)
    assert len(ours) == len(theirs) == steps
    for k, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(a.x, b, rtol=1e-12, atol=1e-12, msg=f"iterate {k + 1}")
    assert not torch.equal(ours[-1].x, ours[0].x)        # it moved: the comparison is not vacuous
