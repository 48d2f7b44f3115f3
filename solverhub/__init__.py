"""solverhub: a plugin-based registry of optimization methods with declarative problem files.

Public API (imports are lazy: ``import solverhub`` does not import torch or cvxpy)::

    problem = solverhub.load_problem("problems/ridge.yaml")
    result = solverhub.solve(problem, "bfgs-wolfe", options={"tolerance": 1e-8})
    result.to_json()
"""
from __future__ import annotations

__all__ = ["load_problem", "solve", "compute_baseline", "Result", "Status", "Stationarity", "TracePoint",
           "Solver", "Capabilities", "IterState", "Acceptance", "Refusal", "RefusalCode", "Reference", "ReferenceStatus",
           "hookimpl", "get_registry", "SolverhubError", "__version__"]

from .errors import SolverhubError
from .hookspecs import hookimpl
from .reference import Reference, ReferenceStatus
from .result import Result, Stationarity, Status, TracePoint
from .solver import Acceptance, Capabilities, IterState, Refusal, RefusalCode, Solver

_LAZY = {"load_problem": "problem.model", "solve": "api", "compute_baseline": "baseline",
         "get_registry": "registry"}


def _distribution_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written)."""
    from importlib import metadata
    try:
        return metadata.version("solverhub")
    except metadata.PackageNotFoundError:      # a source tree on sys.path, not installed
        return "0+unknown"


def __getattr__(name):
    if name == "__version__":
        globals()["__version__"] = version = _distribution_version()
        return version
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'solverhub' has no attribute {name!r}")
