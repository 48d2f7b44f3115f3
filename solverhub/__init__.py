"""solverhub: a plugin-based registry of optimization methods with declarative problem files.

Public API (imports are lazy: ``import solverhub`` imports pluggy and the hook marker only;
every other name loads its module on first use, so a plugin's registration module that says
``from solverhub import hookimpl`` costs nothing at start-up)::

    problem = solverhub.load_problem("problems/ridge.yaml")
    result = solverhub.solve(problem, "bfgs-wolfe", options={"tolerance": 1e-8})
    result.to_json()
    results = solverhub.compare("problems/smooth/", ["gd", "lbfgs"], seeds=3, jobs=2)
"""
from __future__ import annotations

__all__ = ["load_problem", "solve", "compare", "compute_baseline", "Result", "Status", "Stationarity", "TracePoint",
           "Solver", "Capabilities", "IterState", "Acceptance", "Refusal", "RefusalCode", "Reference", "ReferenceStatus",
           "hookimpl", "get_registry", "SolverhubError", "__version__"]

from .hookspecs import hookimpl

# name -> private module holding it; imported on first access (PEP 562)
_LAZY = {"load_problem": "problem.model", "solve": "api", "compare": "bench.api", "compute_baseline": "baseline",
         "get_registry": "registry", "SolverhubError": "errors",
         **dict.fromkeys(("Reference", "ReferenceStatus"), "reference"),
         **dict.fromkeys(("Result", "Stationarity", "Status", "TracePoint"), "result"),
         **dict.fromkeys(("Acceptance", "Capabilities", "IterState", "Refusal", "RefusalCode", "Solver"), "solver")}


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
        value = globals()[name] = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        return value
    raise AttributeError(f"module 'solverhub' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
