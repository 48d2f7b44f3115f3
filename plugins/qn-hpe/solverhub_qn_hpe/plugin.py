"""Entry point ``qn-hpe = "solverhub_qn_hpe.plugin"``: registers ``qn-hpe``,
``extragradient`` and ``gda``. Importing it does not import torch."""
from __future__ import annotations

from solverhub.plugin import hookimpl


# {name: "module:Class"}: the registry imports a class only when its name is used
@hookimpl
def solverhub_solvers():
    return {"qn-hpe": f"{__package__}.qn_hpe:QNHPE",
            "extragradient": f"{__package__}.extragradient:Extragradient", "gda": f"{__package__}.gda:GDA"}
