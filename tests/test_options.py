"""Declarative solver options (pydantic ``SolverOptions``): coercion of CLI text through the
models, one-line errors naming the option, the value and the rule, the serialized form, and
the method pages' option tables generated from the models (a page that drifts fails here)."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Literal

import pytest

from solverhub.errors import OptionError
from solverhub.options import (RunOptions, SolverOptions, build_options, canonical_options, model_validator,
                               option, option_names, options_dict, options_rows, options_table)
from solverhub.registry import get_registry

ROOT = Path(__file__).resolve().parents[1]
RIDGE = ROOT / "problems" / "smooth" / "ridge.yaml"


def _script():
    spec = importlib.util.spec_from_file_location("option_tables", ROOT / "scripts" / "option_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Toy(SolverOptions):
    """A model with one field of every kind the CLI coerces."""

    lr: float = option(0.1, "step size", symbol="η", gt=0)
    steps: int = option(10, "inner steps", ge=1, le=60)
    plus: bool = option(False, "variant switch")
    mode: Literal["adam", "sgd"] = option("adam", "step rule")
    cap: float | None = option(None, "optional cap (null: none)", gt=0)
    level: Literal[1, 2] = option(1, "an integer choice")

    @model_validator(mode="after")
    def _cap_above_lr(self):
        if self.cap is not None and not self.cap > self.lr:
            raise ValueError(f"need cap > lr, got cap={self.cap}, lr={self.lr}")
        return self


def _error(values, cls=Toy) -> str:
    with pytest.raises(OptionError) as info:
        build_options(cls, values, what="toy option")
    text = str(info.value)
    assert "\n" not in text
    return text


# -- coercion ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("3", 3), ("3.0", 3), ("5e1", 50), (" 7 ", 7), (4, 4), (6.0, 6)])
def test_integers_accept_integral_spellings(text, value):
    got = build_options(Toy, {"steps": text}).steps
    assert got == value and type(got) is int


@pytest.mark.parametrize("text", ["1.5", "abc", True, "inf"])
def test_integers_reject_other_values(text):
    assert "option 'steps' expects an integer" in _error({"steps": text})


@pytest.mark.parametrize("text, value", [("true", True), ("Yes", True), ("on", True), ("1", True),
                                         ("false", False), ("no", False), ("OFF", False), ("0", False)])
def test_booleans(text, value):
    assert build_options(Toy, {"plus": text}).plus is value


def test_bad_boolean_lists_the_spellings():
    text = _error({"plus": "maybe"})
    assert "option 'plus' expects a boolean, got 'maybe'" in text and text.endswith("allowed: true, false")


def test_choices_and_none():
    opts = build_options(Toy, {"mode": "sgd", "level": "2", "cap": "null"})
    assert (opts.mode, opts.level, opts.cap) == ("sgd", 2, None)
    assert build_options(Toy, {"cap": "None"}).cap is None
    assert build_options(Toy, {"cap": "0.5"}).cap == pytest.approx(0.5, rel=0, abs=0)
    text = _error({"mode": "newton"})
    assert "option 'mode' got 'newton'" in text and text.endswith("allowed: adam, sgd")
    assert _error({"level": "3"}).endswith("allowed: 1, 2")


@pytest.mark.parametrize("values, fragment", [
    ({"lr": "-1"}, "option 'lr' must be > 0, got '-1'"),
    ({"lr": "0"}, "option 'lr' must be > 0, got '0'"),
    ({"steps": "0"}, "option 'steps' must be >= 1, got '0'"),
    ({"steps": 61}, "option 'steps' must be <= 60, got 61"),
    ({"lr": "nan"}, "option 'lr' must be a finite number, got 'nan'"),
    ({"lr": "1e999"}, "option 'lr' must be a finite number"),
    ({"lr": "abc"}, "option 'lr' expects a number, got 'abc'"),
    ({"cap": "-2"}, "option 'cap' must be > 0, got '-2'"),
])
def test_bounds_and_types_are_one_line_naming_option_value_and_rule(values, fragment):
    assert fragment in _error(values)


def test_unknown_names_list_the_valid_ones():
    text = _error({"nope": 1})
    assert text.startswith("unknown toy option 'nope'")
    assert text.endswith("allowed: cap, level, lr, mode, plus, steps")


def test_rule_across_options_is_one_line():
    assert build_options(Toy, {"cap": "1", "lr": "0.5"}).cap == pytest.approx(1.0, rel=0, abs=0)
    text = _error({"cap": "0.2", "lr": "0.5"})
    assert text.startswith("invalid toy options:") and "need cap > lr" in text


def test_dashes_in_names_and_the_defaults():
    opts = build_options(Toy, {"lr": "1e-2"})
    assert opts == Toy(lr=0.01) and opts.steps == 10 and opts.mode == "adam"
    assert build_options(RunOptions, {"max-iterations": "50.0"}).max_iterations == 50


def test_options_are_frozen_and_forbid_unknown_fields():
    opts = Toy()
    with pytest.raises(Exception):
        opts.lr = 1.0
    with pytest.raises(ValueError):
        Toy(nope=1)
    with pytest.raises(ValueError):
        Toy(lr=float("inf"))


def test_option_needs_a_description():
    with pytest.raises(ValueError, match="description"):
        option(1.0, "  ")


def test_legacy_dataclass_options_still_work():
    @dataclasses.dataclass(frozen=True)
    class Legacy:
        lr: float = 0.1
        steps: int = 3
        mode: Literal["a", "b"] = "a"

        def __post_init__(self):
            if not self.lr > 0:
                raise ValueError(f"lr must be > 0, got {self.lr}")

    opts = build_options(Legacy, {"lr": "0.5", "steps": "4.0", "mode": "b"})
    assert opts == Legacy(lr=0.5, steps=4, mode="b") and option_names(Legacy) == ["lr", "steps", "mode"]
    assert options_dict(opts) == {"lr": 0.5, "steps": 4, "mode": "b"}
    assert "expects an integer" in _error({"steps": "x"}, Legacy)
    assert "invalid toy options: lr must be > 0, got -1.0" in _error({"lr": "-1"}, Legacy)
    assert _error({"mode": "c"}, Legacy).endswith("allowed: a, b")
    assert options_rows(Legacy)[1] == {"name": "steps", "type": "int", "default": 3, "symbol": "",
                                       "description": ""}


# -- serialized form and run keys -------------------------------------------------------------------
def test_model_dump_is_the_old_asdict_form():
    gd = get_registry().solver("gd").Options
    assert options_dict(build_options(gd, {"lr": "0.5"})) == {
        "lr": 0.5, "backtracking": True, "shrink": 0.5, "grow": 1.0, "c1": 1e-4, "max_backtracks": 60}
    assert options_dict(RunOptions()) == {"max_iterations": 1000, "max_oracle_calls": None, "time_limit_s": None,
                                          "tolerance": 1e-6, "trace_every": 0}


def test_canonical_options_are_typed_and_checked_as_a_whole():
    gd = get_registry().solver("gd")
    assert canonical_options(gd, {"lr": ".01", "max-iterations": "5e1", "backtracking": "no"}) == {
        "backtracking": False, "lr": 0.01, "max_iterations": 50}
    with pytest.raises(OptionError, match="option 'shrink' must be < 1, got '2'"):
        canonical_options(gd, {"shrink": "2"})


def test_result_options_hold_every_value_used():
    import solverhub
    result = solverhub.solve(str(RIDGE), "gd", options={"lr": "0.05", "max_iterations": "3"}, device="cpu")
    assert json.loads(json.dumps(result.options)) == {**options_dict(RunOptions(max_iterations=3)),
                                                     **options_dict(get_registry().solver("gd").Options(lr=0.05))}


# -- the CLI ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("option_text, fragment", [
    ("lr=-1", "option 'lr' must be > 0, got '-1'"),
    ("shrink=1", "option 'shrink' must be < 1, got '1'"),
    ("max_iterations=-5", "option 'max_iterations' must be >= 0, got '-5'"),
    ("backtracking=maybe", "allowed: true, false"),
])
def test_cli_bad_option_is_exit_2_with_one_line(run_cli, option_text, fragment):
    out = run_cli("solve", RIDGE, "--solver", "gd", "--option", option_text)
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], out.stderr


def test_cli_choice_error_lists_the_choices(run_cli):
    out = run_cli("solve", RIDGE, "--solver", "lbfgs", "--option", "line_search=armijo")
    assert out.exit_code == 2
    assert out.stderr.strip().endswith("allowed: strong_wolfe, none"), out.stderr


def test_list_options_prints_the_table(run_cli):
    out = run_cli("list", "--options", "gd")
    assert out.exit_code == 0 and out.stdout.strip() == options_table(get_registry().solver("gd").Options)
    rows = json.loads(run_cli("list", "--options", "run", "--json").stdout)
    assert [r["name"] for r in rows] == option_names(RunOptions)
    assert run_cli("list", "--options", "nope").exit_code == 2


# -- the generated tables ---------------------------------------------------------------------------
def test_table_shows_type_bounds_default_symbol_and_meaning():
    lines = options_table(Toy).split("\n")
    assert lines[0] == "| option | type | default | symbol | meaning |"
    assert "| `lr` | float > 0 | `0.1` | η | step size |" in lines
    assert "| `steps` | int >= 1, <= 60 | `10` |  | inner steps |" in lines
    assert "| `mode` | `adam` or `sgd` | `adam` |  | step rule |" in lines
    assert "| `cap` | float > 0, or null | `null` |  | optional cap (null: none) |" in lines
    assert options_table(get_registry().solver("cvxpy").Options).count("\n") == 2
    assert options_table(type("Empty", (SolverOptions,), {})) == "No options of its own."


def _pydantic_solvers():
    return sorted(name for name, entry in get_registry().solvers.items()
                  if isinstance(entry.cls.Options, type) and issubclass(entry.cls.Options, SolverOptions))


@pytest.mark.parametrize("name", sorted(get_registry().solvers))
def test_every_option_has_a_description(name):
    cls = get_registry().solver(name).Options
    if not issubclass(cls, SolverOptions):
        pytest.skip(f"{name}: legacy dataclass Options (no descriptions to check)")
    missing = [field for field, info in cls.model_fields.items() if not (info.description or "").strip()]
    assert not missing, f"{name}: options without a description: {missing}"


def test_every_solver_with_declared_options_has_one_table_in_the_docs():
    script = _script()
    marked = [s for page in script.pages() for s in script.marked(page.read_text())]
    assert len(marked) == len(set(marked)), sorted(s for s in marked if marked.count(s) > 1)
    missing = set(_pydantic_solvers()) - set(marked)
    assert not missing, f"no <!-- options: SOLVER --> table for {sorted(missing)}"
    assert "run" in marked


def test_pages_tables_equal_the_generated_ones():
    script = _script()
    drifted = [str(page.relative_to(ROOT)) for page in script.pages() if script.render(page.read_text())
               != page.read_text()]
    assert not drifted, f"run `python scripts/option_tables.py`: tables out of date in {drifted}"


def test_a_drifted_table_is_detected_and_rewritten(tmp_path):
    script = _script()
    page = "intro\n<!-- options: gd -->\n| option | default |\n| `lr` | 2 |\n<!-- /options -->\nprose\n"
    new = script.render(page)
    assert new != page and new.startswith("intro\n<!-- options: gd -->\n| option | type |")
    assert new.endswith("<!-- /options -->\nprose\n") and script.render(new) == new
