"""What the plugin's two kinds share: strict sections, the factor layout of the flat
unknown vector, the data each file must plant, and per-problem caches of set-up work."""
from __future__ import annotations

__all__ = ["Strict", "Layout", "need_data", "per_problem"]

from dataclasses import dataclass
from typing import Callable

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


def need_data(data_shapes: dict, name: str, message: str, location: Location, allowed: str | None = None):
    """The shape of data ``name``; a :class:`ProblemError` with ``message`` when the file has none."""
    if name not in data_shapes:
        raise ProblemError(message, location=location, allowed=allowed)
    return tuple(data_shapes[name])


def per_problem(cache: dict, problem, compute: Callable):
    """``compute()`` once per problem (content hash) and process."""
    key = problem.content_hash
    if key not in cache:
        cache[key] = compute()
    return cache[key]
