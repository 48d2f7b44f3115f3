"""The public API for plugin authors: everything a solver, problem-kind, model or dataset
plugin needs, in one module. A plugin imports only ``solverhub``, ``solverhub.plugin``
and ``solverhub.testing``; everything else in the core is private and may change
(an import-linter contract in the test suite holds the shipped plugins to this).

``import solverhub.plugin`` is cheap: only the hook marker, ``lazy_module`` and
``lazy_attributes`` load at once; every other name (the solver API and its options (pydantic), results, errors, the
problem-kind bases, the data helpers (numpy), the dataset loaders) loads on first use::

    from solverhub.plugin import Capabilities, IterState, Solver, hookimpl, lazy_module

    torch = lazy_module("torch")   # imported on first attribute access
"""
from __future__ import annotations

__all__ = [
    # solvers and the run loop's view of them
    "Solver", "Capabilities", "IterState", "NoOptions", "Acceptance", "Refusal", "RefusalCode", "Known",
    "hookimpl",
    # declarative solver options (pydantic): class Options(SolverOptions): lr: float = option(0.1, "...", gt=0)
    "SolverOptions", "option", "model_validator",
    # reference answers (a kind's reference_solve, a direct solver's solve_direct, the baseline)
    "Reference", "ReferenceStatus",
    # results
    "Result", "Status", "Stationarity", "TracePoint",
    # errors with locations
    "SolverhubError", "ProblemError", "OptionError", "Location",
    # lazy heavy imports
    "lazy_module",
    "lazy_attributes",
    # problem kinds (loaded on first use)
    "ProblemKind", "ExpressionKind", "ModelKind", "CompiledSections", "NoBaseline", "TorchProblem", "TorchEvaluator",
    "ExpressionContext", "Catalog", "Problem", "cvxpy_reference",
    # typed structure: bounds, nonsmooth terms, constraint functions
    "Bounds", "NonsmoothTerm", "Structure", "TorchStructure", "TorchNonsmooth",
    # size caps and data helpers (loaded on first use)
    "max_elements", "charge", "split_rows", "load_training_arrays", "TrainingArrays",
    "load_sklearn_set", "SklearnMissing",
    # shared method parts (loaded on first use): Adam's moments, O2NC episodes, line search, projections
    "AdamMoments", "adam_init", "adam_direction", "adam_step", "Episodes", "episodes_start", "episode_round",
    "ogd_ball_step", "conversion_report", "LineFunction", "LineSearchResult", "weak_wolfe_search", "project_ball",
    "lipschitz_estimate", "monotonicity_estimate",
]

from ._lazy import lazy_attributes, lazy_module
from .hookspecs import hookimpl

# name -> (private module, name there); imported on first access (PEP 562), so that a plugin's
# registration module (``from solverhub.plugin import hookimpl``) costs nothing at start-up
_LAZY = {
    **{name: ("errors", name) for name in ("Location", "OptionError", "ProblemError", "SolverhubError")},
    **{name: ("result", name) for name in ("Result", "Stationarity", "Status", "TracePoint")},
    "Known": ("oracle", "Known"),
    **{name: ("options", name) for name in ("SolverOptions", "model_validator", "option")},
    **{name: ("reference", name) for name in ("Reference", "ReferenceStatus")},
    **{name: ("solver", name) for name in ("Acceptance", "Capabilities", "IterState", "NoOptions", "Refusal",
                                           "RefusalCode", "Solver")},
    "ProblemKind": ("problem.kinds.base", "ProblemKind"),
    "CompiledSections": ("problem.kinds.base", "CompiledSections"),
    "ModelKind": ("problem.kinds.base", "ModelKind"),
    "ExpressionKind": ("problem.kinds.base", "ExpressionKind"),
    "cvxpy_reference": ("problem.kinds.base", "cvxpy_reference"),
    "Bounds": ("problem.structure", "Bounds"),
    "NonsmoothTerm": ("problem.structure", "NonsmoothTerm"),
    "Structure": ("problem.structure", "Structure"),
    "TorchStructure": ("problem.structure", "TorchStructure"),
    "TorchNonsmooth": ("problem.structure", "TorchNonsmooth"),
    "NoBaseline": ("problem.kinds.base", "NoBaseline"),
    "TorchProblem": ("problem.kinds.base", "TorchProblem"),
    "TorchEvaluator": ("problem.kinds.base", "TorchEvaluator"),
    "ExpressionContext": ("problem.kinds.base", "ExpressionContext"),
    "Catalog": ("problem.kinds.base", "Catalog"),
    "Problem": ("problem.model", "Problem"),
    "max_elements": ("problem.data", "max_elements"),
    "charge": ("problem.data", "charge"),
    "split_rows": ("datasets.training_data", "split_rows"),
    "load_training_arrays": ("datasets.training_data", "load_training_arrays"),
    "TrainingArrays": ("datasets.training_data", "TrainingArrays"),
    "load_sklearn_set": ("datasets.sklearn_sets", "load_sklearn_set"),
    "SklearnMissing": ("datasets.sklearn_sets", "SklearnMissing"),
    **{name: ("parts.adam", name) for name in ("AdamMoments", "adam_init", "adam_direction", "adam_step")},
    **{name: ("parts.o2nc", name) for name in ("Episodes", "episodes_start", "episode_round", "ogd_ball_step",
                                               "conversion_report")},
    **{name: ("parts.line_search", name) for name in ("LineFunction", "LineSearchResult", "weak_wolfe_search")},
    "project_ball": ("parts.projections", "project_ball"),
    **{name: ("parts.lipschitz", name) for name in ("lipschitz_estimate", "monotonicity_estimate")},
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"solverhub.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'solverhub.plugin' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
