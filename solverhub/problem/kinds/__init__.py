"""Problem kinds: one module per kind, each a :class:`ProblemKind`."""
from .base import CompiledSections, ExpressionKind, ModelKind, NoBaseline, ProblemKind

__all__ = ["ProblemKind", "ExpressionKind", "ModelKind", "CompiledSections", "NoBaseline"]
