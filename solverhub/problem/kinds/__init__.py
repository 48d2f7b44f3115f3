"""Problem kinds: one module per kind, each a :class:`ProblemKind`."""
from .base import CompiledSections, ModelKind, NoBaseline, ProblemKind

__all__ = ["ProblemKind", "ModelKind", "CompiledSections", "NoBaseline"]
