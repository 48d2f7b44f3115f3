"""``kind: unlearning`` -- remove a forget set from a trained, interpolating model
(arXiv 2505.22601; sections, extras and reference: ``docs/methods/minnorm-og.md``).

The variables are the model's weights; the run starts from the trained model θ*. The target
is the least-complex retain interpolator θ_r* = argmin ½‖θ‖² s.t. f(θ, x_i) = y_i (retain),
so the objective is R(θ) = ½‖θ‖² and the default measure ``minnorm_kkt`` =
sqrt(‖P_null(J_r(θ)) θ‖² + ‖f(θ, X_r) − y_r‖²), its KKT residual (reconstructed). Oracle
functions ``retain``/``forget``: the two sets' mean squared errors. Reference: retraining on
the retain rows from θ0 (θ_r* itself for a linear model from θ0 = 0: certified; local for an MLP).
"""
from __future__ import annotations

__all__ = ["Unlearning", "UnlearningModel"]

from dataclasses import replace

from solverhub.plugin import ModelKind, Reference, ReferenceStatus, lazy_module

from .model import TorchModel
from .minnorm_og import null_component
from .sections import UnlearningSections, build_spec, implied_variables
from .setup import Setup, cached_setup

torch = lazy_module("torch")


class UnlearningModel:
    """The set-up on one device: the network f(θ, X), the retain and forget rows, θ0, θ*, θ_ref."""

    def __init__(self, s: Setup, device, dtype):
        def t(a):
            return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)
        self.setup = s
        self.net = TorchModel(s.spec, device, dtype)
        self.X_retain, self.y_retain = t(s.X[~s.forget]), t(s.y[~s.forget])
        self.X_forget, self.y_forget = t(s.X[s.forget]), t(s.y[s.forget])
        self.theta_init, self.theta_trained, self.theta_reference = (
            t(s.theta_init), t(s.trained.theta), t(s.reference.theta))
        self.grid, self.target_on_grid = t(s.grid), t(s.target_on_grid)

    def objective(self, theta, rows=None):
        """The complexity R(θ) = ½‖θ‖²."""
        return 0.5 * torch.dot(theta, theta)

    def retain_mse(self, theta, rows=None):
        return torch.mean((self.net(theta, self.X_retain) - self.y_retain) ** 2)

    def forget_mse(self, theta, rows=None):
        return torch.mean((self.net(theta, self.X_forget) - self.y_forget) ** 2)

    def kkt_parts(self, theta):
        """(‖P_null(J_r) θ‖, ‖f(θ, X_r) − y_r‖) as 0-d tensors."""
        J = self.net.jacobian(theta, self.X_retain)
        residual = self.net(theta, self.X_retain) - self.y_retain
        return torch.linalg.vector_norm(null_component(theta, J)), torch.linalg.vector_norm(residual)


class Unlearning(ModelKind):
    tiny_problem = """
name: tiny-unlearning
description: 12 x 30 least squares, forget 3 rows
kind: unlearning
data:
  X: {generate: normal, shape: [12, 30], seed: 4}
  y: {generate: normal, shape: [12], seed: 5}
model: {type: linear}
forget: {rows: [0, 5, 7]}
solve: {optimizer: gd, lr: 0.02, reg_coef: 1.0}
"""
    name = "unlearning"
    description = "unlearn a forget set from a trained interpolating model (linear or MLP)"
    Sections = UnlearningSections
    default_measure = "minnorm_kkt"
    measures = ("minnorm_kkt", "null_component", "retain_residual")
    polishable = False
    generic_minimization = False   # ½‖θ‖² alone is not the problem: only the unlearning solvers run it
    no_cvxpy_reason = ("the unlearning kind's reference is retraining on the retain set (closed form for a "
                       "linear model), not a cvxpy problem")

    implicit_variables = staticmethod(implied_variables)   # the model's weights
    build_model = staticmethod(build_spec)                 # -> UnlearningSpec
    setup = staticmethod(cached_setup)                     # data, θ0, θ*, θ_ref: trained once per problem, cached

    def torch_model(self, problem, device, dtype) -> UnlearningModel:
        return UnlearningModel(self.setup(problem), device, dtype)

    def start(self, problem):
        """The trained model θ*."""
        return self.setup(problem).trained.theta

    def lower_torch(self, problem, device, dtype):
        tp = super().lower_torch(problem, device, dtype)
        return replace(tp, functions={"retain": tp.model.retain_mse, "forget": tp.model.forget_mse})

    def measure(self, name, tp, oracle, x, known):
        if name not in self.measures:
            return super().measure(name, tp, oracle, x, known)
        null, residual = tp.model.kkt_parts(x)
        stationarity = {"null_component": null, "retain_residual": residual,
                        "minnorm_kkt": torch.sqrt(null * null + residual * residual)}[name]
        return oracle.peek_value(x), stationarity

    def report(self, tp, oracle, x) -> dict:
        m: UnlearningModel = tp.model
        s, ref = m.setup, m.theta_reference
        null, residual = m.kkt_parts(x)
        dist, ref_norm = float(torch.linalg.vector_norm(x - ref)), float(torch.linalg.vector_norm(ref))
        out_r, out_f, ref_f = m.net(x, m.X_retain), m.net(x, m.X_forget), m.net(ref, m.X_forget)
        extras = {
            "distance_to_retrain": dist,
            "relative_distance_to_retrain": dist / ref_norm if ref_norm > 0 else None,
            "start_distance_to_retrain": float(torch.linalg.vector_norm(m.theta_trained - ref)),
            "retain_mse": float(torch.mean((out_r - m.y_retain) ** 2)),
            "retain_max_abs_error": float(torch.max(torch.abs(out_r - m.y_retain))),
            "forget_mse": float(torch.mean((out_f - m.y_forget) ** 2)),
            "forget_mse_of_retrain": float(torch.mean((ref_f - m.y_forget) ** 2)),
            "forget_max_output_gap_to_retrain": float(torch.max(torch.abs(out_f - ref_f))),
            "null_component": float(null), "retain_residual": float(residual),
            "trained_mse": s.trained.mse, "retrain_reference_mse": s.reference.mse,
            "reference": s.reference_name, "setup_time_s": s.setup_time_s,
            "n_retain": int((~s.forget).sum()), "n_forget": int(s.forget.sum()),
        }
        if m.grid is not None:
            on_grid, ref_grid = m.net(x, m.grid), m.net(ref, m.grid)
            extras["grid_sup_gap_to_retrain"] = float(torch.max(torch.abs(on_grid - ref_grid)))
            if m.target_on_grid is not None:
                extras["sup_error_vs_target"] = float(torch.max(torch.abs(on_grid - m.target_on_grid)))
                extras["retrain_sup_error_vs_target"] = float(torch.max(torch.abs(ref_grid - m.target_on_grid)))
        return extras

    def reference_solve(self, problem, solver=None) -> Reference:
        """θ_ref: certified for the linear closed form (it is θ_r*), local for a retrained network."""
        s = self.setup(problem)
        closed_form = s.trained.method == "min_norm"
        return Reference(ReferenceStatus.CERTIFIED if closed_form else ReferenceStatus.LOCAL, s.reference_name,
                         x=s.reference.theta.copy(), solve_time_s=s.setup_time_s,
                         backend_status="" if closed_form else "retrained", iterations=s.reference.iterations,
                         message="the unlearning reference θ_ref (objective ½‖θ_ref‖²); not a cvxpy solve",
                         extras={"train_method": s.reference.method, "retrain_reference_mse": s.reference.mse})
