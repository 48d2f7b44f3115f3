"""User-facing error family.

Every error a user can cause (bad YAML, bad flags, a refusing solver, a broken
plugin) is a :class:`SolverhubError`. The CLI maps the whole family to one line
``file:line: what is wrong; allowed: ...`` and exit status 2, in one place.
"""
from __future__ import annotations

__all__ = ["SolverhubError", "ProblemError", "OptionError", "SolverRefused", "UnknownName", "Location"]

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Location:
    """Where in a user's file an error points."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


class SolverhubError(Exception):
    """Base of every user-facing error; ``str(err)`` is the one-line report."""

    def __init__(self, message: str, *, location: Location | None = None,
                 allowed: Iterable[str] | str | None = None):
        self.message = message
        self.location = location or Location()
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        self.allowed = allowed
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return " ".join(text.split("\n"))


class ProblemError(SolverhubError):
    """A problem file (or its data) is malformed."""


class OptionError(SolverhubError):
    """A solver option, ``--set`` or ``--option`` value is malformed or unknown."""


class UnknownName(SolverhubError):
    """A solver, kind, atom or dataset name that is not registered."""


class SolverRefused(SolverhubError):
    """A solver does not accept a problem (with the reason and who would)."""
