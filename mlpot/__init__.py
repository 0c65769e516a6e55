"""mlpot: machine-learned interatomic potentials as ASE calculators.

The public names below are imported on first use (PEP 562), so that
``import mlpot`` and subpackages that need no model, such as ``mlpot.data``,
do not import torch or e3nn. Before torch is loaded, OpenMP is asked to
sleep rather than spin while it waits (`mlpot.threads.prefer_passive_wait`).
"""

from importlib import import_module

from mlpot._version import __version__
from mlpot.threads import prefer_passive_wait

prefer_passive_wait()

_PUBLIC = {
    "EquivCalculator": "mlpot.calculator",
    "InvariantCalculator": "mlpot.calculator",
    "MLPotCalculator": "mlpot.calculator",
    "load_calculator": "mlpot.calculator",
    "load_model": "mlpot.model.io",
    "save_model": "mlpot.model.io",
    "list_models": "mlpot.pretrained_models",
    "pretrained": "mlpot.pretrained_models",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlpot' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
