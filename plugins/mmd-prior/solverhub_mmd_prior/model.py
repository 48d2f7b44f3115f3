"""The autoencoder of ``kind: latent_prior`` on flat parameters, and its loss terms.

Encoder: x -> hidden layers (activation) -> mu (latent_dim) and log-variance (latent_dim)
heads; decoder: z -> hidden layers -> x_hat (linear output). The log-variance head is used
only by the KL-VAE; deterministic encoders (autoencoder, mmd-prior) use z = mu.

Loss terms (each a function ``f(x_flat, rows=None) -> 0-d tensor`` the oracle counts under its
name). A term evaluated without ``rows`` draws a fresh minibatch of ``batch_size`` training rows
(with replacement) -- and the prior samples / reparameterisation noise it needs -- from
torch's default generator on the data's device, which ``solverhub.solve`` seeds with the run's
seed; so each evaluation is one unbiased minibatch estimate of the term:

* ``recon``     mean_b ||x_b - dec(mu(x_b))||^2                       (autoencoder, mmd-prior)
* ``mmd``       MMD^2_u({mu(x_b)}, {p_b ~ prior})                      (mmd-prior)
* ``vae_recon`` mean_b ||x_b - dec(mu_b + sigma_b eps_b)||^2           (kl-vae; decoder variance 1/2)
* ``kl``        mean_b KL(q(z|x_b) || p_vae)                            (kl-vae)

``p_vae`` is the prior itself when it is Gaussian (closed form), its moment-matched Gaussian
when it is uniform (the uniform density has no usable KL: log p = -inf outside the box), and
the mixture itself (one-sample Monte Carlo, log q(z|x) - log p(z)) when it is a mixture.
"""
from __future__ import annotations

__all__ = ["AEConfig", "LatentSpec", "variable_shapes", "init_params", "LatentModel"]

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from solverhub.plugin import lazy_module

from .data import LatentData
from .metrics.mmd import mmd2_torch
from .metrics.priors import GaussianPrior, MixturePrior, UniformPrior

torch = lazy_module("torch")


@dataclass(frozen=True)
class AEConfig:
    dim_x: int
    latent_dim: int
    encoder: tuple[int, ...]
    decoder: tuple[int, ...]
    activation: str


@dataclass(frozen=True, eq=False)
class LatentSpec:
    """A compiled latent_prior problem (``problem.sections.model``; numpy, no device): the
    autoencoder, the prior, the data split, the loss weights and the training budget."""

    config: AEConfig
    prior: object            # a .metrics.priors prior (GaussianPrior, UniformPrior, MixturePrior)
    data: LatentData
    lam: float               # weight of MMD^2 in mmd-prior's loss
    scales: tuple[float, ...]   # RBF bandwidths, times sqrt(latent_dim)
    batch_size: int
    epochs: int
    init_seed: int

    @property
    def steps(self) -> int:
        """The training budget in steps: epochs x ceil(n_train / batch_size)."""
        return self.epochs * -(-self.data.X_train.shape[0] // self.batch_size)


def _layers(cfg: AEConfig):
    """[(prefix, fan_in, fan_out)] in the order of the flat parameter vector."""
    out, width = [], cfg.dim_x
    for i, h in enumerate(cfg.encoder):
        out.append((f"enc{i}", width, h))
        width = h
    out += [("enc_mu", width, cfg.latent_dim), ("enc_logvar", width, cfg.latent_dim)]
    width = cfg.latent_dim
    for i, h in enumerate(cfg.decoder):
        out.append((f"dec{i}", width, h))
        width = h
    out.append(("dec_out", width, cfg.dim_x))
    return out


def variable_shapes(cfg: AEConfig) -> "OrderedDict[str, tuple[int, ...]]":
    shapes = OrderedDict()
    for prefix, fan_in, fan_out in _layers(cfg):
        shapes[f"{prefix}_W"] = (fan_out, fan_in)
        shapes[f"{prefix}_b"] = (fan_out,)
    return shapes


def init_params(cfg: AEConfig, seed: int) -> np.ndarray:
    """torch.nn.Linear's default init (W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn with numpy."""
    rng = np.random.default_rng(seed)
    parts = []
    for _prefix, fan_in, fan_out in _layers(cfg):
        bound = 1.0 / math.sqrt(fan_in)
        parts += [rng.uniform(-bound, bound, fan_out * fan_in), rng.uniform(-bound, bound, fan_out)]
    return np.concatenate(parts)


def _activation(name):
    return {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu}[name]


class LatentModel:
    """Torch tensors of one latent_prior problem on a device, and its loss terms."""

    def __init__(self, spec: LatentSpec, device, dtype):
        self.spec, cfg, prior = spec, spec.config, spec.prior
        self.cfg, self.prior, self.lam, self.scales = cfg, prior, float(spec.lam), tuple(spec.scales)
        self.batch_size, self.device, self.dtype = int(spec.batch_size), device, dtype
        self.X = torch.as_tensor(spec.data.X_train, dtype=dtype, device=device)
        self.n_train = self.X.shape[0]
        self._slices, off = [], 0
        for prefix, fan_in, fan_out in _layers(cfg):
            self._slices.append((prefix, off, fan_in, fan_out))
            off += fan_out * fan_in + fan_out
        self.dim = off
        self._sizes = [size for _p, _o, fan_in, fan_out in self._slices for size in (fan_out * fan_in, fan_out)]
        self.act = _activation(cfg.activation)
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device)  # noqa: E731
        if isinstance(prior, GaussianPrior):
            self._gauss = (t(prior.mean), t(prior.std))
        elif isinstance(prior, UniformPrior):
            self._low, self._width = t(prior.low), t(prior.high - prior.low)
        if isinstance(prior, MixturePrior):
            self._means, self._mix_std, self._weights = t(prior.means), t(prior.std), t(prior.weights)
            self._log_weights = self._weights.log()
        else:                           # the VAE's Gaussian: the prior, or the uniform's moment match
            mean, var = prior.moments()
            self._vae_mean, self._vae_var = t(mean), t(var)

    # -- network -----------------------------------------------------------
    def _params(self, x):
        # one split (a single backward node) rather than a slice per tensor
        parts = torch.split(x, self._sizes)
        return {prefix: (parts[2 * i].reshape(fan_out, fan_in), parts[2 * i + 1])
                for i, (prefix, _off, fan_in, fan_out) in enumerate(self._slices)}

    def encode(self, x, inputs):
        """(mu, logvar) of q(z | inputs)."""
        p = self._params(x)
        h = inputs
        for i in range(len(self.cfg.encoder)):
            w, b = p[f"enc{i}"]
            h = self.act(h @ w.T + b)
        (wm, bm), (wv, bv) = p["enc_mu"], p["enc_logvar"]
        return h @ wm.T + bm, h @ wv.T + bv

    def decode(self, x, z):
        p = self._params(x)
        h = z
        for i in range(len(self.cfg.decoder)):
            w, b = p[f"dec{i}"]
            h = self.act(h @ w.T + b)
        w, b = p["dec_out"]
        return h @ w.T + b

    # -- sampling ------------------------------------------------------------
    def _batch(self, rows):
        if rows is None:
            rows = torch.randint(self.n_train, (self.batch_size,), device=self.device)
        return self.X.index_select(0, rows)

    def sample_prior(self, n: int):
        k = self.cfg.latent_dim
        shape, kw = (n, k), {"device": self.device, "dtype": self.dtype}
        if isinstance(self.prior, GaussianPrior):
            mean, std = self._gauss
            return mean + std * torch.randn(shape, **kw)
        if isinstance(self.prior, UniformPrior):
            return self._low + self._width * torch.rand(shape, **kw)
        comp = torch.multinomial(self._weights, n, replacement=True)
        return self._means.index_select(0, comp) + self._mix_std.index_select(0, comp)[:, None] * torch.randn(shape, **kw)

    # -- loss terms ------------------------------------------------------------
    def objective(self, x, rows=None):
        """Full-training-set (or ``rows``) reconstruction error of the deterministic path z = mu."""
        X = self.X if rows is None else self.X.index_select(0, rows)
        mu, _ = self.encode(x, X)
        return ((X - self.decode(x, mu)) ** 2).sum(1).mean()

    def recon(self, x, rows=None):
        X = self._batch(rows)
        mu, _ = self.encode(x, X)
        return ((X - self.decode(x, mu)) ** 2).sum(1).mean()

    def mmd(self, x, rows=None):
        X = self._batch(rows)
        mu, _ = self.encode(x, X)
        return mmd2_torch(mu, self.sample_prior(mu.shape[0]), scales=self.scales)

    def vae_recon(self, x, rows=None):
        X = self._batch(rows)
        mu, logvar = self.encode(x, X)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return ((X - self.decode(x, z)) ** 2).sum(1).mean()

    def kl(self, x, rows=None):
        X = self._batch(rows)
        mu, logvar = self.encode(x, X)
        if isinstance(self.prior, MixturePrior):     # one-sample Monte Carlo: log q(z|x) - log p(z)
            eps = torch.randn_like(mu)
            z = mu + (0.5 * logvar).exp() * eps
            k = self.cfg.latent_dim
            log_q = -0.5 * (eps ** 2 + logvar + math.log(2 * math.pi)).sum(1)
            d2 = ((z[:, None, :] - self._means[None, :, :]) ** 2).sum(2)          # (B, components)
            var = self._mix_std ** 2
            log_comp = -0.5 * d2 / var - 0.5 * k * (var.log() + math.log(2 * math.pi))
            log_p = torch.logsumexp(log_comp + self._log_weights, dim=1)
            return (log_q - log_p).mean()
        m, v = self._vae_mean, self._vae_var
        return 0.5 * ((logvar.exp() + (mu - m) ** 2) / v - 1.0 - logvar + v.log()).sum(1).mean()

    def functions(self) -> dict:
        return {"recon": self.recon, "mmd": self.mmd, "vae_recon": self.vae_recon, "kl": self.kl}
