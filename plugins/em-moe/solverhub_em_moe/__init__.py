"""EM for mixtures of experts as mirror descent (arXiv 2411.06056) and ``kind: mixture_of_experts``;
the kind and the generator (numpy) load on first access."""
from __future__ import annotations

from solverhub.plugin import lazy_attributes

__all__ = ["EMMoE", "Options", "EMState", "MixtureOfExperts", "generate_planted"]
__version__ = "0.1.0"


_LAZY = {"EMMoE": ".em", "EMState": ".em", "Options": ".em", "MixtureOfExperts": ".kind",
         "generate_planted": ".planted"}


__getattr__ = lazy_attributes(__name__, _LAZY)
