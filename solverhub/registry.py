"""The pluggy plugin manager: builtins, entry points (group ``solverhub``),
lookup, capability checks and dispatch.

A plugin that fails to import or whose hook raises is recorded in
``Registry.failures`` (shown by ``solverhub plugins``) and never takes the rest
down, whatever it raises: ``SystemExit``, ``KeyboardInterrupt`` and other
``BaseException`` subclasses included (a Ctrl-C that really arrives while plugins
load still interrupts). ``SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point
loading off.

A hook may return ``{name: "module:Class"}`` instead of classes: the registry then knows the
name at once and imports the class only when that name is used (``registry.solver(name)``,
``registry.kinds[name]``), so a ``solve`` or ``validate`` imports only the plugins it uses.
:class:`LazyClasses` is that mapping; its ``in`` and iteration never import.
"""
from __future__ import annotations

__all__ = ["Registry", "get_registry", "reset_registry", "PluginFailure", "SolverEntry", "LazyClasses"]

import importlib
import importlib.metadata as md
import os
import signal
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pluggy

from . import hookspecs
from .errors import SolverRefused, UnknownName

if TYPE_CHECKING:
    from .solver import Verdict

ENTRY_POINT_GROUP = "solverhub"
DISABLE_ENV = "SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD"


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    error: str


@dataclass(frozen=True)
class SolverEntry:
    cls: type
    distribution: str
    version: str


class LazyClasses(MutableMapping):
    """``{name: value}`` whose values are built on first access from ``(target, plugin)`` pairs,
    ``target`` a class or a ``"module:attr"`` string. ``resolve(name, cls, plugin)`` returns the
    value or an error text (recorded in ``failures``; the name then leaves the mapping). Setting
    an item registers a ready value (tests, a solver defined at run time)."""

    def __init__(self, refs: dict[str, tuple[Any, str]], resolve: Callable, failures: list):
        self._refs, self._resolve, self._failures, self._done = refs, resolve, failures, {}

    def _get(self, name: str):
        if name in self._done:
            return self._done[name]
        target, plugin = self._refs[name]
        with _PluginCalls() as calls:
            try:
                cls = _import_target(target)
            except BaseException as err:  # noqa: BLE001 - a plugin's import must not take the CLI down
                if calls.fatal(err):
                    raise
                cls = None
                outcome = f"{name!r}: importing {target} raised {_describe(err)}"
        if cls is not None:
            outcome = self._resolve(name, cls, plugin)
        if isinstance(outcome, str):
            del self._refs[name]
            self._failures.append(PluginFailure(plugin, outcome))
            raise KeyError(name)
        self._done[name] = outcome
        return outcome

    def __getitem__(self, name):
        if name not in self._refs:
            raise KeyError(name)
        return self._get(name)

    def __setitem__(self, name, value):
        self._refs[name], self._done[name] = (value, "(set at run time)"), value

    def __delitem__(self, name):
        del self._refs[name]
        self._done.pop(name, None)

    def __contains__(self, name):
        return name in self._refs

    def __iter__(self):
        return iter(list(self._refs))

    def __len__(self):
        return len(self._refs)

    def items(self):        # resolves every entry; the ones that fail are skipped (and recorded)
        out = []
        for name in list(self._refs):
            try:
                out.append((name, self._get(name)))
            except KeyError:
                continue
        return out

    def values(self):
        return [value for _, value in self.items()]

    def load_all(self) -> "LazyClasses":
        self.items()
        return self


def _import_target(target):
    """A class given as itself or as ``"package.module:Class"``."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"{target!r} is not 'module:Class'")
    return getattr(importlib.import_module(module), attr)


@dataclass
class Registry:
    """Everything the loaded plugins provide."""

    manager: pluggy.PluginManager
    plugins: dict[str, tuple[str, str]] = field(default_factory=dict)   # plugin name -> (distribution, version)
    _failures: list[PluginFailure] = field(default_factory=list)
    _solvers: LazyClasses | None = None
    _kinds: LazyClasses | None = None
    _datasets: dict[str, Callable] | None = None
    _models: dict[str, Callable] | None = None
    _model_owner: dict[str, str] = field(default_factory=dict)    # model name -> plugin name

    # Hook results are collected lazily, so that `solverhub list` never imports
    # the problem machinery (numpy, pydantic) and `validate` never imports solvers;
    # a class registered as "module:Class" is imported only when its name is used.
    @property
    def solvers(self) -> LazyClasses:
        """``{name: SolverEntry}``; a name is imported on access (``items()`` imports all)."""
        if self._solvers is None:
            self._solvers = _collect_solvers(self)
        return self._solvers

    @property
    def kinds(self) -> LazyClasses:
        """``{name: ProblemKind subclass}``; a kind is imported on access."""
        if self._kinds is None:
            self._kinds = _collect_kinds(self)
        return self._kinds

    @property
    def datasets(self) -> dict[str, Callable]:
        if self._datasets is None:
            self._datasets = _collect_datasets(self)
        return self._datasets

    @property
    def models(self) -> dict[str, Callable]:
        """Model factories for ``kind: training`` (hook ``solverhub_models``)."""
        if self._models is None:
            self._models = _collect_models(self)
        return self._models

    def models_of(self, plugin: str) -> list[str]:
        """Names of the models the plugin ``plugin`` registered (sorted)."""
        self.models  # noqa: B018 - trigger collection
        return sorted(n for n, owner in self._model_owner.items() if owner == plugin)

    @property
    def failures(self) -> list[PluginFailure]:
        """Load and hook failures (collects every hook and imports every registered class first)."""
        self.load_all()
        return self._failures

    def load_all(self) -> "Registry":
        """Import every registered solver and kind now (a worker before its first timed run)."""
        self.solvers.load_all(), self.kinds.load_all(), self.datasets, self.models  # noqa: B018
        return self

    # -- lookup -------------------------------------------------------------
    def solver(self, name: str) -> type:
        """The class of solver ``name`` (importing only its module)."""
        if name not in self.solvers:
            raise UnknownName(f"unknown solver {name!r}", allowed=sorted(self.solvers))
        try:
            return self.solvers[name].cls
        except KeyError:
            why = next((f.error for f in reversed(self._failures) if repr(name) in f.error), "see `solverhub plugins`")
            raise UnknownName(f"solver {name!r} failed to load: {why}", allowed=sorted(self.solvers)) from None

    def accepting(self, problem) -> list[tuple[str, Verdict]]:
        """``[(solver name, verdict)]`` for every registered solver: an :class:`Acceptance`
        (truthy) or a :class:`Refusal` with its code; an ``accepts()`` that raises is a
        refusal with code ``ERROR``, a legacy ``(bool, reason)`` answer is normalized."""
        from .solver import Refusal, RefusalCode, verdict_of
        out = []
        with _PluginCalls() as calls:
            for name, entry in sorted(self.solvers.items()):
                try:
                    verdict = verdict_of(entry.cls(), problem)
                except BaseException as err:  # noqa: BLE001 - a plugin's accepts() must not take the CLI down
                    if calls.fatal(err):
                        raise
                    verdict = Refusal(RefusalCode.ERROR, f"accepts() raised {_describe(err)}")
                out.append((name, verdict))
        return out

    def check_accepts(self, name: str, problem) -> type:
        from .solver import verdict_of
        cls = self.solver(name)
        verdict = verdict_of(cls(), problem)
        if not verdict:
            others = [n for n, other in self.accepting(problem) if other]
            raise SolverRefused(f"solver {name!r} refuses problem {problem.name!r}: {verdict.text}",
                                allowed="solvers that accept it: " + (", ".join(others) or "none"))
        return cls

    def dispatch(self, problem, device: str = "cpu") -> tuple[type, str]:
        """Pick a solver for ``problem`` by the documented rule.

        1. keep the solvers whose ``accepts(problem)`` is true and that list ``device``
           among their capabilities' devices;
        2. take the highest ``priority_for(problem)``;
        3. break ties by name (alphabetical), so the choice is deterministic.
        """
        candidates = []
        for name, verdict in self.accepting(problem):
            cls = self.solvers[name].cls
            if verdict and device in cls.capabilities.devices:
                candidates.append((-cls().priority_for(problem), name, cls))
        st = getattr(problem, "structure", None)
        if not candidates and st is not None and st.unsplit and st.epigraph is None:   # bad input, at its line
            from .errors import ProblemError
            raise ProblemError(f"objective: nonsmooth term ({', '.join(st.unsplit)}) has no prox and cannot be "
                               f"reformulated ({st.no_epigraph}), and no registered solver takes it",
                               location=problem.location("objective"),
                               allowed="prox-able terms c * h(v), c * norm1|norm_inf|sum|max of maxima of smooth "
                                       "pieces (epigraph form), or a DCP objective (cvxpy)")
        if not candidates:
            raise SolverRefused(f"no registered solver accepts problem {problem.name!r} (kind {problem.kind.name!r})",
                                allowed="install a plugin for this kind; see `solverhub list --for FILE`")
        candidates.sort(key=lambda c: (c[0], c[1]))
        prio, name, cls = candidates[0]
        runner_up = f"; next: {candidates[1][1]} (priority {-candidates[1][0]})" if len(candidates) > 1 else ""
        why = (f"chose {name!r}: highest priority ({-prio}) among {len(candidates)} solver(s) accepting kind "
               f"{problem.kind.name!r} on {device}{runner_up}")
        return cls, why


class _PluginCalls:
    """Context for calling plugin code: tells a real Ctrl-C (SIGINT delivered meanwhile) from
    a plugin that raises ``KeyboardInterrupt`` itself. Only a real one is re-raised by
    :meth:`fatal`; everything else a plugin raises becomes a load failure."""

    def __enter__(self):
        self.interrupted = False
        self._old = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            def on_sigint(signum, frame):
                self.interrupted = True
                raise KeyboardInterrupt
            self._old = signal.signal(signal.SIGINT, on_sigint)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False

    def fatal(self, err: BaseException) -> bool:
        """True when ``err`` must propagate (the user pressed Ctrl-C)."""
        return isinstance(err, KeyboardInterrupt) and self.interrupted


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _validate_solver(cls) -> str | None:
    from .solver import Solver
    if not isinstance(cls, type) or not issubclass(cls, Solver):
        return f"{cls!r} is not a solverhub.Solver subclass"
    if not cls.name or not isinstance(cls.name, str):
        return f"{cls.__name__} has no name"
    if not cls.kinds:
        return f"{cls.__name__} declares no kinds"
    return None


def _build() -> Registry:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    from .builtin import plugin as builtin_plugin
    pm.register(builtin_plugin, name="solverhub.builtin")
    reg.plugins["solverhub.builtin"] = ("solverhub", _core_version())
    if not os.environ.get(DISABLE_ENV):
        try:
            eps = md.entry_points(group=ENTRY_POINT_GROUP)
        except Exception:  # pragma: no cover - broken metadata
            eps = []
        with _PluginCalls() as calls:
            for ep in eps:
                dist = getattr(ep, "dist", None)
                dist_info = (dist.name, dist.version) if dist is not None else (ep.value, "0")
                label = f"{dist_info[0]} {dist_info[1]}"
                if pm.get_plugin(ep.name) is not None:
                    first = reg.plugins.get(ep.name, ("?", "?"))
                    reg._failures.append(PluginFailure(f"{ep.name} ({label})", f"entry-point name {ep.name!r} is "
                                                       f"already used by {first[0]} {first[1]}; not loaded"))
                    continue
                try:
                    module = ep.load()
                    pm.register(module, name=ep.name)
                except BaseException as err:  # noqa: BLE001 - SystemExit at import must not end the CLI
                    if calls.fatal(err):
                        raise
                    reg._failures.append(PluginFailure(f"{ep.name} ({label})", _describe(err)))
                    continue
                reg.plugins[ep.name] = dist_info
    return reg


def _hook_refs(reg: Registry, hook: str, name_of: Callable[[Any], Any], check: Callable | None = None
               ) -> dict[str, tuple[Any, str]]:
    """``{name: (class or "module:Class", plugin)}`` from every implementation of ``hook``: a
    mapping result is taken as it is (nothing imported), classes are checked and keyed by name."""
    refs: dict[str, tuple[Any, str]] = {}
    for impl in getattr(reg.manager.hook, hook).get_hookimpls():
        with _PluginCalls() as calls:
            try:
                provided = impl.function() or ()
                pairs = list(provided.items()) if isinstance(provided, Mapping) else \
                    [(None, cls) for cls in provided]
            except BaseException as err:  # noqa: BLE001
                if calls.fatal(err):
                    raise
                reg._failures.append(PluginFailure(impl.plugin_name, f"{hook} raised {_describe(err)}"))
                continue
        for name, target in pairs:
            if name is None:
                problem = check(target) if check else None
                if problem:
                    reg._failures.append(PluginFailure(impl.plugin_name, problem))
                    continue
                name = name_of(target)
            if not isinstance(name, str) or not name or not isinstance(target, (str, type)):
                reg._failures.append(PluginFailure(impl.plugin_name, f"{hook}: {name!r}: {target!r} is not a "
                                                   "name and a class or 'module:Class'"))
                continue
            if name in refs:
                if hook == "solverhub_solvers":
                    reg._failures.append(PluginFailure(impl.plugin_name, f"solver name {name!r} already "
                                                       f"registered by {_dist(reg, refs[name][1])}"))
                continue                       # kinds: the first registration wins
            refs[name] = (target, impl.plugin_name)
    return refs


def _dist(reg: Registry, plugin: str) -> str:
    return reg.plugins.get(plugin, (plugin, "0"))[0]


def _collect_solvers(reg: Registry) -> LazyClasses:
    def resolve(name, cls, plugin):
        problem = _validate_solver(cls)
        if problem is None and cls.name != name:
            problem = f"registered as {name!r} but {cls.__name__}.name is {cls.name!r}"
        if problem:
            return problem
        dist, version = reg.plugins.get(plugin, (plugin, "0"))
        return SolverEntry(cls, dist, cls.version or version)
    refs = _hook_refs(reg, "solverhub_solvers", lambda cls: getattr(cls, "name", None), _validate_solver)
    return LazyClasses(refs, resolve, reg._failures)


def _collect_kinds(reg: Registry) -> LazyClasses:
    def resolve(name, cls, plugin):
        if not isinstance(cls, type) or getattr(cls, "name", None) != name:
            return f"kind {name!r}: {cls!r} is not a problem kind named {name!r}"
        return cls
    return LazyClasses(_hook_refs(reg, "solverhub_problem_kinds", lambda cls: getattr(cls, "name", None)), resolve, reg._failures)


def _collect_datasets(reg: Registry) -> dict[str, Callable]:
    datasets: dict[str, Callable] = {}
    for impl in reg.manager.hook.solverhub_datasets.get_hookimpls():
        with _PluginCalls() as calls:
            try:
                datasets.update(dict(impl.function() or {}))
            except BaseException as err:  # noqa: BLE001
                if calls.fatal(err):
                    raise
                reg._failures.append(PluginFailure(impl.plugin_name, f"solverhub_datasets raised {_describe(err)}"))
    return datasets


def _collect_models(reg: Registry) -> dict[str, Callable]:
    models: dict[str, Callable] = {}
    owner: dict[str, str] = {}
    for impl in reg.manager.hook.solverhub_models.get_hookimpls():
        with _PluginCalls() as calls:
            try:
                provided = dict(impl.function() or {})
            except BaseException as err:  # noqa: BLE001
                if calls.fatal(err):
                    raise
                reg._failures.append(PluginFailure(impl.plugin_name, f"solverhub_models raised {_describe(err)}"))
                continue
        for name, factory in provided.items():
            if not isinstance(name, str) or not callable(factory):
                reg._failures.append(PluginFailure(impl.plugin_name, f"model {name!r}: expected a name and a "
                                                   "factory(in_shape, n_out, **options) -> torch.nn.Module"))
                continue
            if name in models:
                reg._failures.append(PluginFailure(impl.plugin_name, f"model name {name!r} already registered "
                                                   f"by {owner[name]}"))
                continue
            models[name], owner[name] = factory, impl.plugin_name
    reg._model_owner = owner
    return models


def _core_version() -> str:
    try:
        return md.version("solverhub")
    except md.PackageNotFoundError:
        return "0+local"


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build()
    return _REGISTRY


def reset_registry() -> None:
    """Forget the registry (tests; after installing a plugin at run time)."""
    global _REGISTRY
    _REGISTRY = None
