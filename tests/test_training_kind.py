"""``kind: training``: the issue's file as written, the objective against a hand-written
forward pass, unbiased minibatches, the epoch budget, plugin models, bad input, a
known-answer accuracy floor, no host syncs, CUDA when present."""
from __future__ import annotations

import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import solverhub
from solverhub import registry as reg_mod
from solverhub.testing import count_host_syncs
from solverhub.errors import ProblemError
from solverhub.hookspecs import hookimpl
from solverhub.oracle import Oracle
from solverhub.problem.kinds.training import Training
from solverhub.result import Result, Status

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "problems" / "training"

ISSUE_YAML = """\
name: digits-mlp
kind: training
dataset: {sklearn: digits, test_fraction: 0.2, seed: 0}
model: {mlp: {hidden: [64], activation: relu}}
loss: cross_entropy
batch_size: 64
epochs: 5
"""

sklearn_datasets = pytest.importorskip("sklearn.datasets")


pytestmark = pytest.mark.usefixtures("single_thread")   # solverhub.testing's fixture


@pytest.fixture(scope="module")
def issue_problem():
    return solverhub.load_problem(ISSUE_YAML)


def _digits_split(seed=0, fraction=0.2):
    """The split and standardisation written out independently of the kind."""
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(X))
    n_test = round(fraction * len(X))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1.0
    return (X[train] - mean) / std, y[train].astype(np.int64), (X[test] - mean) / std, y[test].astype(np.int64)


# -- the issue's file ---------------------------------------------------------------
def test_issue_yaml_loads_as_written_and_adam_trains_it(issue_problem):
    p = issue_problem
    assert p.kind.name == "training" and [v.name for v in p.variables] == ["theta"]
    assert p.dim == 64 * 64 + 64 + 64 * 10 + 10                     # Linear(64, 64) + Linear(64, 10)
    assert p.oracle_config.batch_size == 64 and p.sections.n_rows == 1438
    r = solverhub.solve(p, "adam", device="cpu")
    e = r.extras
    assert (e["n_train"], e["n_test"]) == (1438, 359)
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "epochs_done"):
        assert key in e and math.isfinite(e[key]), key
    assert e["train_loss"] == pytest.approx(r.objective, rel=1e-12)   # the objective is the training loss
    assert e["test_accuracy"] > 0.95 and e["train_loss"] < 0.1        # a 64-unit MLP on digits: ~0.98
    assert r.status is Status.BUDGET_EXHAUSTED and "budget" in r.message
    assert Result.from_json(r.to_json()) == r


def test_the_shipped_digits_mlp_is_the_issue_file_plus_a_description(issue_problem):
    shipped = solverhub.load_problem(TRAINING / "digits-mlp.yaml")
    assert shipped.description
    np.testing.assert_array_equal(shipped.sections.model.X_train,
                                  issue_problem.sections.model.X_train)
    np.testing.assert_array_equal(shipped.sections.model.x0, issue_problem.sections.model.x0)


# -- the objective is the model's loss, exactly ----------------------------------------
def test_objective_equals_a_hand_written_forward_pass(issue_problem):
    Xtr, ytr, _, _ = _digits_split()
    prep = issue_problem.sections.model
    np.testing.assert_allclose(prep.X_train, Xtr, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(prep.y_train, ytr)
    # the start is torch's default init of the same layers under the seed
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    x0 = torch.cat([q.detach().reshape(-1) for q in ref.parameters()]).double()
    np.testing.assert_array_equal(prep.x0, x0.numpy())

    tp = issue_problem.lower_torch("cpu")
    theta = tp.x0 + 0.05 * torch.randn(tp.x0.shape, generator=torch.Generator().manual_seed(3), dtype=tp.x0.dtype)
    W1, b1 = theta[:4096].view(64, 64), theta[4096:4160]
    W2, b2 = theta[4160:4800].view(10, 64), theta[4800:]

    def by_hand(X, y):
        logits = torch.relu(X @ W1.T + b1) @ W2.T + b2
        logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        return -logp[torch.arange(len(y)), y].mean()

    X, y = torch.as_tensor(Xtr), torch.as_tensor(ytr)
    torch.testing.assert_close(tp.objective(theta), by_hand(X, y), rtol=1e-13, atol=0)
    rows = torch.tensor([5, 0, 5, 1437, 200])
    torch.testing.assert_close(tp.objective(theta, rows), by_hand(X[rows], y[rows]), rtol=1e-13, atol=0)


def test_minibatch_gradient_is_unbiased():
    """The oracle draws rows uniformly with replacement, so E[minibatch gradient] is the mean of the
    per-row gradients; that mean is the full gradient (exactly), and a batch is the mean of its rows."""
    p = solverhub.load_problem(TRAINING / "wine-mlp.yaml")
    tp = p.lower_torch("cpu")
    oracle = Oracle.for_problem(tp, p, config=p.oracle_config)
    x = tp.x0 + 0.1
    n = p.sections.n_rows
    per_row = torch.stack([_grad(tp, x, torch.tensor([i])) for i in range(n)])
    torch.testing.assert_close(per_row.mean(0), oracle.peek_grad(x), rtol=1e-10, atol=1e-13)
    rows = torch.tensor([3, 7, 7, 100])
    torch.testing.assert_close(_grad(tp, x, rows), per_row[rows].mean(0), rtol=1e-10, atol=1e-13)
    # and the oracle's own draws average to it (sampling error only)
    g = torch.stack([oracle.grad(x) for _ in range(400)])
    se = g.std(0) / math.sqrt(len(g))
    z = ((g.mean(0) - per_row.mean(0)).abs() / se.clamp_min(1e-12))[se > 1e-10]
    assert z.max() < 5.5, float(z.max())
    assert oracle.counts["stochastic_grad"] == 400


def _grad(tp, x, rows):
    xg = x.detach().requires_grad_(True)
    return torch.autograd.grad(tp.objective(xg, rows), xg)[0]


# -- the budget ------------------------------------------------------------------------
def test_epochs_are_an_exact_number_of_gradient_calls(issue_problem):
    steps = math.ceil(1438 / 64)
    assert issue_problem.solve_defaults["max_oracle_calls"] == 5 * steps
    r = solverhub.solve(issue_problem, "adam", device="cpu")
    assert r.oracle_calls["stochastic_grad"] == 5 * steps == r.iterations and r.total_oracle_calls == 5 * steps
    assert r.extras["epochs_done"] == pytest.approx(5 * steps * 64 / 1438)
    assert len(r.trace) == 5 + 1                      # traced once per epoch (and at the start)
    short = solverhub.solve(issue_problem, "adam", options={"max_oracle_calls": 7}, device="cpu")
    assert short.oracle_calls["stochastic_grad"] == 7  # the caller's budget wins


def test_gradient_calls_budget_and_full_batch():
    text = ISSUE_YAML.replace("batch_size: 64", "batch_size: full").replace("epochs: 5", "gradient_calls: 12")
    p = solverhub.load_problem(text)
    assert p.oracle_config.batch_size is None and not p.oracle_config.stochastic
    r = solverhub.solve(p, "adam", device="cpu")
    assert r.oracle_calls["grad"] == 12 and r.oracle_calls["stochastic_grad"] == 0
    assert r.extras["epochs_done"] == 12 and r.status is Status.BUDGET_EXHAUSTED
    assert solverhub.solve(p, "lbfgs", device="cpu").total_oracle_calls <= 12   # exact-gradient solvers accept it


# -- every generic solver on the kind's tiny problem ----------------------------------------
def test_every_minimize_solver_passes_the_kit_on_the_tiny_training_problem():
    from solverhub.testing import check_solver
    tiny = solverhub.load_problem(Training.tiny_problem)
    ran = []
    for name, entry in sorted(reg_mod.get_registry().solvers.items()):
        if "minimize" not in entry.cls.kinds or not entry.cls().accepts(tiny)[0]:
            continue
        # the kit on the training problem in place of each declared kind's own tiny problem
        check_solver(entry.cls, problems={k: Training.tiny_problem for k in entry.cls.kinds}, max_iterations=50)
        ran.append(name)
    assert {"gd", "adam", "lbfgs"} <= set(ran), ran


# -- models from plugins ----------------------------------------------------------------
@pytest.fixture
def fresh_registry():
    reg_mod.reset_registry()
    yield reg_mod.get_registry()
    reg_mod.reset_registry()


def test_a_plugin_model_is_usable_by_name(fresh_registry):
    def quadratic_net(in_shape, n_out, *, width=4):
        if width < 1:
            raise ValueError("width must be >= 1")
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(in_shape)), width),
                                   torch.nn.Tanh(), torch.nn.Linear(width, n_out))
    plugin = types.ModuleType("test_models_plugin")
    plugin.solverhub_models = hookimpl(lambda: {"quadratic-net": quadratic_net, "mlp": quadratic_net})
    fresh_registry.manager.register(plugin, name="test-models")
    assert fresh_registry.models_of("test-models") == ["quadratic-net"]
    assert any("'mlp' already registered" in f.error for f in fresh_registry.failures)   # builtins win
    text = ISSUE_YAML.replace("{mlp: {hidden: [64], activation: relu}}", "{quadratic-net: {width: 3}}")
    p = solverhub.load_problem(text.replace("epochs: 5", "epochs: 1"))
    assert p.dim == 64 * 3 + 3 + 3 * 10 + 10
    r = solverhub.solve(p, "adam", device="cpu")
    assert r.extras["model"] == "quadratic-net" and r.extras["test_accuracy"] > 0.5
    with pytest.raises(ProblemError, match="width must be >= 1"):
        solverhub.load_problem(text.replace("width: 3", "width: 0"))


# -- bad input ---------------------------------------------------------------------------
BAD = {
    "unknown model": (("{mlp: {hidden: [64], activation: relu}}", "{resnet: {}}"), 4,
                      "unknown model 'resnet'; allowed: cnn, logistic, mlp"),
    "bad model option": (("activation: relu", "activaton: relu"), 4, "unexpected keyword argument 'activaton'"),
    "bad activation": (("activation: relu", "activation: swish"), 4, "activation 'swish'"),
    "unknown sklearn set": (("sklearn: digits", "sklearn: mnist"), 3, "unknown scikit-learn dataset 'mnist'"),
    "both budgets": (("epochs: 5", "epochs: 5\ngradient_calls: 10"), 8, "epochs or gradient_calls (not both)"),
    "no budget": (("epochs: 5", ""), 2, "give the budget once"),
    "labels out of range": (("seed: 0}", "seed: 0, classes: 5}"), 3, "label 9 out of range for classes: 5"),
    "batch too large": (("batch_size: 64", "batch_size: 5000"), 6, "exceeds the 1438 training rows"),
    "a data section": (("loss:", "data: {A: [1.0]}\nloss:"), 5, "data: not used by kind 'training'"),
    "unknown loss": (("loss: cross_entropy", "loss: hinge"), 5, "loss"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_points_at_the_line(case, tmp_path):
    (old, new), line, message = BAD[case]
    assert old in ISSUE_YAML
    path = tmp_path / "bad.yaml"
    path.write_text(ISSUE_YAML.replace(old, new))
    with pytest.raises(ProblemError) as err:
        solverhub.load_problem(path)
    assert f"{path}:{line}:" in str(err.value) and message in str(err.value), str(err.value)


def test_labels_must_be_class_indices(tmp_path):
    np.save(tmp_path / "X.npy", np.random.default_rng(0).normal(size=(10, 2)))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 1, 0, -1, 1, 2, 0, 1.0]))
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nkind: training\ndataset:\n  X: {file: X.npy}\n  y: {file: y.npy}\n"
                    "model: logistic\nloss: cross_entropy\ngradient_calls: 3\n")
    with pytest.raises(ProblemError, match=r"p.yaml:5: dataset.y: cross_entropy needs integer class labels >= 0, "
                                           r"got -1"):
        solverhub.load_problem(path)
    path.write_text(path.read_text().replace("cross_entropy", "logistic"))
    with pytest.raises(ProblemError, match="binary labels"):
        solverhub.load_problem(path)


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(ISSUE_YAML.replace("epochs: 5", "epochs: 5\ngradient_calls: 10"))
    proc = subprocess.run([sys.executable, "-m", "solverhub.cli", "solve", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {path}:8: give the budget once"), proc.stderr


def test_data_files_enter_the_content_hash(tmp_path):
    import shutil
    shutil.copytree(TRAINING / "data", tmp_path / "data")
    shutil.copy(TRAINING / "sine-regression-npy.yaml", tmp_path)
    before = solverhub.load_problem(tmp_path / "sine-regression-npy.yaml")
    assert before.content_hash == solverhub.load_problem(TRAINING / "sine-regression-npy.yaml").content_hash
    y = np.load(tmp_path / "data" / "sine_y.npy")
    np.save(tmp_path / "data" / "sine_y.npy", y + 1.0)
    assert solverhub.load_problem(tmp_path / "sine-regression-npy.yaml").content_hash != before.content_hash


# -- it learns: a known-answer floor ---------------------------------------------------------
def test_logistic_regression_on_digits_reaches_the_known_accuracy():
    """Multinomial logistic regression on digits reaches ~0.95-0.97 test accuracy (scikit-learn's
    LogisticRegression on the same split, checked below); adam's 10 epochs must clear 0.9."""
    from sklearn.linear_model import LogisticRegression
    r = solverhub.solve(TRAINING / "digits-logistic.yaml", "adam", device="cpu")
    assert r.extras["test_accuracy"] > 0.9 and r.extras["train_accuracy"] > 0.95, r.extras
    Xtr, ytr, Xte, yte = _digits_split()
    reference = LogisticRegression(max_iter=2000).fit(Xtr, ytr).score(Xte, yte)
    assert reference > 0.9 and abs(r.extras["test_accuracy"] - reference) < 0.04, (r.extras, reference)


# -- device rules -------------------------------------------------------------------------------
def test_objective_and_gradient_make_no_host_syncs(monkeypatch):
    p = solverhub.load_problem(TRAINING / "digits-cnn.yaml")
    tp = p.lower_torch("cpu")
    oracle = Oracle.for_problem(tp, p, config=p.oracle_config)
    syncs = count_host_syncs(monkeypatch, ("__float__", "item", "__bool__", "__int__", "tolist"))
    x = tp.x0
    for _ in range(5):
        x = x - 0.1 * oracle.grad(x)
    oracle.value(x)
    assert syncs["n"] == 0
    r = solverhub.solve(p, "gd", options={"lr": 0.1, "max_oracle_calls": 60}, device="cpu")
    # trace once per epoch (23 steps): 2 syncs per sample plus set-up and the kind's report
    assert len(r.trace) == 4 and syncs["n"] <= 2 * len(r.trace) + 20, syncs["n"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_matches_cpu(issue_problem):
    tp_cpu, tp_gpu = issue_problem.lower_torch("cpu"), issue_problem.lower_torch("cuda")
    assert tp_gpu.x0.device.type == "cuda" and tp_gpu.training.X_train.device.type == "cuda"
    torch.testing.assert_close(tp_gpu.objective(tp_gpu.x0).cpu(), tp_cpu.objective(tp_cpu.x0), rtol=1e-10, atol=0)
    r = solverhub.solve(issue_problem, "adam", device="cuda")
    assert r.device == "cuda" and r.oracle_calls["stochastic_grad"] == 115
    assert r.extras["test_accuracy"] > 0.95
