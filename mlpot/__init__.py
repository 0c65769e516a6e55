"""mlpot: machine-learned interatomic potentials as ASE calculators."""

__version__ = "0.1.0"

from mlpot.calculator import (  # noqa: E402
    EquivCalculator,
    InvariantCalculator,
    MLPotCalculator,
    load_calculator,
)
from mlpot.model.io import load_model, save_model  # noqa: E402
from mlpot.pretrained import list_models, pretrained  # noqa: E402

__all__ = [
    "EquivCalculator",
    "InvariantCalculator",
    "MLPotCalculator",
    "list_models",
    "load_calculator",
    "load_model",
    "pretrained",
    "save_model",
    "__version__",
]
