"""``kind: latent_prior`` -- train an autoencoder whose aggregate posterior should match a
chosen prior (arXiv 2510.11953's setting), on data with known generating factors.

YAML (kind sections)::

    dataset:
      factors: {n: 2000, dim_factors: 2, dim_x: 10, noise: 0.01, seed: 0}   # or  sklearn: digits
      test_fraction: 0.2          # held-out rows (reconstruction error)
    latent_dim: 2
    prior: uniform                # gaussian | uniform | mixture, or {uniform: {low: -1, high: 1}},
                                  # {gaussian: {mean, std}}, {mixture: {components, radius, std, means, weights}}
    encoder: [32]                 # hidden widths; decoder: [32]; activation: tanh | relu | elu
    lambda: 10                    # weight of MMD^2 in mmd-prior's loss
    kernel: {bandwidths: [0.2, 0.5, 1, 2, 5]}   # RBF bandwidths, times sqrt(latent_dim)
    batch_size: 128
    epochs: 50                    # the training budget: every solver stops after this many epochs
    init: {seed: 0}               # the parameters' start (torch.nn.Linear's init, drawn with numpy)

Variables (implied): the autoencoder's weights ``enc0_W, enc0_b, ..., enc_mu_*, enc_logvar_*,
dec0_*, ..., dec_out_*`` (see ``model.py``). Objective: the reconstruction error
mean_i ||x_i - dec(mu(x_i))||^2 over the training rows (exact; what the trace shows). The
solvers train on minibatch loss terms the oracle counts by name (``recon``, ``mmd``,
``vae_recon``, ``kl``; see ``model.py``).

Report (``Result.extras``, uncounted, at the final weights): held-out reconstruction error;
for the aggregate posterior -- the encoder means mu(x) over all rows -- its MMD^2 to the prior
(numpy, same kernel, against as many prior samples), per-dimension KS distance to the prior's
marginals (max, mean), LPS (mean, max; ``.metrics.lps``) and, on the factor set,
factor recovery (max |corr| of each factor with a latent; mean and min over factors).

The spec (``problem.sections.model``) is a frozen :class:`~.model.LatentSpec`; the torch
model (``TorchProblem.model``) is a :class:`~.model.LatentModel`. No reference answer: the
problem is nonconvex and its point is the latent geometry, not a minimum.
"""
from __future__ import annotations

__all__ = ["LatentPrior", "latent_report"]

from dataclasses import replace

import numpy as np

from solverhub.plugin import Location, ModelKind, ProblemError, lazy_module, max_elements

from .data import LatentData, digits_dataset, factor_dataset, split_rows
from .metrics import factor_recovery, ks_to_prior, lps, mmd2
from .model import AEConfig, LatentModel, LatentSpec, init_params, variable_shapes
from .schema import LatentPriorSections, parse_prior

torch = lazy_module("torch")

SKLEARN_DIMS = {"digits": 64}
REPORT_POINTS = 2000      # rows of the aggregate posterior used by the latent metrics


def _dim_x(sections: LatentPriorSections) -> int:
    ds = sections.dataset
    return ds.factors.dim_x if ds.factors is not None else SKLEARN_DIMS.get(ds.sklearn or "", 0)


def _config(sections: LatentPriorSections) -> AEConfig:
    return AEConfig(dim_x=_dim_x(sections), latent_dim=sections.latent_dim, encoder=tuple(sections.encoder),
                    decoder=tuple(sections.decoder), activation=sections.activation)


def latent_report(data: LatentData, prior, scales, z_all: np.ndarray, *, prefix: str = "", seed: int = 0) -> dict:
    """Latent metrics of the aggregate posterior sample ``z_all`` (rows: train then test)."""
    rng = np.random.default_rng(seed)
    n = z_all.shape[0]
    take = np.sort(rng.permutation(n)[:REPORT_POINTS])
    z = z_all[take]
    ks = ks_to_prior(z, prior)
    scores = lps(z, seed=seed)
    out = {f"{prefix}mmd2_to_prior": mmd2(z, prior.sample(z.shape[0], rng), scales=scales),
           f"{prefix}ks_max": float(ks.max()), f"{prefix}ks_mean": float(ks.mean()),
           f"{prefix}lps_mean": float(scores.mean()), f"{prefix}lps_max": float(scores.max()),
           f"{prefix}ks_per_dim": ks.tolist(), f"{prefix}lps_per_dim": scores.tolist()}
    if data.factors_train is not None:
        factors = np.concatenate([data.factors_train, data.factors_test])[take]
        rec = factor_recovery(z, factors)
        out.update({f"{prefix}factor_recovery_mean": float(rec.mean()), f"{prefix}factor_recovery_min": float(rec.min())})
    return out


class LatentPrior(ModelKind):
    name = "latent_prior"
    description = "autoencoder whose aggregate posterior should match a chosen prior; objective: reconstruction error"
    Sections = LatentPriorSections
    polishable = False
    generic_minimization = False    # trained by its own methods (their loss terms and budget), not as a plain f(x)
    no_cvxpy_reason = ("latent_prior trains a nonconvex autoencoder whose point is the latent geometry "
                       "(MMD, KS, LPS in the report); there is no convex form or reference optimum")
    tiny_problem = """
name: tiny-latent-prior
kind: latent_prior
dataset: {factors: {n: 200, dim_factors: 2, dim_x: 4, noise: 0.01, seed: 0}}
latent_dim: 2
prior: uniform
encoder: [8]
decoder: [8]
batch_size: 32
epochs: 3
"""

    # -- YAML -> spec --------------------------------------------------------
    def implicit_variables(self, sections, data_shapes, location) -> dict:
        return dict(variable_shapes(_config(sections)))

    def build_model(self, sections: LatentPriorSections, ctx) -> LatentSpec:
        loc = lambda *path: Location(ctx.file, ctx.line_of(path))  # noqa: E731
        if ctx.symbols.data:
            name = next(iter(ctx.symbols.data))
            raise ProblemError(f"data: kind latent_prior makes its own data (dataset:), got data {name!r}",
                               location=loc("data", name), allowed="dataset: {factors: {...}} or {sklearn: digits}")
        ds = sections.dataset
        if (ds.factors is None) == (ds.sklearn is None):
            raise ProblemError("dataset: give exactly one of factors: {...} and sklearn: digits",
                               location=loc("dataset"), allowed="factors, sklearn")
        want = variable_shapes(_config(sections))
        declared = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
        if declared != {k: tuple(v) for k, v in want.items()}:
            raise ProblemError("variables: the kind implies the autoencoder's weights", location=loc("variables"),
                               allowed="omit variables:")
        _, prior = parse_prior(sections.prior, sections.latent_dim, loc)
        if any(not b > 0 for b in sections.kernel.bandwidths) or not sections.kernel.bandwidths:
            raise ProblemError(f"kernel.bandwidths: need positive numbers, got {sections.kernel.bandwidths}",
                               location=loc("kernel", "bandwidths"), allowed="e.g. [0.2, 0.5, 1, 2, 5]")
        if any(h < 1 for h in (*sections.encoder, *sections.decoder)):
            raise ProblemError("encoder/decoder: hidden widths must be >= 1", location=loc("encoder"))
        if ds.factors is not None:
            f = ds.factors
            if f.n * (f.dim_x + f.dim_factors) > max_elements():
                raise ProblemError(f"dataset.factors: n x (dim_x + dim_factors) exceeds the cap of {max_elements()}",
                                   location=loc("dataset", "factors"))
            if ds.n is not None:
                raise ProblemError("dataset.n: only for sklearn datasets (factors: has its own n)",
                                   location=loc("dataset", "n"))
            X, S = factor_dataset(f.n, f.dim_factors, f.dim_x, f.noise, f.seed)
            name = f"factors(n={f.n}, k={f.dim_factors}, dim_x={f.dim_x}, noise={f.noise:g}, seed={f.seed})"
        else:
            from solverhub.plugin import SklearnMissing
            try:
                X, S = digits_dataset(), None
            except SklearnMissing as err:
                raise ProblemError(f"dataset.sklearn: {err}", location=loc("dataset", "sklearn"),
                                   allowed="pip install 'solverhub[sklearn]' (or scikit-learn), or dataset: {factors: ...}") from None
            if ds.n is not None:
                if ds.n > X.shape[0]:
                    raise ProblemError(f"dataset.n: digits has {X.shape[0]} rows, asked for {ds.n}",
                                       location=loc("dataset", "n"), allowed=f"n <= {X.shape[0]}")
                X = X[np.sort(np.random.default_rng(ds.split_seed).permutation(X.shape[0])[:ds.n])]
            name = f"sklearn digits ({X.shape[0]} rows)"
        train, test = split_rows(X.shape[0], ds.test_fraction, ds.split_seed)
        if sections.batch_size > train.size:
            raise ProblemError(f"batch_size: {sections.batch_size} exceeds the {train.size} training rows",
                               location=loc("batch_size"), allowed=f"2 <= batch_size <= {train.size}")
        data = LatentData(X[train], X[test], None if S is None else S[train], None if S is None else S[test], name)
        return LatentSpec(config=_config(sections), prior=prior, data=data, lam=sections.lam,
                          scales=tuple(sections.kernel.bandwidths), batch_size=sections.batch_size,
                          epochs=sections.epochs, init_seed=sections.init.seed)

    # -- torch -------------------------------------------------------------
    def torch_model(self, problem, device, dtype) -> LatentModel:
        return LatentModel(problem.sections.model, device, dtype)

    def lower_torch(self, problem, device, dtype):
        tp = super().lower_torch(problem, device, dtype)
        return replace(tp, functions=tp.model.functions())     # the loss terms the oracle counts by name

    def start(self, problem) -> np.ndarray:
        """The file's x0 if it gives one (not all zeros), else torch.nn.Linear's init drawn with numpy."""
        spec: LatentSpec = problem.sections.model
        return problem.x0 if np.any(problem.x0 != 0) else init_params(spec.config, spec.init_seed)

    def report(self, tp, oracle, x) -> dict:
        model: LatentModel = tp.model
        spec_data: LatentData = model.spec.data
        with torch.no_grad():
            X_test = torch.as_tensor(spec_data.X_test, dtype=x.dtype, device=x.device)
            X_all = torch.cat([model.X, X_test])
            mu_test, _ = model.encode(x, X_test)
            err = ((X_test - model.decode(x, mu_test)) ** 2).sum(1).mean()
            z = model.encode(x, X_all)[0].cpu().numpy().astype(np.float64)
        out = {"test_recon_error": float(err), "test_recon_mse": float(err) / model.cfg.dim_x,
               "dataset": spec_data.name}
        out.update(latent_report(spec_data, model.prior, model.scales, z))
        return out
