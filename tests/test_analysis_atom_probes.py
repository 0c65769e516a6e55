"""Per-atom probes on synthetic latents with a known answer."""

from pathlib import Path

import numpy as np
import pytest

from mlpot.analysis.atom_probes import atom_probe_r2, own_geometry
from mlpot.data import read_frames

DATA = Path(__file__).parent / "data"


@pytest.fixture
def ethanol():
    return read_frames(DATA / "rmd17_ethanol_train_01_subset.npz")


def test_own_geometry_names_each_heavy_atoms_bonds_and_angles(ethanol):
    geometry = own_geometry(ethanol)
    names = sorted(geometry)
    # rMD17 ethanol: atoms 0, 1 are C and 2 is O; C0-C1, C0-O2 (or C1-O2)...
    assert any("(Å)" in name for name in names) and any(
        "(deg)" in name for name in names
    )
    for name, (atom, values) in geometry.items():
        assert name.split(":")[0].endswith(str(atom))
        assert values.shape == (len(ethanol),)
    bonds = [values for name, (_, values) in geometry.items() if "(Å)" in name]
    assert all(0.9 < v.mean() < 1.6 for v in bonds)


def test_a_latent_that_encodes_the_bond_scores_one_and_noise_scores_zero(ethanol):
    geometry = own_geometry(ethanol)
    name, (atom, values) = next(
        (n, g) for n, g in geometry.items() if n.startswith("O") and "(Å)" in n
    )
    rng = np.random.default_rng(0)
    size = int(ethanol.n_atoms[0])
    latents = rng.normal(size=(len(ethanol), size, 4))
    latents[:, atom, 0] = 3.0 * values - 1.0  # the O atom's latent holds its bond
    scores = atom_probe_r2(latents.reshape(-1, 4), ethanol, {name: (atom, values)})
    assert scores[name] > 0.99
    other = (atom + 1) % size  # another atom's latent is noise
    noise = atom_probe_r2(latents.reshape(-1, 4), ethanol, {name: (other, values)})
    assert noise[name] < 0.5
