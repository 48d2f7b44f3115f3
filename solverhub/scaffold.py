"""``solverhub new-plugin NAME``: write a pip-installable solver plugin ``solverhub-NAME/``.

The scaffold is a complete, working plugin (fixed-step gradient descent on ``minimize``
problems) written only against :mod:`solverhub.plugin`, with its tests (the conformance
kit and one known answer), so an author starts from green tests and edits ``step``.
The templates are the strings below; ``__NAME__``, ``__PACKAGE__``, ``__CLASS__`` and
``__DIST__`` are filled in.
"""
from __future__ import annotations

__all__ = ["NAME_RULE", "ScaffoldError", "check_name", "plan", "scaffold"]

import re
from pathlib import Path

from .errors import SolverhubError

NAME_RULE = "lowercase letters, digits and single hyphens, starting with a letter (e.g. my-method)"
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


class ScaffoldError(SolverhubError):
    """A plugin name or target folder the scaffold refuses."""


PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "solverhub plugin: __NAME__ (say which method and which paper)"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["solverhub"]

[project.optional-dependencies]
test = ["pytest"]

# the entry point is what makes the plugin visible: `__NAME__` is its name in `solverhub plugins`
[project.entry-points.solverhub]
__NAME__ = "__PACKAGE__.plugin"

[tool.setuptools.packages.find]
include = ["__PACKAGE__*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

INIT = '''\
"""solverhub plugin __NAME__. Importing it does not import torch."""
from __future__ import annotations

__all__ = ["__CLASS__", "Options"]

from .solver import __CLASS__, Options
'''

SOLVER = '''\
"""__NAME__: gradient descent with a fixed step (the scaffold's placeholder method).

Reference: <authors>, "<title>", <arXiv id or venue>, <year>. Cite the paper here,
and the equation or algorithm box that ``step`` follows; set ``paper`` below to match.
Reconstructed (not stated in the paper): <the defaults and details you had to choose>.

    x_{k+1} = x_k - lr * grad f(x_k)

The core's run loop owns everything around ``step``: stopping rules, budgets, timing,
the trace and the Result. Write no loop, timer or JSON here.
"""
from __future__ import annotations

from solverhub.plugin import Capabilities, IterState, Solver, SolverOptions, option


class Options(SolverOptions):
    """The method's options: each typed, bounded, with a default (the paper's, where it gives one),
    a one-line meaning and the paper's symbol; a rule across options is a
    ``@pydantic.model_validator(mode="after")`` raising ``ValueError``."""

    lr: float = option(0.1, "fixed step size; converges on an L-smooth convex f when lr < 2 / L", symbol="η", gt=0)


class __CLASS__(Solver):
    """Gradient descent with a fixed step on ``minimize`` problems."""

    name = "__NAME__"
    paper = "Cauchy (1847)"          # the arXiv id or citation of your method, shown by `solverhub list`
    kinds = ("minimize",)            # the problem kinds it accepts
    capabilities = Capabilities()    # exact gradients only; no constraints
    priority = -1                    # below the builtins: dispatch picks it only when asked by name
    Options = Options
    description = "gradient descent with a fixed step (scaffold)"

    def init(self, problem, oracle, x0, options: Options) -> IterState:
        return IterState(x=x0)

    def step(self, state: IterState, oracle, options: Options) -> IterState:
        # one iteration, on the oracle's device, with no host sync (no float(t), t.item(), if t > 0)
        return IterState(x=state.x - options.lr * oracle.grad(state.x))
'''

PLUGIN = '''\
"""The module the entry point names (``[project.entry-points.solverhub]`` in pyproject.toml)."""
from __future__ import annotations

from solverhub.plugin import hookimpl

from .solver import __CLASS__


@hookimpl
def solverhub_solvers():
    return [__CLASS__]
'''

TEST = '''\
"""Tests of __DIST__: the conformance kit and one known answer."""
from __future__ import annotations

import math

import solverhub
from solverhub.testing import check_solver

from __PACKAGE__ import __CLASS__

# f(x) = 0.5 |x - c|^2 + 0.5 lam |x|^2 has its minimum at x* = c / (1 + lam)
QUADRATIC = """
name: shifted-quadratic
kind: minimize
variables: {x: {shape: [3]}}
data: {c: [1.0, -2.0, 0.5]}
parameters: {lam: 1.0}
objective: "0.5 * sum_squares(x - c) + 0.5 * lam * sum_squares(x)"
"""


def test_conformance():
    check_solver(__CLASS__)


def test_known_minimum():
    problem = solverhub.load_problem(QUADRATIC)
    result = solverhub.solve(problem, __CLASS__, options={"tolerance": 1e-9}, device="cpu")
    assert result.status is solverhub.Status.CONVERGED, result.message
    c, lam = [1.0, -2.0, 0.5], 1.0
    for got, want in zip(result.solution["x"], [ci / (1 + lam) for ci in c]):
        assert math.isclose(got, want, abs_tol=1e-8), (got, want)
    f_star = lam * sum(ci * ci for ci in c) / (2 * (1 + lam))
    assert math.isclose(result.objective, f_star, rel_tol=1e-9)
'''

README = '''\
# __DIST__

A solverhub plugin: the solver `__NAME__`.
Made by `solverhub new-plugin __NAME__`; it starts as fixed-step gradient descent.

```
__DIST__/
  pyproject.toml            the distribution and its entry point (group "solverhub")
  __PACKAGE__/
    __init__.py
    solver.py               the method: Options, init, step (edit this)
    plugin.py               @hookimpl solverhub_solvers() returns the solver class
  tests/test___PACKAGE_SUFFIX__.py    the conformance kit (check_solver) and a known answer
```

Install it (editable) and try it:

```console
$ pip install -e .
$ solverhub plugins                       # lists __NAME__: __DIST__ 0.1.0 (__NAME__)
$ solverhub solve problem.yaml --solver __NAME__ --option lr=0.05
$ python -m pytest
```

Next: put your method in `solver.py` (`init` and `step` only, against
`solverhub.plugin`), cite its paper in the module docstring and in `paper`,
declare its options with the paper's defaults, and keep the tests green.
See the plugin guide (docs/plugin-guide.md) for the oracle, `accepts`, priorities
and the no-host-sync rule.
'''


def check_name(name: str) -> str:
    """``name`` if it is a valid plugin name, else :class:`ScaffoldError` saying the rule."""
    if not _NAME.fullmatch(name or ""):
        raise ScaffoldError(f"invalid plugin name {name!r}: use {NAME_RULE}")
    return name


def plan(name: str) -> dict[str, str]:
    """The files of ``solverhub-NAME/`` (relative path -> text), without writing anything."""
    check_name(name)
    suffix = name.replace("-", "_")
    words = {"__NAME__": name, "__DIST__": f"solverhub-{name}", "__PACKAGE__": f"solverhub_{suffix}",
             "__CLASS__": "".join(part.capitalize() for part in name.split("-")),
             "__PACKAGE_SUFFIX__": suffix}

    def fill(text: str) -> str:
        for key in ("__PACKAGE_SUFFIX__", "__PACKAGE__", "__CLASS__", "__DIST__", "__NAME__"):
            text = text.replace(key, words[key])
        return text

    package = words["__PACKAGE__"]
    return {"pyproject.toml": fill(PYPROJECT), "README.md": fill(README),
            f"{package}/__init__.py": fill(INIT), f"{package}/solver.py": fill(SOLVER),
            f"{package}/plugin.py": fill(PLUGIN), f"tests/test_{suffix}.py": fill(TEST)}


def scaffold(name: str, parent: str | Path = ".") -> tuple[Path, list[str]]:
    """Write ``parent/solverhub-NAME/``; return the folder and the files written.

    Refuses (:class:`ScaffoldError`) a bad name, and a target that exists and is not an empty folder.
    """
    files = plan(name)
    root = Path(parent) / f"solverhub-{name}"
    if root.exists() and not (root.is_dir() and not any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not an empty folder; "
                            f"choose another --dir or remove it")
    try:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ScaffoldError(f"cannot write {root}: {err.strerror or err}") from None
    return root, list(files)
