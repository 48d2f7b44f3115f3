"""The autoencoder of ``kind: latent_prior`` on flat parameters, and its loss terms.

Encoder x -> hidden layers -> (mu, log-variance) heads (the log-variance only for the KL-VAE);
decoder z -> hidden layers -> x_hat (linear output). Each term ``f(x_flat, rows=None)`` is counted
by the oracle under its name; without ``rows`` it draws a fresh minibatch (with replacement), the
prior samples and the noise from torch's default generator (seeded by ``solverhub.solve``):

* ``recon``     mean_b ||x_b - dec(mu(x_b))||^2
* ``mmd``       MMD^2({mu(x_b)}, {p_b ~ prior})   (the problem's estimator and bandwidth rule)
* ``recon_mmd`` recon + lambda * mmd on one shared minibatch (``batch: shared``; the paper's loss)
* ``vae_recon`` mean_b ||x_b - dec(mu_b + sigma_b eps_b)||^2        (decoder variance 1/2)
* ``kl``        mean_b KL(q(z|x_b) || p_vae): closed form against the prior (Gaussian) or its
  moment-matched Gaussian (uniform); one-sample Monte Carlo log q(z|x) - log p(z) (mixture).
"""
from __future__ import annotations

__all__ = ["AEConfig", "LatentSpec", "variable_shapes", "init_params", "LatentModel"]

import math
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
    """``problem.sections.model`` (numpy): the autoencoder, prior, data split, loss weight and budget."""

    config: AEConfig
    prior: object            # a .metrics.priors prior (GaussianPrior, UniformPrior, MixturePrior)
    data: LatentData
    lam: float               # weight of MMD^2 in mmd-prior's loss
    scales: tuple[float, ...]   # RBF bandwidth scales (times sqrt(latent_dim), or the median distance)
    batch_size: int
    epochs: int
    init_seed: int
    estimator: str = "unbiased"     # MMD^2 estimator: unbiased | biased
    bandwidth: str = "fixed"        # fixed | median
    shared_batch: bool = False      # mmd-prior: one minibatch for both terms (the term recon_mmd)
    lps_regressor: str = "knn"
    lps_clip: bool = True
    preset: str = "plugin"

    @property
    def steps(self) -> int:
        """The training budget in steps: epochs x ceil(n_train / batch_size)."""
        return self.epochs * -(-self.data.X_train.shape[0] // self.batch_size)


def _layers(cfg: AEConfig):
    """[(prefix, fan_in, fan_out)] in the order of the flat parameter vector."""
    enc, dec = (cfg.dim_x, *cfg.encoder), (cfg.latent_dim, *cfg.decoder)
    return ([(f"enc{i}", a, b) for i, (a, b) in enumerate(zip(enc, enc[1:]))]
            + [("enc_mu", enc[-1], cfg.latent_dim), ("enc_logvar", enc[-1], cfg.latent_dim)]
            + [(f"dec{i}", a, b) for i, (a, b) in enumerate(zip(dec, dec[1:]))] + [("dec_out", dec[-1], cfg.dim_x)])


def variable_shapes(cfg: AEConfig) -> dict[str, tuple[int, ...]]:
    """``{prefix_W: (fan_out, fan_in), prefix_b: (fan_out,)}`` per layer, in the flat order."""
    return {name: shape for prefix, fan_in, fan_out in _layers(cfg)
            for name, shape in ((f"{prefix}_W", (fan_out, fan_in)), (f"{prefix}_b", (fan_out,)))}


def init_params(cfg: AEConfig, seed: int) -> np.ndarray:
    """torch.nn.Linear's default init (W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn with numpy."""
    rng = np.random.default_rng(seed)
    parts = []
    for _prefix, fan_in, fan_out in _layers(cfg):
        bound = 1.0 / math.sqrt(fan_in)
        parts += [rng.uniform(-bound, bound, fan_out * fan_in), rng.uniform(-bound, bound, fan_out)]
    return np.concatenate(parts)


class LatentModel:
    """Torch tensors of one latent_prior problem on a device, and its loss terms."""

    def __init__(self, spec: LatentSpec, device, dtype):
        self.spec, cfg, prior = spec, spec.config, spec.prior
        self.cfg, self.prior, self.scales = cfg, prior, tuple(spec.scales)
        self.batch_size, self.device, self.dtype = int(spec.batch_size), device, dtype
        self.X = torch.as_tensor(spec.data.X_train, dtype=dtype, device=device)
        self.X_test = torch.as_tensor(spec.data.X_test, dtype=dtype, device=device)
        self._layers = _layers(cfg)
        self._sizes = [size for _p, fan_in, fan_out in self._layers for size in (fan_out * fan_in, fan_out)]
        self.act = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu}[cfg.activation]
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device)  # noqa: E731
        if isinstance(prior, GaussianPrior):
            self._mean, self._std = t(prior.mean), t(prior.std)
        elif isinstance(prior, UniformPrior):
            self._low, self._width = t(prior.low), t(prior.high - prior.low)
        if isinstance(prior, MixturePrior):
            self._means, self._mix_std, self._weights = t(prior.means), t(prior.std), t(prior.weights)
        else:                           # the VAE's Gaussian: the prior, or the uniform's moment match
            self._vae_mean, self._vae_var = (t(v) for v in prior.moments())

    def _params(self, x):
        parts = torch.split(x, self._sizes)      # one split (a single backward node), not a slice per tensor
        return {prefix: (parts[2 * i].reshape(fan_out, fan_in), parts[2 * i + 1])
                for i, (prefix, fan_in, fan_out) in enumerate(self._layers)}

    def _hidden(self, p, prefix, layers, h):
        for i in range(layers):
            w, b = p[f"{prefix}{i}"]
            h = self.act(h @ w.T + b)
        return h

    def encode(self, x, inputs):
        """(mu, logvar) of q(z | inputs)."""
        p = self._params(x)
        h = self._hidden(p, "enc", len(self.cfg.encoder), inputs)
        (wm, bm), (wv, bv) = p["enc_mu"], p["enc_logvar"]
        return h @ wm.T + bm, h @ wv.T + bv

    def encode_all(self, x):
        """(mu, logvar) of every row, training then test, without gradients (for the reports)."""
        with torch.no_grad():
            return self.encode(x, torch.cat([self.X, self.X_test]))

    def decode(self, x, z):
        p = self._params(x)
        w, b = p["dec_out"]
        return self._hidden(p, "dec", len(self.cfg.decoder), z) @ w.T + b

    def _batch(self, rows):
        """``rows``, or a fresh minibatch of ``batch_size`` training rows drawn with replacement."""
        return rows if rows is not None else torch.randint(self.X.shape[0], (self.batch_size,), device=self.device)

    def sample_prior(self, n: int):
        shape, kw = (n, self.cfg.latent_dim), {"device": self.device, "dtype": self.dtype}
        if isinstance(self.prior, GaussianPrior):
            return self._mean + self._std * torch.randn(shape, **kw)
        if isinstance(self.prior, UniformPrior):
            return self._low + self._width * torch.rand(shape, **kw)
        comp = torch.multinomial(self._weights, n, replacement=True)
        return self._means.index_select(0, comp) + self._mix_std.index_select(0, comp)[:, None] * torch.randn(shape, **kw)

    def objective(self, x, rows=None):
        """Full-training-set (or ``rows``) reconstruction error of the deterministic path z = mu."""
        X = self.X if rows is None else self.X.index_select(0, rows)
        mu, _ = self.encode(x, X)
        return ((X - self.decode(x, mu)) ** 2).sum(1).mean()

    def recon(self, x, rows=None):
        return self.objective(x, self._batch(rows))

    def _mmd_of(self, mu):
        spec = self.spec
        return mmd2_torch(mu, self.sample_prior(mu.shape[0]), scales=self.scales, estimator=spec.estimator,
                          bandwidth=spec.bandwidth)

    def mmd(self, x, rows=None):
        mu, _ = self.encode(x, self.X.index_select(0, self._batch(rows)))
        return self._mmd_of(mu)

    def recon_mmd(self, x, rows=None):
        """recon + lambda * mmd on ONE minibatch and one encoder pass (the paper's training loss)."""
        X = self.X.index_select(0, self._batch(rows))
        mu, _ = self.encode(x, X)
        return ((X - self.decode(x, mu)) ** 2).sum(1).mean() + self.spec.lam * self._mmd_of(mu)

    def vae_recon(self, x, rows=None):
        X = self.X.index_select(0, self._batch(rows))
        mu, logvar = self.encode(x, X)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return ((X - self.decode(x, z)) ** 2).sum(1).mean()

    def kl(self, x, rows=None):
        mu, logvar = self.encode(x, self.X.index_select(0, self._batch(rows)))
        if isinstance(self.prior, MixturePrior):     # one-sample Monte Carlo: log q(z|x) - log p(z)
            eps = torch.randn_like(mu)
            z = mu + (0.5 * logvar).exp() * eps
            log_q = -0.5 * (eps ** 2 + logvar + math.log(2 * math.pi)).sum(1)
            d2 = ((z[:, None, :] - self._means[None, :, :]) ** 2).sum(2)          # (B, components)
            var = self._mix_std ** 2
            log_comp = -0.5 * d2 / var - 0.5 * self.cfg.latent_dim * (var.log() + math.log(2 * math.pi))
            log_p = torch.logsumexp(log_comp + self._weights.log(), dim=1)
            return (log_q - log_p).mean()
        m, v = self._vae_mean, self._vae_var
        return 0.5 * ((logvar.exp() + (mu - m) ** 2) / v - 1.0 - logvar + v.log()).sum(1).mean()

    def functions(self) -> dict:
        return {"recon": self.recon, "mmd": self.mmd, "recon_mmd": self.recon_mmd, "vae_recon": self.vae_recon,
                "kl": self.kl}
