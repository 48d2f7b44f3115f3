"""Problem files are untrusted input.

* An expression that tries to reach Python (attribute access, dunder names, calls to anything but
  atoms, lambdas, comprehensions, ...) is rejected before anything is evaluated.
* YAML tags that construct objects and alias-expansion bombs are rejected.
* Nothing is read outside the problem's folder.

"Before anything is evaluated" is checked with an audit hook (PEP 578) that records every process
spawn, every ``open`` and every ``exec``/``eval`` of source text while the CLI runs, with canary files
the attacks would create, and with the lowerings (torch, cvxpy) replaced by tripwires.
"""
import ast
import os
import subprocess
import sys
import time
import tracemalloc

import pytest

MINIMIZE = """
name: attack
kind: minimize
variables:
  x: {shape: [3]}
data:
  A: {generate: normal, shape: [4, 3], seed: 0}
parameters:
  lam: 0.5
objective: %s
"""

CONSTRAINED = """
name: attack
kind: constrained
variables:
  x: {shape: [3]}
objective: "sum_squares(x)"
constraints:
  - %s
"""


# -- the audit trail ------------------------------------------------------------------------------
class _Audit:
    active = False
    needle = None      # the expression under test: compiling it for anything but ast.parse is evaluation
    events: list = []

    @classmethod
    def hook(cls, event, args):
        if not cls.active:
            return
        if event in ("os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "os.fork",
                     "pty.spawn"):
            cls.events.append((event, args))
        elif event == "open":
            cls.events.append((event, str(args[0])))
        elif event == "compile":
            source, filename = args
            if isinstance(source, ast.AST):                    # an AST turned into runnable code, except
                if not sys._getframe(1).f_code.co_filename.endswith(_REWRITER):   # pytest's assertion
                    cls.events.append(("compile-ast", filename))  # rewriting of a module the CLI imports
            elif cls.needle and filename != "<unknown>":       # ast.parse compiles with '<unknown>'
                text = source.decode(errors="replace") if isinstance(source, bytes) else str(source)
                if cls.needle.strip() in text:
                    cls.events.append(("compile-source", filename))


_REWRITER = os.path.join("_pytest", "assertion", "rewrite.py")
sys.addaudithook(_Audit.hook)   # cannot be removed; inert while _Audit.active is False


@pytest.fixture
def audit(monkeypatch):
    """Record spawns, opens and exec/eval of strings; make the torch/cvxpy lowerings tripwires."""
    import solverhub.problem.kinds.base as base

    def tripwire(*args, **kwargs):
        raise AssertionError("an expression was lowered/evaluated")

    monkeypatch.setattr(base, "compile_torch", tripwire)
    monkeypatch.setattr(base, "compile_cvxpy", tripwire)
    _Audit.events = []
    _Audit.needle = None
    _Audit.active = True
    try:
        yield _Audit.events
    finally:
        _Audit.active = False
        _Audit.needle = None


def test_the_audit_would_notice_evaluation(audit, tmp_path):
    """The audit itself: eval of the expression, a spawn and an open are all recorded."""
    _Audit.needle = "1 + 2"
    eval("1 + 2")
    eval(compile(ast.parse("3 + 4", mode="eval"), "<x>", "eval"))
    os.system("true")
    (tmp_path / "f").write_text("")
    kinds = [e[0] for e in audit]
    assert {"compile-source", "compile-ast", "os.system", "open"} <= set(kinds), kinds


def _evaluations_or_spawns(events):
    return [e for e in events if e[0] not in ("open",)]


def _opened(events):
    return {path for ev, path in events if ev == "open"}


def line_of(path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def assert_error(result, *fragments, at=None):
    code = getattr(result, "exit_code", getattr(result, "returncode", None))
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    assert code == 2, (code, out)
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    if at is not None:
        assert f"error: {at[0]}:{at[1]}: " in lines[0], lines[0]
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def _yaml_str(expr: str) -> str:
    """``expr`` as a double-quoted YAML scalar."""
    return '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- expressions ----------------------------------------------------------------------------------
ATTACKS = [
    # (expression, fragment of the message)
    ("x.__class__", "attribute access is not allowed"),
    ("x.t", "attribute access is not allowed"),     # only .T (the transpose) is an attribute
    ("sum(x).real", "attribute access is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "only atoms can be called"),
    ("__import__('os').system('touch CANARY')", "only atoms can be called"),
    ("__import__('os')", "name '__import__' is not allowed"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("_x", "name '_x' is not allowed"),
    ("(lambda: 1)()", "only atoms can be called"),
    ("lambda: 1", "lambdas are not allowed"),
    ("[i for i in x]", "comprehensions are not allowed"),
    ("sum(i for i in x)", "comprehensions are not allowed"),
    ("{i: i for i in x}", "comprehensions are not allowed"),
    ("open('CANARY', 'w')", "unknown atom 'open'"),
    ('eval("1")', "unknown atom 'eval'"),
    ('exec("import os")', "unknown atom 'exec'"),
    ('getattr(x, "a")', "unknown atom 'getattr'"),
    ("breakpoint()", "unknown atom 'breakpoint'"),
    ("sum(x)(1)", "only atoms can be called"),
    ("'abc'", "literal 'abc' is not a number"),
    ("b'abc'", "is not a number"),
    ("f'{x}'", "f-strings"),
    ("x if x else x", "conditional expressions"),
    ("sum(x) if __import__('os').system('touch CANARY') else 1", "conditional expressions"),
    ("sum(*x)", "starred arguments are not allowed"),
    ("sum(x=x)", "takes no keyword arguments"),
    ("sum(**{'x': 1})", "takes no keyword arguments"),
    ("sum(x ^ 2)", "use ** for powers"),
    ("sum(x) and 1", "and/or are not allowed"),
    ("(y := sum(x))", "assignment expressions"),
    ("[1, 2]", "list literals are not allowed"),
    ("sum(x[__import__('os').getpid()])", "indices must be integer constants"),
    ("sum(A @ __import__('os').system('touch CANARY'))", "only atoms can be called"),
    ("sum(x); __import__('os')", "syntax error"),
    ("sum(x)\nimport os", "syntax error"),
    ("sum(x) < 1", "a comparison is only allowed in constraints"),
    ("2 ** 2 ** 2 ** 2 ** 2", "cannot be computed"),
    ("sum(x) + (-1) ** 0.5", "is not a real number"),
    ("-" * 10000 + "1", "nested too deeply"),
]


@pytest.mark.parametrize("expr, fragment", ATTACKS, ids=[f"{i}:{a[:30]}" for i, (a, _) in enumerate(ATTACKS)])
def test_expression_attack_is_rejected_before_evaluation(write_problem, run_cli, audit, tmp_path, expr, fragment):
    canary = tmp_path / "canary"
    expr = expr.replace("CANARY", str(canary))
    _Audit.needle = expr
    p = write_problem(MINIMIZE % _yaml_str(expr))
    r = run_cli("solve", p, "--device", "cpu")
    assert_error(r, "objective: ", fragment, at=(p, line_of(p, "objective:")))
    assert not canary.exists()
    assert _evaluations_or_spawns(audit) == []
    assert str(canary) not in _opened(audit)


@pytest.mark.parametrize("expr, fragment", [
    ("x < 1", "strict inequalities are not allowed; use <="),
    ("x > 1", "strict inequalities are not allowed; use >="),
    ("x != 1", "unsupported comparison"),
    ("0 <= x <= 1", "chained comparisons are not allowed"),
    ("sum(x)", "a constraint needs one comparison"),
    ("x.__class__ <= 1", "attribute access is not allowed"),
    ("__import__('os').system('touch CANARY') == 0", "only atoms can be called"),
    ("(lambda: x)() <= 1", "only atoms can be called"),
])
def test_constraint_attack_or_mistake_is_rejected(write_problem, run_cli, audit, tmp_path, expr, fragment):
    canary = tmp_path / "canary"
    expr = expr.replace("CANARY", str(canary))
    _Audit.needle = expr
    p = write_problem(CONSTRAINED % _yaml_str(expr))
    r = run_cli("solve", p, "--device", "cpu")
    line = assert_error(r, "constraints.0: ", fragment, at=(p, line_of(p, "  - ")))
    if "strict" in fragment or "comparison" in fragment:
        assert "allowed: <=, >=, ==" in line or "chained" in fragment
    assert not canary.exists()
    assert _evaluations_or_spawns(audit) == []


def test_strings_are_not_expressions_elsewhere(write_problem, run_cli):
    # an expression is only ever a YAML string or number; a mapping/list is a type error, not code
    p = write_problem(MINIMIZE % "{__import__: os}")
    assert_error(run_cli("validate", p), "objective: ", at=(p, line_of(p, "objective:")))


def test_allowed_expression_language_still_works(write_problem, run_cli):
    """Positive control: everything the grammar allows is accepted (the rejections above are specific)."""
    expr = "0.5 * sum_squares(A @ x - 1) + lam * norm1(x[::-1]) + 1e-3 * sum(x ** 2) - -x[0] / 2 + sum(A[1:, 0])"
    p = write_problem(MINIMIZE % _yaml_str(expr))
    r = run_cli("validate", p)
    assert r.exit_code == 0, r.stderr


def test_expression_attack_subprocess_leaves_no_side_effect(write_problem, tmp_path):
    canary = tmp_path / "canary"
    p = write_problem(MINIMIZE % _yaml_str(f"sum(x) + __import__('os').system('touch {canary}')"))
    r = subprocess.run([sys.executable, "-m", "solverhub.cli", "solve", str(p), "--device", "cpu"],
                       capture_output=True, text=True, timeout=120)
    assert_error(r, "only atoms can be called", at=(p, line_of(p, "objective:")))
    assert not canary.exists()


# -- YAML -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tagged", [
    '!!python/object/apply:os.system ["touch CANARY"]',
    '!!python/object/new:os.system ["touch CANARY"]',
    "!!python/name:os.system",
    "!!python/module:os",
    '!!python/object:builtins.object {}',
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!timestamp 2001-12-14",
    "!custom thing",
])
def test_yaml_tags_that_construct_objects_are_rejected(write_problem, run_cli, audit, tmp_path, tagged):
    canary = tmp_path / "canary"
    p = write_problem(MINIMIZE % '"sum(x)"' + "description: %s\n" % tagged.replace("CANARY", str(canary)))
    r = run_cli("solve", p, "--device", "cpu")
    assert_error(r, "YAML tag", "is not allowed", "allowed:", at=(p, line_of(p, "description:")))
    assert not canary.exists()
    assert _evaluations_or_spawns(audit) == []


def test_python_tag_subprocess_has_no_side_effect(write_problem, tmp_path):
    canary = tmp_path / "pwned"
    p = write_problem(MINIMIZE % f'!!python/object/apply:os.system ["echo pwned > {canary}"]')
    r = subprocess.run([sys.executable, "-m", "solverhub.cli", "validate", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert_error(r, "YAML tag", "python/object/apply:os.system", at=(p, line_of(p, "objective:")))
    assert not canary.exists()
    assert "pwned" not in r.stdout


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: bomb
kind: minimize
variables: {x: {shape: [1]}}
objective: "sum(x)"
"""


def _fast_and_small(fn, seconds=1.0, peak_bytes=50e6):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, elapsed
    assert peak < peak_bytes, peak
    return out


def test_billion_laughs_is_rejected_fast(write_problem, run_cli):
    p = write_problem(BILLION_LAUGHS)
    r = _fast_and_small(lambda: run_cli("validate", p))
    assert_error(r, "anchors (&a) are not allowed", at=(p, 1))


def test_billion_laughs_subprocess(write_problem):
    p = write_problem(BILLION_LAUGHS)
    r = subprocess.run([sys.executable, "-m", "solverhub.cli", "validate", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert_error(r, "not allowed", at=(p, 1))


@pytest.mark.parametrize("text, fragment, line", [
    ("name: t\nkind: *k\n", "aliases (*name) are not allowed", 2),
    ("base: &b {kind: minimize}\nname: t\n<<: *b\n", "anchors (&b) are not allowed", 1),
    ("name: t\n<<: {kind: minimize}\n", "bad scalar '<<'", 2),
])
def test_aliases_anchors_and_merge_keys_are_rejected(write_problem, run_cli, text, fragment, line):
    p = write_problem(text)
    assert_error(run_cli("validate", p), fragment, at=(p, line))


@pytest.mark.parametrize("text", [
    "a: " + "[" * 200_000 + "]" * 200_000 + "\n",
    "a: " + "{a: " * 200_000 + "\n",
    "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n",
], ids=["flow_lists", "flow_mappings", "block_mappings"])
def test_deeply_nested_yaml_is_rejected_fast(write_problem, run_cli, text):
    p = write_problem(text)
    t0 = time.perf_counter()
    r = run_cli("validate", p)
    assert time.perf_counter() - t0 < 2.0       # PyYAML alone: minutes, then RecursionError
    assert_error(r, "nested deeper than", "allowed: at most")


# -- nothing is read outside the problem's folder -------------------------------------------------
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "symlinked_dir"])
def test_nothing_outside_the_folder_is_opened(write_problem, run_cli, audit, tmp_path, how):
    import numpy as np
    secret = tmp_path / "secret.npy"
    np.save(secret, np.arange(3.0))
    inner = tmp_path / "inner"
    inner.mkdir()
    os.symlink(secret, inner / "link.npy")
    os.symlink(tmp_path, inner / "up")
    relpath = {"dotdot": "../secret.npy", "absolute": str(secret), "symlink": "link.npy",
               "symlinked_dir": "up/secret.npy"}[how]
    p = write_problem(MINIMIZE.replace("{generate: normal, shape: [4, 3], seed: 0}", "{file: '%s'}" % relpath)
                      % '"sum(x)"', name="inner/p.yaml")
    _Audit.events.clear()
    r = run_cli("solve", p, "--device", "cpu")
    assert_error(r, "outside the problem's folder", at=(p, line_of(p, "file:")))
    opened = _opened(audit)
    assert str(secret) not in opened and not any(o.endswith("secret.npy") or o.endswith("link.npy") for o in opened)


def test_x0_file_outside_the_folder_is_refused(write_problem, run_cli, tmp_path):
    import numpy as np
    np.save(tmp_path / "secret.npy", np.arange(3.0))
    p = write_problem("""
    name: t
    kind: minimize
    variables:
      x: {shape: [3], x0: {file: ../secret.npy}}
    objective: "sum_squares(x)"
    """, name="inner/p.yaml")
    assert_error(run_cli("validate", p), "outside the problem's folder", at=(p, line_of(p, "x0")))


# -- the transpose postfix .T opens no other attribute --------------------------------------------
@pytest.mark.parametrize("expr, fragment", [
    ("sum(A.T.__class__)", "attribute access is not allowed"),
    ("A.T.__class__.__subclasses__()", "only atoms can be called"),
    ("sum(x.T.real)", "attribute access is not allowed"),
    ("sum(A.T(x))", "only atoms can be called"),
    ("sum(x.TT)", "attribute access is not allowed"),
    ("sum(A.T.T.__dict__)", "attribute access is not allowed"),
])
def test_transpose_postfix_is_the_only_attribute(write_problem, run_cli, audit, tmp_path, expr, fragment):
    _Audit.needle = expr
    p = write_problem(MINIMIZE % _yaml_str(expr))
    r = run_cli("solve", p, "--device", "cpu")
    assert_error(r, "objective: ", fragment, at=(p, line_of(p, "objective:")))
    assert _evaluations_or_spawns(audit) == []


def test_transpose_postfix_is_allowed(write_problem, run_cli):
    """Positive control for the test above: ``.T`` of data, of a vector and of a sub-expression."""
    p = write_problem(MINIMIZE % _yaml_str("sum_squares(A.T @ (A @ x) - 1) + x.T @ x + sum((A @ x).T)"))
    r = run_cli("validate", p)
    assert r.exit_code == 0, r.stderr
