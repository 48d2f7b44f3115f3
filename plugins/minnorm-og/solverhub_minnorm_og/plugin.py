"""solverhub entry point of the ``minnorm-og`` plugin: the ``unlearning`` kind, MinNorm-OG and
its baselines. Imports neither torch nor the kind's schema until a hook asks for them."""
from __future__ import annotations

from solverhub.plugin import hookimpl

from .baselines import GAForget, GDRetain, NegGradPlus, Retrain
from .minnorm_og import MinNormOG


@hookimpl
def solverhub_solvers():
    return [MinNormOG, Retrain, GDRetain, GAForget, NegGradPlus]


@hookimpl
def solverhub_problem_kinds():
    from .kind import Unlearning
    return [Unlearning]
