"""Check the physics of random models of each family, through their calculators.

Each model (energy scale 0.1 eV) is saved to a checkpoint, reloaded with its
named calculator, and checked for:
rotation/inversion/translation equivariance of energy and forces, forces against
a central finite difference of the energy, and energy drift in a short NVE run.

    python examples/physics_checks.py
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.build import molecule
from ase.calculators.fd import calculate_numerical_forces
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from mlpot import load_calculator, save_model
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.model import ModelConfig, build_model

MODELS = {
    "equivariant": dict(name="equivariant", lmax=1, num_features=32, num_layers=4),
    "invariant": dict(name="invariant", num_features=64, num_layers=4),
    "invariant (gcn)": dict(
        name="invariant", interaction="gcn", num_features=64, num_layers=4
    ),
}


def check(label, settings, folder, md_steps):
    torch.manual_seed(0)
    model = build_model(ModelConfig(species=[1, 6, 8], r_max=5.0, **settings))
    # A random potential of ~1 eV per atom pulls atoms together at 300 K; at
    # 0.1 eV (any scale is as random as another) the molecule stays whole.
    model.set_normalisation(torch.zeros(3), energy_scale=0.1)
    path = save_model(model, Path(folder) / "model.ckpt")
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=0)
    atoms.calc = load_calculator(path)
    symmetry = equivariance_errors(atoms.calc.model, atoms, ntrials=10)
    finite_difference = np.abs(
        atoms.get_forces() - calculate_numerical_forces(atoms, eps=1e-5)
    ).max()
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    start = atoms.get_total_energy()
    dynamics = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    drift = []
    dynamics.attach(lambda: drift.append(atoms.get_total_energy() - start), interval=5)
    dynamics.run(md_steps)
    return [
        label,
        type(atoms.calc).__name__,
        f"{symmetry['energy']:.1e}",
        f"{symmetry['forces']:.1e}",
        f"{finite_difference:.1e}",
        f"{1e3 * np.abs(drift).max() / len(atoms):.2e}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--md-steps", type=int, default=1000, help="NVE steps of 0.5 fs"
    )
    args = parser.parse_args()
    header = [
        "model",
        "calculator",
        "equivariance E (eV)",
        "equivariance F (eV/Å)",
        "F vs finite diff. (eV/Å)",
        f"NVE drift over {args.md_steps * 0.5:g} fs (meV/atom)",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, settings in MODELS.items():
            rows.append(check(label, settings, folder, args.md_steps))
    widths = [max(len(str(r[k])) for r in [header] + rows) for k in range(len(header))]
    for row in [header] + rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
