"""solverhub entry point of the ``minnorm-og`` plugin: the ``unlearning`` kind, MinNorm-OG and
its baselines. Imports neither torch nor the kind's schema until a hook asks for them."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"minnorm-og": f"{__package__}.minnorm_og:MinNormOG", "retrain": f"{__package__}.baselines:Retrain",
            "gd-retain": f"{__package__}.baselines:GDRetain", "ga-forget": f"{__package__}.baselines:GAForget",
            "neggrad-plus": f"{__package__}.baselines:NegGradPlus"}


@hookimpl
def solverhub_problem_kinds():
    return {"unlearning": f"{__package__}.kind:Unlearning"}
