"""LoRA-ML (arXiv 2410.22264), standard retraining and the kind ``lora_meta`` as a solverhub
plugin. Importing this package imports neither torch nor numpy (names load on first access)."""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["LoraML", "RetrainStandard", "LoraMeta"]
__version__ = "0.1.0"

_LAZY = {"LoraMeta": ".kind", "LoraML": ".lora_ml", "RetrainStandard": ".baseline"}


__getattr__ = lazy_attributes(__name__, _LAZY)
