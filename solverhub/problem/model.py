"""The typed, validated :class:`Problem` and ``load_problem`` (YAML -> Problem).

Nothing downstream re-parses YAML: the Problem holds the compiled IR, the data
as numpy arrays, the starting point and the oracle configuration.
"""
from __future__ import annotations

__all__ = ["Problem", "Variable", "load_problem"]

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import Location, OptionError, ProblemError
from ..oracle import OracleConfig
from .data import _check_size, build_array, charge, load_budget
from .expr import Symbols
from .bounds import parse_bounds
from .kinds.base import CompiledSections, ExpressionContext, ProblemKind
from .classify import classify_constraints
from .structure import Structure
from .schema import COMMON_SECTIONS, BaselineSpec, ProblemFile, validate_model
from .yamlsafe import MAX_YAML_BYTES, LineMap, load_yaml


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    offset: int
    size: int


@dataclass(frozen=True, eq=False)
class Problem:
    """A loaded problem: what solvers, oracles and baselines are built from."""

    name: str
    kind: ProblemKind
    variables: tuple[Variable, ...]
    data: Mapping[str, np.ndarray]
    parameters: Mapping[str, float]
    sections: CompiledSections
    x0: np.ndarray
    oracle_config: OracleConfig
    baseline: BaselineSpec
    solve_defaults: Mapping[str, Any]
    content_hash: str
    source: str | None = None
    description: str = ""
    lines: LineMap = field(default_factory=LineMap, repr=False)
    # bounds per variable, prox-able nonsmooth terms, counts of constraint functions (typed;
    # the torch side is TorchProblem.structure)
    structure: Structure = field(default_factory=Structure)
    # (variable, spec) of the x0 generators that name no seed: the run's seed draws them (kind.start)
    x0_generators: tuple = ()

    @property
    def dim(self) -> int:
        return int(sum(v.size for v in self.variables))

    @property
    def has_constraints(self) -> bool:
        return bool(self.sections.constraints)

    @property
    def has_bounds(self) -> bool:
        """Some variable has a finite ``lower`` or ``upper`` bound."""
        return self.structure.has_bounds

    @property
    def default_measure(self) -> str:
        """The kind's default stationarity measure; instead of ``grad_norm``: ``prox_grad_norm``
        for a composite objective (``structure.nonsmooth``), ``projected_grad_norm`` when
        variables are bounded (both zero exactly at the stationary points)."""
        name = self.kind.default_measure
        if name == "grad_norm" and self.structure.epigraph is not None:
            return "kkt_residual"            # nonsmooth terms in epigraph form: its KKT residual (epigraph_kkt)
        if name == "grad_norm" and self.structure.nonsmooth:
            return "prox_grad_norm"          # composite: ||x - prox(x - ∇s(x))|| (with bounds: prox, then clip)
        return "projected_grad_norm" if name == "grad_norm" and self.has_bounds else name

    @property
    def start_depends_on_seed(self) -> bool:
        """The file fixes no start seed: the run's seed draws the start (``kind.start(problem, seed)``)."""
        return self.kind.start_depends_on_seed(self)

    def location(self, *path) -> Location:
        return Location(self.source, self.lines.line_of(path))

    def lower_torch(self, device="cpu", dtype=None, seed: int | None = None):
        """The torch lowering; ``seed``: the run's seed, which draws the start when the file fixes none."""
        from .._lazy import lazy_module
        torch = lazy_module("torch")
        dtype = dtype or torch.float64
        tp = self.kind.lower_torch(self, torch.device(device), dtype)
        if seed is not None and self.start_depends_on_seed:
            tp = dataclasses.replace(tp, x0=torch.as_tensor(self.kind.start(self, seed), dtype=dtype,
                                                            device=tp.x0.device).clone())
        box = self.structure.box(self.variables)
        if box is None:
            return tp
        # bounds, for every kind, here once: flat tensors on the device; the start projected into the box
        lower, upper = (torch.as_tensor(b, dtype=dtype, device=tp.x0.device) for b in box)
        structure = dataclasses.replace(tp.structure, lower=lower, upper=upper)
        return dataclasses.replace(tp, structure=structure, x0=structure.project_bounds(tp.x0))

    def unflatten_numpy(self, x) -> dict[str, np.ndarray]:
        x = np.asarray(x)
        return {v.name: x[v.offset:v.offset + v.size].reshape(v.shape) for v in self.variables}


def _apply_overrides(raw: dict, overrides: Mapping[str, Any], file, lines: LineMap | None = None) -> dict:
    """``--set NAME=VALUE``: each value a finite number (the error points at the parameter's line)."""
    if not overrides:
        return raw
    params = raw.get("parameters")
    params = dict(params) if isinstance(params, dict) else {}
    for name, value in overrides.items():
        if name not in params:
            raise OptionError(f"--set {name}: no such parameter in {file or 'the problem'}",
                              allowed=", ".join(map(str, params)) or "(the problem has no parameters)")
        where = Location(file, (lines or LineMap()).line_of(("parameters", name))) if file else None
        shown = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else "a huge integer"
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"--set {name}={shown}: parameters are numbers", location=where,
                              allowed="finite numbers such as 0.1, 1e-3, -2") from None
        if not math.isfinite(number):
            raise OptionError(f"--set {name}={shown}: parameters are finite numbers (not NaN or infinity)",
                              location=where, allowed="finite numbers such as 0.1, 1e-3, -2")
        params[name] = number
    return {**raw, "parameters": params}


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_problem(source, *, overrides: Mapping[str, Any] | None = None, registry=None) -> Problem:
    """Load a problem from a path or a YAML string; ``overrides`` set parameters (``--set``)."""
    from ..registry import get_registry

    registry = registry or get_registry()
    path: Path | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))):
        path = Path(source)
        if not path.is_file():
            raise ProblemError(f"problem file not found: {path}", location=Location(str(path)))
        text = read_problem_text(path)
    else:
        text = str(source)
    file = str(path) if path else None
    with load_budget() as budget:    # the total of all arrays (and generator flops) of this one problem
        return _load(text, path, file, overrides, registry, budget)


def read_problem_text(path: Path) -> str:
    """The text of a problem file: UTF-8 (a BOM is fine), at most ``MAX_YAML_BYTES``; any other
    file (latin-1, UTF-16, binary) is an error at ``file:1`` (the encoding is the whole file's)
    whose message gives the line and column of the first byte that is not UTF-8."""
    where = Location(str(path), 1)
    try:
        if path.stat().st_size > MAX_YAML_BYTES:   # before reading it into memory
            raise ProblemError(f"file larger than {MAX_YAML_BYTES} bytes", location=where,
                               allowed=f"problem files up to {MAX_YAML_BYTES} bytes (put data in .npy/.csv files)")
        data = path.read_bytes()
    except OSError as err:
        raise ProblemError(f"cannot read problem file: {err.strerror or err}", location=where) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        hint = (" (it starts with a UTF-16 byte-order mark)" if data[:2] in (b"\xff\xfe", b"\xfe\xff")
                else "")
        raise ProblemError(f"not a UTF-8 text file{hint}: byte 0x{data[err.start]:02x} at line {line}, "
                           f"column {column} is not UTF-8", location=where,
                           allowed="YAML text saved as UTF-8") from None


def _load(text: str, path: Path | None, file: str | None, overrides, registry, budget) -> Problem:
    raw, lines = load_yaml(text, file)
    if not isinstance(raw, dict):
        raise ProblemError("a problem file is a mapping with name, kind, variables, ...",
                           location=Location(file, 1), allowed=", ".join(COMMON_SECTIONS))
    raw = _apply_overrides(raw, overrides or {}, file, lines)

    kind_name = raw.get("kind")
    kinds = registry.kinds
    if not isinstance(kind_name, str) or kind_name not in kinds:
        raise ProblemError(f"unknown kind {kind_name!r}", location=Location(file, lines.line_of(("kind",))),
                           allowed=", ".join(sorted(kinds)))
    kind: ProblemKind = kinds[kind_name]()
    kind.catalog = registry        # named datasets and models, without the kind importing the registry
    kind_fields = tuple(f.alias or name for name, f in kind.Sections.model_fields.items())
    for key in raw:
        if key not in COMMON_SECTIONS and key not in kind_fields:
            raise ProblemError(f"unknown section {key!r} for kind {kind_name!r}",
                               location=Location(file, lines.line_of((key,))),
                               allowed=", ".join(COMMON_SECTIONS + kind_fields))
    common = validate_model(ProblemFile, {k: v for k, v in raw.items() if k in COMMON_SECTIONS}, lines, file)
    if not isinstance(common.solve.get("solver", ""), str):
        raise ProblemError(f"solve.solver: expected a solver name, got {common.solve['solver']!r}",
                           location=Location(file, lines.line_of(("solve", "solver"))),
                           allowed="a registered solver name (see `solverhub list`)")
    sections = validate_model(kind.Sections, {k: v for k, v in raw.items() if k in kind_fields}, lines, file)
    kind.prepare(sections, raw, file, lines.line_of)

    # declared variable sizes first (cheap; nothing allocated yet); they count in the problem's total
    declared_total = 0
    for name, spec in common.variables.items():
        declared_total += _check_size(tuple(spec.shape), Location(file, lines.line_of(("variables", name))),
                                      f"variables.{name}")
    charge((declared_total,), Location(file, lines.line_of(("variables",))), "variables")

    # data
    base = path.parent if path else None
    datasets = registry.datasets
    data, digests = {}, {}
    for name, spec in common.data.items():
        _check_name(name, ("data", name), lines, file)
        if name in common.variables:
            raise ProblemError(f"data {name!r} has the name of a variable",
                               location=Location(file, lines.line_of(("data", name))))
        data[name] = build_array(spec, base=base, location=Location(file, lines.line_of(("data", name))),
                                 what=f"data.{name}", datasets=datasets)
        if isinstance(spec, dict) and "file" in spec:
            digests[name] = _file_digest((base / spec["file"]).resolve())
    # variables: declared, or implied by the kind from its sections and the data shapes
    # (structured kinds: factors of a matrix, experts, ...); sizes checked before allocation
    declared_variables = {name: tuple(spec.shape) for name, spec in common.variables.items()}
    if not declared_variables:
        declared_variables = kind.implicit_variables(sections, {k: v.shape for k, v in data.items()},
                                                     Location(file, lines.line_of(("kind",))))
    variables, offset = [], 0
    for name, shape in declared_variables.items():
        _check_name(name, ("variables", name), lines, file)
        size = _check_size(shape, Location(file, lines.line_of(("variables", name))), f"variables.{name}")
        variables.append(Variable(name, tuple(shape), offset, size))
        offset += size
    if common.variables:
        _check_size((offset,), Location(file, lines.line_of(("variables",))), "variables")   # charged above
    else:
        charge((offset,), Location(file, lines.line_of(("kind",))), "variables (implied by the kind)")

    for name in common.parameters:
        _check_name(name, ("parameters", name), lines, file)
        if name in declared_variables or name in data:
            raise ProblemError(f"parameter {name!r} has the name of a variable or data",
                               location=Location(file, lines.line_of(("parameters", name))))

    # starting point: per-variable x0 or the top-level x0 mapping, zeros by default
    charge((offset,), Location(file, lines.line_of(("x0",) if common.x0 else ("variables",))), "x0")
    x0 = np.zeros(offset)
    x0_generators = []
    for name in common.x0:
        if name not in declared_variables:
            raise ProblemError(f"x0: unknown variable {name!r}", location=Location(file, lines.line_of(("x0", name))),
                               allowed=", ".join(declared_variables))
    for var in variables:
        spec = common.variables[var.name].x0 if var.name in common.variables else None
        key = ("variables", var.name, "x0")
        if var.name in common.x0:
            if spec is not None:
                raise ProblemError(f"x0 for {var.name!r} given twice (variables.{var.name}.x0 and x0.{var.name})",
                                   location=Location(file, lines.line_of(("x0", var.name))))
            spec, key = common.x0[var.name], ("x0", var.name)
        if spec is None:
            continue
        if isinstance(spec, dict) and "generate" in spec and "seed" not in spec:
            x0_generators.append((var, spec))       # no seed of its own: the run's seed draws it
        loc = Location(file, lines.line_of(key))
        with budget.transient():     # a temporary, copied into x0 (charged above)
            arr = build_array(spec, base=base, location=loc, what=".".join(key), datasets=datasets,
                              default_shape=var.shape)
        try:
            arr = np.broadcast_to(arr, var.shape)
        except ValueError:
            raise ProblemError(f"{'.'.join(key)}: shape {arr.shape} does not match variable shape {var.shape}",
                               location=loc) from None
        x0[var.offset:var.offset + var.size] = arr.reshape(-1)

    bounds = parse_bounds(common.variables, {v.name: v.shape for v in variables}, data, file, lines.line_of)
    for var in variables:        # the start, projected into the box
        b = bounds.get(var.name)
        if b is not None:
            x0[var.offset:var.offset + var.size] = np.clip(x0[var.offset:var.offset + var.size],
                                                           b.lower if b.lower is not None else -np.inf,
                                                           b.upper if b.upper is not None else np.inf)

    symbols = Symbols(variables={v.name: v.shape for v in variables},
                      data={k: v.shape for k, v in data.items()}, parameters=dict(common.parameters))
    ctx = ExpressionContext(symbols=symbols, file=file, line_of=lines.line_of)
    compiled = kind.compile(sections, ctx)
    smooth, nonsmooth, unsplit, epigraph, no_epigraph = None, (), (), None, ""
    if getattr(kind, "composite", False) and compiled.objective is not None:   # f = smooth + prox-able terms
        from .composite import split_objective
        smooth, nonsmooth, unsplit = split_objective(compiled.objective, variables, common.parameters)
        if unsplit:       # no prox for some term: the epigraph form for the constrained solvers instead
            from .epigraph import reformulate
            epigraph = reformulate(compiled.objective, common.parameters)
            if not isinstance(epigraph, str):
                nonsmooth, smooth = (), epigraph.smooth     # the split serves no method once a term is unsplit
            else:
                epigraph, no_epigraph = None, epigraph
        if nonsmooth or epigraph is not None:
            compiled = dataclasses.replace(compiled, functions={**compiled.functions, "smooth": smooth})
    elif getattr(kind, "epigraph_form", False) and compiled.objective is not None:   # no prox split: epigraph
        from .epigraph import unsplit_epigraph
        unsplit, epigraph, no_epigraph = unsplit_epigraph(compiled.objective, common.parameters)
        if epigraph is not None:
            compiled = dataclasses.replace(compiled, functions={**compiled.functions, "smooth": epigraph.smooth})

    oc = common.oracle
    if compiled.batch_size is not None and oc.stochastic is not None:
        raise ProblemError(f"oracle.stochastic: kind {kind_name!r} sets the minibatch itself",
                           location=Location(file, lines.line_of(("oracle", "stochastic"))),
                           allowed="the kind's batch_size (remove oracle.stochastic)")
    if oc.stochastic is not None and compiled.n_rows is None:
        raise ProblemError("oracle.stochastic needs a finite_sum problem (rows to sample)",
                           location=Location(file, lines.line_of(("oracle", "stochastic"))),
                           allowed="oracle.noise for other kinds")
    oracle_config = OracleConfig(
        batch_size=(oc.stochastic.batch_size if oc.stochastic
                    else compiled.batch_size if isinstance(compiled.batch_size, int) else None),
        sigma=_noise_sigma(oc.noise, offset, Location(file, lines.line_of(("oracle", "noise", "sigma")))),
        noise_model=oc.noise.model if oc.noise else "variance",
        seed=(oc.stochastic.seed if oc.stochastic else oc.noise.seed if oc.noise else 0),
    )
    for path_read in compiled.files:     # keyed by the path relative to the YAML: the hash does not move with the repo
        rel = Path(path_read).resolve().relative_to(base.resolve()) if base else Path(path_read)
        digests[f"kind:{rel.as_posix()}"] = _file_digest(Path(path_read))
    canonical = json.dumps({"raw": raw, "files": digests}, sort_keys=True, default=str)
    content_hash = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return Problem(name=common.name, kind=kind, variables=tuple(variables), data=data,
                   parameters=dict(common.parameters), sections=compiled, x0=x0,
                   oracle_config=oracle_config, baseline=common.baseline, solve_defaults={**compiled.solve_defaults, **common.solve},
                   content_hash=content_hash, source=file, description=common.description, lines=lines,
                   x0_generators=tuple(x0_generators),
                   structure=Structure(bounds=bounds, nonsmooth=nonsmooth, unsplit=unsplit, epigraph=epigraph,
                                       no_epigraph=no_epigraph, n_equalities=sum(c.op == "==" for c in compiled.constraints),
                                       n_inequalities=sum(c.op != "==" for c in compiled.constraints),
                                       constraints=classify_constraints(
                                           compiled.constraints, parameters=common.parameters,
                                           texts=tuple(getattr(sections, "constraints", ()) or ()),
                                           line_of=lines.line_of)))


def _noise_sigma(noise, dim: int, location: Location):
    if noise is None:
        return 0.0
    if isinstance(noise.sigma, list):
        if len(noise.sigma) != dim:
            raise ProblemError(f"oracle.noise.sigma: {len(noise.sigma)} values for {dim} unknowns",
                               location=location, allowed=f"a number or a list of {dim} numbers")
        return tuple(float(v) for v in noise.sigma)
    return float(noise.sigma)


def _check_name(name, path, lines, file):
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ProblemError(f"{'.'.join(map(str, path[:-1]))}: bad name {name!r}",
                           location=Location(file, lines.line_of(path)),
                           allowed="identifiers such as x, A, lam (no leading underscore)")
    from .atoms import ATOMS
    if name in ATOMS:
        raise ProblemError(f"{'.'.join(map(str, path[:-1]))}: name {name!r} is an atom",
                           location=Location(file, lines.line_of(path)))
