"""Lazy module proxies so that ``solverhub --help``/``list``/``validate`` never import torch or cvxpy."""
from __future__ import annotations

import importlib
import types

__all__ = ["lazy_module", "lazy_attributes"]


class _LazyModule(types.ModuleType):
    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self):
        target = self.__dict__["_lazy_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = target
        return target

    def __getattr__(self, attr):
        value = getattr(self._load(), attr)
        self.__dict__[attr] = value        # later lookups skip __getattr__ (hot loops call torch.* a lot)
        return value

    def __dir__(self):
        return dir(self._load())


def lazy_module(name: str) -> types.ModuleType:
    """Return a proxy that imports ``name`` on first attribute access."""
    return _LazyModule(name)


def lazy_attributes(package: str, names: dict[str, str]):
    """A module ``__getattr__`` (PEP 562) for ``package`` that imports ``names[attr]`` (a module,
    relative to ``package``) on the first access of ``attr`` and keeps the value in the package::

        __getattr__ = lazy_attributes(__name__, {"MySolver": ".solver"})

    so that importing a plugin package (as registration does) imports none of its solvers."""
    def __getattr__(attr: str):
        if attr in names:
            module = importlib.import_module(names[attr], package)
            value = getattr(module, attr)
            setattr(importlib.import_module(package), attr, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {attr!r}")
    return __getattr__
