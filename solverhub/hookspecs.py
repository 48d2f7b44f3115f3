"""Every solverhub hook, in one file (cf. pytest's ``hookspec.py``).

A plugin is a module holding ``@hookimpl`` functions. Third-party distributions
declare it under the entry-point group ``solverhub``::

    [project.entry-points.solverhub]
    myplugin = "mypkg.plugin"

Every command imports every such module, so it should import nothing heavy and
register by name (``{name: "mypkg.solver:MySolver"}``), as the builtins do.

The core's own solvers, problem kinds and datasets register through these very
hooks (``solverhub.builtin.plugin``).
"""
from __future__ import annotations

__all__ = ["hookspec", "hookimpl", "PROJECT_NAME", "solverhub_solvers",
           "solverhub_problem_kinds", "solverhub_datasets", "solverhub_models"]

from typing import Callable, Iterable, Mapping

import pluggy

PROJECT_NAME = "solverhub"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def solverhub_solvers() -> Iterable[type] | Mapping[str, str | type]:
    """Return the :class:`solverhub.Solver` subclasses this plugin provides, or
    ``{name: "package.module:Class"}``: then the registry imports a class only when its
    name is used (``solve --solver NAME``), so a command pays for the solvers it runs.

    Called once by the registry when it is first used (``solverhub list``,
    ``solve``, ``compare``). Must be cheap: import heavy libraries (torch,
    cvxpy) inside the solver's methods, not at module import.
    """


@hookspec
def solverhub_problem_kinds() -> Iterable[type] | Mapping[str, str | type]:
    """Return the :class:`solverhub.problem.kinds.ProblemKind` subclasses this plugin provides,
    or ``{name: "package.module:Class"}`` (imported when a problem of that kind is loaded).

    Called once by the registry when a problem file is loaded. A kind owns its
    YAML sections, its torch and cvxpy lowerings and its stationarity measures.
    """


@hookspec
def solverhub_datasets() -> Mapping[str, Callable[[], Mapping[str, "object"]]]:
    """Return named data sources: ``{name: loader}`` where ``loader()`` returns
    ``{array_name: numpy array}``.

    A problem file uses them as ``data: {X: {dataset: breast_cancer, field: X}}``.
    Loaders are called lazily, only when a problem refers to them.
    """


@hookspec
def solverhub_models() -> Mapping[str, Callable[..., "object"]]:
    """Return named model architectures for ``kind: training``: ``{name: factory}`` where
    ``factory(in_shape: tuple[int, ...], n_out: int, **options) -> torch.nn.Module``.

    ``in_shape`` is the shape of one input row (``(64,)`` for digits, ``(C, H, W)`` for
    images stored that way), ``n_out`` the number of outputs the loss needs (classes for
    ``cross_entropy``, target columns for ``mse``, 1 for ``logistic``); ``options`` are the
    keys under the model's name in the file (``model: {mlp: {hidden: [64]}}``). A factory
    raises ``TypeError``/``ValueError`` on bad options; the kind turns that into a
    ``file:line`` error. Called lazily, only when a problem uses the model; import torch
    inside the factory, not at module import.
    """
