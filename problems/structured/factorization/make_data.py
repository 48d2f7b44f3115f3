"""Writes the data files of this folder (run once; the files are shipped):

* M.npy        80 x 80 PSD matrix of rank 4, eigenvalues logspace(0, -1, 4), for mf-file.yaml;
* digits.npz   scikit-learn's 8x8 digits scaled to [0, 1]: classes 0-4 (the pretraining task,
               labels 0..4) and classes 5-9 (the new task, labels 0..4 = digit - 5), the latter
               split in half into train and test (seeded), for lora-digits.yaml;
* teacher.npz  a pretrained tanh network 16-32-32-4 (W0, b0, ..., W2, b2) and a new regression
               task (X, y, X_test, y_test) whose targets come from the same network with a rank-2
               shift of every weight matrix plus noise, for lora-teacher.yaml.

Usage: python problems/structured/factorization/make_data.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def psd_matrix():
    rng = np.random.default_rng(7)
    U, _ = np.linalg.qr(rng.normal(size=(80, 4)))
    M = (U * np.logspace(0, -1, 4)) @ U.T
    np.save(HERE / "M.npy", 0.5 * (M + M.T))


def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    X, y = d.data / 16.0, d.target
    rng = np.random.default_rng(3)
    old, new = y < 5, y >= 5
    idx = rng.permutation(np.flatnonzero(new))
    half = len(idx) // 2
    np.savez_compressed(HERE / "digits.npz",
                        X_pretrain=X[old].astype(np.float32), y_pretrain=y[old].astype(np.uint8),
                        X=X[idx[:half]].astype(np.float32), y=(y[idx[:half]] - 5).astype(np.uint8),
                        X_test=X[idx[half:]].astype(np.float32), y_test=(y[idx[half:]] - 5).astype(np.uint8))


def _forward(weights, X):
    h = X
    for l, (W, b) in enumerate(weights):
        h = h @ W.T + b
        if l < len(weights) - 1:
            h = np.tanh(h)
    return h


def teacher():
    """The pretrained network: trained (full-batch Adam, torch) on a source task given by a
    random teacher network; the new task shifts every trained weight matrix by a rank-2 term."""
    import torch
    rng = np.random.default_rng(11)
    widths = [16, 32, 32, 4]
    source = [(rng.normal(size=(o, i)) / np.sqrt(i) * 1.5, 0.1 * rng.normal(size=o))
              for i, o in zip(widths[:-1], widths[1:])]
    X_src = rng.normal(size=(1024, 16))
    y_src = _forward(source, X_src)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 4)).double()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    Xs, ys = torch.tensor(X_src), torch.tensor(y_src)
    for _ in range(3000):
        opt.zero_grad()
        loss = torch.mean((net(Xs) - ys) ** 2)
        loss.backward()
        opt.step()
    print(f"teacher.npz: source-task MSE of the pretrained network {float(loss.detach()):.2e}")
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    pretrained = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in layers]
    shifted = []
    for W, b in pretrained:
        u = rng.normal(size=(W.shape[0], 2))
        v = rng.normal(size=(W.shape[1], 2))
        shifted.append((W + 0.5 * (u @ v.T) / np.sqrt(W.shape[0] * W.shape[1]) * np.linalg.norm(W, 2), b))
    X = rng.normal(size=(256, 16)).astype(np.float32).astype(np.float64)        # stored as float32
    X_test = rng.normal(size=(256, 16)).astype(np.float32).astype(np.float64)
    y = _forward(shifted, X) + 0.01 * rng.normal(size=(256, 4))
    y_test = _forward(shifted, X_test) + 0.01 * rng.normal(size=(256, 4))
    arrays = {f"{k}{l}": a for l, (W, b) in enumerate(pretrained) for k, a in (("W", W), ("b", b))}
    np.savez_compressed(HERE / "teacher.npz", X=X.astype(np.float32), y=y, X_test=X_test.astype(np.float32),
                        y_test=y_test, **arrays)


if __name__ == "__main__":
    psd_matrix()
    digits()
    teacher()
