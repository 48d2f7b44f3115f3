"""The pluggy plugin manager: builtins, entry points (group ``solverhub``),
lookup, capability checks and dispatch.

A plugin that fails to import or whose hook raises is recorded in
``Registry.failures`` (shown by ``solverhub plugins``) and never takes the rest
down, whatever it raises: ``SystemExit``, ``KeyboardInterrupt`` and other
``BaseException`` subclasses included (a Ctrl-C that really arrives while plugins
load still interrupts). ``SOLVERHUB_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point
loading off.
"""
from __future__ import annotations

__all__ = ["Registry", "get_registry", "reset_registry", "PluginFailure", "SolverEntry"]

import importlib.metadata as md
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable

import pluggy

from . import hookspecs
from .errors import SolverRefused, UnknownName
from .solver import Refusal, RefusalCode, Verdict, verdict_of

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


@dataclass
class Registry:
    """Everything the loaded plugins provide."""

    manager: pluggy.PluginManager
    plugins: dict[str, tuple[str, str]] = field(default_factory=dict)   # plugin name -> (distribution, version)
    _failures: list[PluginFailure] = field(default_factory=list)
    _solvers: dict[str, SolverEntry] | None = None
    _kinds: dict[str, type] | None = None
    _datasets: dict[str, Callable] | None = None
    _models: dict[str, Callable] | None = None
    _model_owner: dict[str, str] = field(default_factory=dict)    # model name -> plugin name

    # Hook results are collected lazily, so that `solverhub list` never imports
    # the problem machinery (numpy, pydantic) and `validate` never imports solvers.
    @property
    def solvers(self) -> dict[str, SolverEntry]:
        if self._solvers is None:
            self._solvers = _collect_solvers(self)
        return self._solvers

    @property
    def kinds(self) -> dict[str, type]:
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
        """Load and hook failures (collects every hook first)."""
        self.solvers, self.kinds, self.datasets, self.models  # noqa: B018 - trigger collection
        return self._failures

    # -- lookup -------------------------------------------------------------
    def solver(self, name: str) -> type:
        if name not in self.solvers:
            raise UnknownName(f"unknown solver {name!r}", allowed=sorted(self.solvers))
        return self.solvers[name].cls

    def accepting(self, problem) -> list[tuple[str, Verdict]]:
        """``[(solver name, verdict)]`` for every registered solver: an :class:`Acceptance`
        (truthy) or a :class:`Refusal` with its code; an ``accepts()`` that raises is a
        refusal with code ``ERROR``, a legacy ``(bool, reason)`` answer is normalized."""
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


def _collect_solvers(reg: Registry) -> dict[str, SolverEntry]:
    solvers: dict[str, SolverEntry] = {}
    for impl in reg.manager.hook.solverhub_solvers.get_hookimpls():
        with _PluginCalls() as calls:
            try:
                classes = list(impl.function() or ())
            except BaseException as err:  # noqa: BLE001
                if calls.fatal(err):
                    raise
                reg._failures.append(PluginFailure(impl.plugin_name, f"solverhub_solvers raised {_describe(err)}"))
                continue
        for cls in classes:
            problem = _validate_solver(cls)
            if problem:
                reg._failures.append(PluginFailure(impl.plugin_name, problem))
                continue
            if cls.name in solvers:
                reg._failures.append(PluginFailure(impl.plugin_name, f"solver name {cls.name!r} already registered "
                                                   f"by {solvers[cls.name].distribution}"))
                continue
            dist, version = reg.plugins.get(impl.plugin_name, (impl.plugin_name, "0"))
            solvers[cls.name] = SolverEntry(cls, dist, cls.version or version)
    return solvers


def _collect_kinds(reg: Registry) -> dict[str, type]:
    kinds: dict[str, type] = {}
    for impl in reg.manager.hook.solverhub_problem_kinds.get_hookimpls():
        with _PluginCalls() as calls:
            try:
                for cls in impl.function() or ():
                    kinds.setdefault(cls.name, cls)
            except BaseException as err:  # noqa: BLE001
                if calls.fatal(err):
                    raise
                reg._failures.append(PluginFailure(impl.plugin_name, f"solverhub_problem_kinds raised {_describe(err)}"))
    return kinds


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
