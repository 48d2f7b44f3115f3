"""What the plugin's two kinds share: strict sections, the data each file must plant,
the factor layout of the flat unknown vector, the check of declared variables against
the implied ones, the file's start and per-problem caches of set-up work."""
from __future__ import annotations

__all__ = ["Strict", "Layout", "need_data", "check_variables", "file_start_or", "per_problem"]

from dataclasses import dataclass
from typing import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from solverhub.plugin import Location, ProblemError


class Strict(BaseModel):
    """A kind section: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Layout:
    """Named blocks of the flat unknown vector: ((name, shape, offset, size), ...)."""

    blocks: tuple[tuple[str, tuple[int, ...], int, int], ...]

    @classmethod
    def of(cls, problem) -> "Layout":
        return cls(tuple((v.name, tuple(v.shape), v.offset, v.size) for v in problem.variables))

    def views(self, x) -> dict:
        """``{name: view of x}`` (no copies; torch or numpy)."""
        return {name: x[off:off + size].reshape(shape) for name, shape, off, size in self.blocks}

    def slice(self, name: str) -> tuple[slice, tuple[int, ...]]:
        """(slice of x, shape) of one block."""
        for block, shape, off, size in self.blocks:
            if block == name:
                return slice(off, off + size), shape
        raise KeyError(name)


def need_data(data_shapes: dict, name: str, message: str, location: Location, allowed: str | None = None):
    """The shape of data ``name``; a :class:`ProblemError` with ``message`` when the file has none."""
    if name not in data_shapes:
        raise ProblemError(message, location=location, allowed=allowed)
    return tuple(data_shapes[name])


def check_variables(ctx, want: dict, what: str, allowed: str) -> None:
    """Declared ``variables:`` must be exactly the implied ones (error at the ``variables`` line)."""
    have = {k: tuple(v) for k, v in ctx.symbols.variables.items()}
    if have != want:
        raise ProblemError(f"variables {have} do not match {what}: {want}",
                           location=Location(ctx.file, ctx.line_of(("variables",))), allowed=allowed)


def file_start_or(problem, default: Callable[[], np.ndarray]) -> np.ndarray:
    """The file's ``x0`` when it gives one (any entry nonzero), else ``default()`` (float64)."""
    if np.any(problem.x0 != 0):
        return np.asarray(problem.x0, dtype=np.float64)
    return default()


def per_problem(cache: dict, problem, compute: Callable):
    """``compute()`` once per problem (content hash) and process."""
    key = problem.content_hash
    if key not in cache:
        cache[key] = compute()
    return cache[key]
