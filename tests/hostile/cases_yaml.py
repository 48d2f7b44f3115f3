"""Hostile YAML that was already handled before the reliability issue (kept so it stays handled)."""
from kit import RIDGE, Case

CASES = [
    Case("yaml-tab-indent", {"p.yaml": RIDGE.replace("  x: {shape: [3]}", "\tx: {shape: [3]}")},
         ("validate", "p.yaml"), at="p.yaml:4", contains=("malformed YAML",)),
    Case("yaml-python-tag", {"p.yaml": RIDGE.replace("lam: 0.1", "lam: !!python/object:os.system 0.1")},
         ("validate", "p.yaml"), at="p.yaml:9", contains=("not allowed",)),
    Case("yaml-alias-bomb", {"p.yaml": RIDGE + "x: &a [1, 2]\ny: [*a, *a]\n"},
         ("validate", "p.yaml"), at="p.yaml:11", contains=("anchors",)),
    Case("yaml-duplicate-key", {"p.yaml": RIDGE + "name: again\n"},
         ("validate", "p.yaml"), at="p.yaml:11", contains=("duplicate key 'name'",)),
    Case("yaml-unknown-atom", {"p.yaml": RIDGE.replace("sum_squares(x)", "__import__(x)")},
         ("solve", "p.yaml", "--solver", "gd"), at="p.yaml:10", contains=("not allowed",)),
    Case("yaml-not-a-mapping", {"p.yaml": "- 1\n- 2\n"}, ("validate", "p.yaml"), at="p.yaml:1"),
    Case("cli-unknown-solver", {"p.yaml": RIDGE}, ("solve", "p.yaml", "--solver", "nope"),
         contains=("nope", "allowed:")),
    Case("cli-bad-option-value", {"p.yaml": RIDGE}, ("solve", "p.yaml", "--solver", "gd", "--option", "lr=abc"),
         contains=("lr",)),
]

CASES.append(Case("expression-too-long", {"p.yaml": RIDGE.replace("lam * sum_squares(x)", "+".join(["x[0]"] * 4100))},
                  ("validate", "p.yaml"), at="p.yaml:10", contains=("longer than 20000 characters",)))
