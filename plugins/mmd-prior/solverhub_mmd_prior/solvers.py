"""Training methods of ``kind: latent_prior``, each Adam (Kingma & Ba 2015; beta1 0.9, beta2 0.999,
eps 1e-8) on a minibatch gradient g of its loss, one counted ``oracle.grad(x, of=term)`` per term:

* ``mmd-prior``   g = grad recon + lambda * grad mmd        (arXiv 2510.11953; two minibatches, ours)
                  g = grad recon_mmd                        (``batch: shared``: one minibatch, the paper's)
* ``kl-vae``      g = grad vae_recon + beta * grad kl
* ``autoencoder`` g = grad recon

arXiv 2510.11953 App. A: Adam, lr 5e-4 (``preset: paper`` makes it the file's default; ours 1e-3),
lambda 0.3 from the problem (``lambda:``), overridable by ``lam``. See docs/methods/mmd-prior.md.
"""
from __future__ import annotations

__all__ = ["MMDPrior", "KLVAE", "Autoencoder", "TrainState"]

from dataclasses import dataclass
from typing import Any

from solverhub import Capabilities, IterState, Solver, Status
from solverhub.plugin import AdamMoments, OptionError, SolverOptions, adam_init, adam_step, option

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True, kw_only=True)
class TrainState(IterState):
    moments: AdamMoments = None   # Adam's m_t, v_t and t (steps taken)
    spec: Any = None              # the problem's LatentSpec: lam, the budget, data for the report


class _AdamTrainer(Solver):
    """Adam on the minibatch gradient ``self.direction(state, oracle, options)`` of a method's loss."""

    kinds = ("latent_prior",)
    capabilities = Capabilities(stochastic_ok=True)

    def init(self, problem, oracle, x0, options) -> TrainState:
        return TrainState(x=x0, moments=adam_init(x0), spec=problem.sections.model)

    def step(self, state: TrainState, oracle, options) -> TrainState:
        g = self.direction(state, oracle, options)                   # the method's minibatch gradient
        x, moments = adam_step(state.x, state.moments, g, options.lr, BETA1, BETA2, EPS)
        spec, stop = state.spec, None
        if moments.t >= spec.steps:
            stop = (Status.BUDGET_EXHAUSTED, f"finished the training budget: {spec.epochs} epochs ({moments.t} steps)")
        return TrainState(x=x, moments=moments, spec=spec, stop=stop)

    def report(self, state: TrainState, oracle, options) -> dict:
        spec, t = state.spec, state.moments.t
        return {"training_steps": t, "training_budget_steps": spec.steps,
                "epochs_completed": t / max(1, spec.steps) * spec.epochs}


class AEOptions(SolverOptions):
    lr: float = option(1e-3, "Adam step", symbol="η", gt=0)


class MMDOptions(SolverOptions):
    lr: float = option(1e-3, "Adam step (the note: 1e-3; the paper 5e-4, the default under preset: paper)",
                       symbol="η", gt=0)
    lam: float | None = option(None, "weight of MMD²; null: the problem's lambda (batch: separate only)",
                               symbol="λ", ge=0)


class MMDPrior(_AdamTrainer):
    """Deterministic autoencoder + lambda * MMD^2(aggregate-posterior batch, prior samples):
    the 'programmable prior' of Fruytier et al., arXiv 2510.11953 (WAE-MMD with a chosen prior)."""

    name = "mmd-prior"
    paper = "arXiv:2510.11953"
    priority = 20
    Options = MMDOptions
    description = "autoencoder + lambda*MMD^2 to a chosen latent prior (programmable prior), Adam"

    def init(self, problem, oracle, x0, options) -> TrainState:
        if options.lam is not None and problem.sections.model.shared_batch:
            raise OptionError("option 'lam': with batch: shared the weight is the problem's lambda",
                              allowed="set lambda: in the file, or batch: separate")
        return super().init(problem, oracle, x0, options)

    def direction(self, state, oracle, options):
        if state.spec.shared_batch:                          # one minibatch for both terms (the paper's)
            return oracle.grad(state.x, of="recon_mmd")
        lam = state.spec.lam if options.lam is None else options.lam
        return oracle.grad(state.x, of="recon") + lam * oracle.grad(state.x, of="mmd")

    def report(self, state, oracle, options) -> dict:
        return {**super().report(state, oracle, options), "lambda_of_problem": state.spec.lam}


class VAEOptions(AEOptions):
    beta: float = option(1.0, "weight of the KL term (1: the ELBO; a beta sweep: 0.5, 1, 4)", symbol="β", ge=0)


class KLVAE(_AdamTrainer):
    """Gaussian-encoder (beta-)VAE, the reference of arXiv 2510.11953: minimise ||x - dec(z)||^2 + beta * KL(q(z|x)
    || p), z = mu + sigma * eps (decoder variance 1/2, so the reconstruction term has the autoencoder's scale)."""

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
        spec, x = state.spec, state.x.detach()
        mu, logvar = LatentModel(spec, x.device, x.dtype).encode_all(x)
        mu, sd = (t.cpu().numpy().astype(np.float64) for t in (mu, (0.5 * logvar).exp()))
        z = mu + sd * np.random.default_rng(12345).standard_normal(mu.shape)
        return {**super().report(state, oracle, options), "posterior_std_mean": float(sd.mean()),
                **latent_report(spec, z, prefix="sampled_")}


class Autoencoder(_AdamTrainer):
    """Plain deterministic autoencoder (reconstruction only): the unregularised reference."""

    name = "autoencoder"
    paper = "Rumelhart, Hinton & Williams (1986); unregularised reference of arXiv 2510.11953"
    priority = 1
    Options = AEOptions
    description = "plain autoencoder (reconstruction only), Adam; reference for mmd-prior"

    def direction(self, state, oracle, options):
        return oracle.grad(state.x, of="recon")
