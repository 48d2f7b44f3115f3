"""LoRA-ML (arXiv 2410.22264), standard retraining and the kind ``lora_meta`` as a solverhub
plugin. Importing this package imports neither torch nor numpy (names load on first access)."""
from __future__ import annotations

__all__ = ["LoraML", "RetrainStandard", "LoraMeta"]
__version__ = "0.1.0"

_LAZY = {"LoraMeta": ".kind", "LoraML": ".lora_ml", "RetrainStandard": ".baseline"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
