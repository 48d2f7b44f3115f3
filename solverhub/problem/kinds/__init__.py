"""Problem kinds: one module per kind, each a :class:`ProblemKind`."""
from .base import CompiledSections, NoBaseline, ProblemKind

__all__ = ["ProblemKind", "CompiledSections", "NoBaseline"]
