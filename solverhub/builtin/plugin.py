"""The core's own plugin: builtin solvers, problem kinds, datasets and models, registered
through the same hooks as any third-party plugin."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def solverhub_solvers():
    from .adam import Adam
    from .auglag import AugLag
    from .cvxpy_solver import CvxpySolver
    from .fista import FISTA
    from .gd import GradientDescent
    from .lbfgs import LBFGS
    from .lbfgsb import LBFGSB
    from .proxgrad import ProxGrad
    from .slsqp import SLSQP
    from .trust_constr import TrustConstr
    return [GradientDescent, Adam, LBFGS, LBFGSB, ProxGrad, FISTA, CvxpySolver, SLSQP, TrustConstr, AugLag]


@hookimpl
def solverhub_problem_kinds():
    from ..problem.kinds.bilevel import Bilevel
    from ..problem.kinds.constrained import Constrained
    from ..problem.kinds.finite_sum import FiniteSum
    from ..problem.kinds.minimax import Minimax
    from ..problem.kinds.minimize import Minimize
    from ..problem.kinds.monotone import Monotone
    from ..problem.kinds.training import Training
    return [Minimize, Constrained, FiniteSum, Bilevel, Monotone, Minimax, Training]


@hookimpl
def solverhub_datasets():
    from ..datasets import DATASETS
    return DATASETS


@hookimpl
def solverhub_models():
    from ..models import MODELS
    return MODELS
