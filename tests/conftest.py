import numpy as np
import pytest
import torch
from ase.build import molecule

from mlpot.model import ModelConfig, build_model

torch.set_num_threads(1)

# Small versions of each model family; every physics test runs for all of them.
SMALL_CONFIGS = {
    "equivariant": dict(name="equivariant", lmax=2, num_features=8, num_layers=2),
    "invariant": dict(name="invariant", num_features=16, num_layers=2),
    "invariant-gcn": dict(
        name="invariant", interaction="gcn", num_features=16, num_layers=2
    ),
    # MACE-style many-body messages: products up to three factors per layer.
    "equivariant-correlation3": dict(
        name="equivariant", lmax=2, num_features=8, num_layers=2, correlation=3
    ),
    # Energies measured from the isolated atoms (set when E0s are given).
    "equivariant-atom-reference": dict(
        name="equivariant", lmax=2, num_features=8, num_layers=2, atom_reference=True
    ),
}
# Models that break a symmetry on purpose: built by make_model, but kept out of
# the parametrised contract (tests/test_model_cartesian.py runs the rest of it).
CONTRAST_CONFIGS = {
    "cartesian": dict(name="cartesian", num_features=16, num_layers=2),
}


@pytest.fixture(autouse=True)
def set_random_seeds():
    torch.manual_seed(0)
    np.random.seed(0)


def make_model(kind, species=(1, 6, 8), r_max=4.0, dtype=torch.float64, **overrides):
    """A randomly initialised small model with non-trivial normalisation."""
    settings = dict(
        {**SMALL_CONFIGS, **CONTRAST_CONFIGS}[kind],
        species=list(species),
        r_max=r_max,
        num_basis=6,
    )
    settings.update(overrides)
    model = build_model(ModelConfig(**settings))
    model.set_normalisation(-torch.arange(1.0, len(species) + 1) * 3.0, 0.7)
    return model.to(dtype).eval()


@pytest.fixture(params=sorted(SMALL_CONFIGS))
def model_kind(request):
    return request.param


@pytest.fixture
def model(model_kind):
    return make_model(model_kind)


@pytest.fixture
def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)
    return atoms
