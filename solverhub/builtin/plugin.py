"""The core's own plugin: builtin solvers, problem kinds, datasets and models, registered
through the same hooks as any third-party plugin, by name (``{name: "module:Class"}``), so that
only the solver and the kind a command uses are imported."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def solverhub_solvers():
    # "module:Class": the registry imports a solver's module only when its name is used
    return {"gd": f"{__package__}.gd:GradientDescent", "adam": f"{__package__}.adam:Adam",
            "lbfgs": f"{__package__}.lbfgs:LBFGS", "lbfgsb": f"{__package__}.lbfgsb:LBFGSB",
            "proxgrad": f"{__package__}.proxgrad:ProxGrad", "fista": f"{__package__}.fista:FISTA",
            "cvxpy": f"{__package__}.cvxpy_solver:CvxpySolver", "slsqp": f"{__package__}.slsqp:SLSQP",
            "trust-constr": f"{__package__}.trust_constr:TrustConstr", "auglag": f"{__package__}.auglag:AugLag"}


_KINDS = "solverhub.problem.kinds"


@hookimpl
def solverhub_problem_kinds():
    return {"minimize": f"{_KINDS}.minimize:Minimize", "constrained": f"{_KINDS}.constrained:Constrained",
            "finite_sum": f"{_KINDS}.finite_sum:FiniteSum", "bilevel": f"{_KINDS}.bilevel:Bilevel",
            "monotone": f"{_KINDS}.monotone:Monotone", "minimax": f"{_KINDS}.minimax:Minimax",
            "training": f"{_KINDS}.training:Training"}


@hookimpl
def solverhub_datasets():
    from ..datasets import DATASETS
    return DATASETS


@hookimpl
def solverhub_models():
    from ..models import MODELS
    return MODELS
