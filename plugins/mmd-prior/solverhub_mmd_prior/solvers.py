"""Training methods of ``kind: latent_prior``: ``mmd-prior`` (arXiv 2510.11953), ``kl-vae``
and ``autoencoder``. Each is Adam (Kingma & Ba 2015; beta1 0.9, beta2 0.999, eps 1e-8) on
its own minibatch training loss, assembled from the kind's loss terms (see ``model.py``):

* ``mmd-prior``   grad recon + lambda * grad mmd        (2 counted gradients per step)
* ``kl-vae``      grad vae_recon + beta * grad kl        (2 counted gradients per step)
* ``autoencoder`` grad recon                             (1 counted gradient per step)

Every term's gradient is one oracle call (``oracle.grad(x, of=term)``, counted as
``grad_<term>``) on its own fresh minibatch, so a step's direction is an unbiased estimate
of the gradient of the method's expected loss; the two terms do not share a minibatch (the
oracle cannot pass one), which costs one extra encoder pass per step and adds no bias.
Reconstructed (arXiv 2510.11953 gives no code): the optimiser, its settings and the
sequence of terms; lambda comes from the problem (``lambda:``), overridable by ``lam``.

Each method stops after the problem's training budget (``epochs`` x ceil(n_train /
batch_size) steps) with status ``budget_exhausted``, as ``kind: training`` runs end. No host syncs per step: the Adam state is
tensors, the step counter and bias corrections are Python numbers.
"""
from __future__ import annotations

__all__ = ["MMDPrior", "KLVAE", "Autoencoder", "TrainState"]

from dataclasses import dataclass
from typing import Any

from solverhub import Capabilities, IterState, Solver, Status
from solverhub.plugin import lazy_module
from solverhub.plugin import SolverOptions, option

torch = lazy_module("torch")

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(kw_only=True)
class TrainState(IterState):
    m: Any = None            # Adam first moment (tensor)
    v: Any = None            # Adam second moment (tensor)
    t: int = 0               # steps taken
    steps: int = 0           # the training budget in steps
    epochs: int = 0
    spec: Any = None         # the problem's LatentSpec (problem.sections.model; lam, data for report)


class _AdamTrainer(Solver):
    """Adam on the minibatch gradient ``direction`` of a method's training loss."""

    kinds = ("latent_prior",)
    capabilities = Capabilities(stochastic_ok=True)

    def init(self, problem, oracle, x0, options) -> TrainState:
        spec = problem.sections.model
        return TrainState(x=x0, m=torch.zeros_like(x0), v=torch.zeros_like(x0), t=0, steps=spec.steps,
                          epochs=spec.epochs, spec=spec)

    def direction(self, state: TrainState, oracle, options):
        raise NotImplementedError

    def step(self, state: TrainState, oracle, options) -> TrainState:
        g = self.direction(state, oracle, options)
        t = state.t + 1
        m = BETA1 * state.m + (1 - BETA1) * g
        v = BETA2 * state.v + (1 - BETA2) * g * g
        step_size = options.lr * (1 - BETA2 ** t) ** 0.5 / (1 - BETA1 ** t)
        x = state.x - step_size * m / (v.sqrt() + EPS * (1 - BETA2 ** t) ** 0.5)
        stop = None
        if t >= state.steps:
            stop = (Status.BUDGET_EXHAUSTED, f"finished the training budget: {state.epochs} epochs ({t} steps)")
        return TrainState(x=x, m=m, v=v, t=t, steps=state.steps, epochs=state.epochs, spec=state.spec, stop=stop)

    def report(self, state: TrainState, oracle, options) -> dict:
        return {"training_steps": state.t, "training_budget_steps": state.steps,
                "epochs_completed": state.t / max(1, state.steps) * state.epochs}


class MMDOptions(SolverOptions):
    lr: float = option(1e-3, "Adam step (the note: Adam 1e-3)", symbol="η", gt=0)
    lam: float | None = option(None, "weight of MMD²; null: the problem's lambda", symbol="λ", ge=0)


class MMDPrior(_AdamTrainer):
    """Deterministic autoencoder + lambda * MMD^2(aggregate-posterior batch, prior samples):
    the 'programmable prior' of Fruytier et al., arXiv 2510.11953 (WAE-MMD with a chosen prior)."""

    name = "mmd-prior"
    paper = "arXiv:2510.11953"
    priority = 20
    Options = MMDOptions
    description = "autoencoder + lambda*MMD^2 to a chosen latent prior (programmable prior), Adam"

    def direction(self, state, oracle, options):
        lam = state.spec.lam if options.lam is None else options.lam
        return oracle.grad(state.x, of="recon") + lam * oracle.grad(state.x, of="mmd")

    def report(self, state, oracle, options) -> dict:
        lam = state.spec.lam
        return {**super().report(state, oracle, options), "lambda_of_problem": lam}


class VAEOptions(SolverOptions):
    lr: float = option(1e-3, "Adam step", symbol="η", gt=0)
    beta: float = option(1.0, "weight of the KL term (1: the ELBO; a beta sweep: 0.5, 1, 4)", symbol="β", ge=0)


class KLVAE(_AdamTrainer):
    """Gaussian-encoder VAE: minimise ||x - dec(z)||^2 + beta * KL(q(z|x) || p), z = mu + sigma*eps
    (decoder variance 1/2, so the ELBO's reconstruction term has the autoencoder's scale);
    Kingma & Welling 2014, beta-VAE: Higgins et al. 2017. The reference method of arXiv 2510.11953."""

    name = "kl-vae"
    paper = "Kingma & Welling (2014), arXiv:1312.6114; beta-VAE, Higgins et al. (ICLR 2017)"
    priority = 5
    Options = VAEOptions
    description = "variational autoencoder (negative ELBO, beta-weighted KL), Adam; reference for mmd-prior"

    def direction(self, state, oracle, options):
        return oracle.grad(state.x, of="vae_recon") + options.beta * oracle.grad(state.x, of="kl")

    def report(self, state, oracle, options) -> dict:
        """Also the latent metrics of the sampled aggregate posterior z = mu + sigma * eps (the
        kind's report uses the encoder means mu, the deterministic methods' codes)."""
        import numpy as np

        from .kind import latent_report
        from .model import LatentModel
        spec = state.spec
        x = state.x.detach()
        model = LatentModel(spec, x.device, x.dtype)
        data = spec.data
        with torch.no_grad():
            X_all = torch.as_tensor(np.concatenate([data.X_train, data.X_test]), dtype=x.dtype, device=x.device)
            mu, logvar = model.encode(x, X_all)
            mu, sd = mu.cpu().numpy().astype(np.float64), (0.5 * logvar).exp().cpu().numpy().astype(np.float64)
        z = mu + sd * np.random.default_rng(12345).standard_normal(mu.shape)
        return {**super().report(state, oracle, options), "posterior_std_mean": float(sd.mean()),
                **latent_report(data, spec.prior, spec.scales, z, prefix="sampled_")}


class AEOptions(SolverOptions):
    lr: float = option(1e-3, "Adam step", symbol="η", gt=0)


class Autoencoder(_AdamTrainer):
    """Plain deterministic autoencoder (reconstruction only): the unregularised reference."""

    name = "autoencoder"
    paper = "Rumelhart, Hinton & Williams (1986); unregularised reference of arXiv 2510.11953"
    priority = 1
    Options = AEOptions
    description = "plain autoencoder (reconstruction only), Adam; reference for mmd-prior"

    def direction(self, state, oracle, options):
        return oracle.grad(state.x, of="recon")
