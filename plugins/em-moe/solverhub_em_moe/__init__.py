"""EM for mixtures of experts as mirror descent (arXiv 2411.06056) and ``kind: mixture_of_experts``;
the kind and the generator (numpy) load on first access."""
from __future__ import annotations

__all__ = ["EMMoE", "Options", "EMState", "MixtureOfExperts", "generate_planted"]
__version__ = "0.1.0"


_LAZY = {"EMMoE": ".em", "EMState": ".em", "Options": ".em", "MixtureOfExperts": ".kind",
         "generate_planted": ".planted"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
