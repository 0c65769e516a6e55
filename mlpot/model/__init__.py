"""The potentials, the function that makes forces, and checkpoints."""

from mlpot.model.base import Potential, UnknownSpeciesError
from mlpot.model.cartesian import CartesianPotential
from mlpot.model.config import ModelConfig
from mlpot.model.equivariant import EquivariantPotential
from mlpot.model.invariant import InvariantPotential

MODEL_FAMILIES = {
    "equivariant": EquivariantPotential,
    "invariant": InvariantPotential,
    "cartesian": CartesianPotential,
}


def build_model(config: ModelConfig) -> Potential:
    """A freshly initialised potential of the family ``config.name``."""
    return MODEL_FAMILIES[config.name](config)


__all__ = [
    "MODEL_FAMILIES",
    "CartesianPotential",
    "EquivariantPotential",
    "InvariantPotential",
    "ModelConfig",
    "Potential",
    "UnknownSpeciesError",
    "build_model",
]
