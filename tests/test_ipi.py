"""i-PI path-integral MD served by mlpot clients: the run completes, forces agree."""

import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import torch
from conftest import make_model

from mlpot import load_calculator
from mlpot.model.io import save_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ipi" / "pimd.py"


def test_ipi_pimd_with_two_clients(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_model(make_model("equivariant"), tmp_path / "m.ckpt")
    out = tmp_path / "run"
    command = [sys.executable, str(EXAMPLE), "--model", str(checkpoint)]
    command += ["--molecule", "CH3CH2OH", "--beads", "4", "--clients", "2"]
    command += ["--steps", "6", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:] + (out / "i-pi.log").read_text()
    properties = np.loadtxt(out / "simulation.out")
    assert properties.shape == (7, 6) and np.isfinite(properties).all()
    positions = ase.io.read(out / "simulation.pos_0.extxyz", index=":")
    forces = ase.io.read(out / "simulation.for_0.extxyz", index=":")
    assert len(positions) == len(forces) == 7
    calculator = load_calculator(checkpoint)
    moved = 0.0
    for bead, served in zip(positions, forces, strict=True):
        bead.pbc = False
        bead.calc = calculator
        expected = bead.get_forces()
        np.testing.assert_allclose(served.get_forces(), expected, atol=1e-6)
        moved = max(moved, np.abs(bead.positions - positions[0].positions).max())
    assert moved > 1e-4  # the beads moved: i-PI integrated with these forces
    assert np.abs(expected).max() > 1e-2
