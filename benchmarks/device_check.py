"""The shipped models' calculators on an accelerator: agreement with the CPU and speed.

For every shipped model (:func:`mlpot.pretrained_models.list_models`), on a
frame of its molecule (from ``tests/data``, so the script runs on a plain
clone), it measures:

* agreement with the CPU: the largest energy (eV) and force (eV/Å)
  difference between the calculator on ``--device`` and on the CPU, both in
  float64, and between float32 on ``--device`` and float64 on the CPU;
* symmetry on the device: the largest change of the energy and of the
  rotated forces under a random rotation and translation, in float64;
* batched calls: ``calculate_many`` on the device against single calls;
* stress: a periodic box of 64 waters with the ethanol models, device
  against CPU (eV/Å³).

Then the latency of ``atoms.get_forces()`` (as in MD, see
:func:`mlpot.timing.force_call_latency`) for the ethanol models on clusters
of 1, 27, 216 and 1000 ethanol molecules, on the CPU in float64 (the
calculator's thread default: one below 100 atoms, else torch's setting) and on
the device in float32 and float64 (milliseconds); and the total-energy drift
of NVE molecular dynamics of 27 ethanol molecules on the CPU and the device.
``--sections`` picks some of the three.

    python benchmarks/device_check.py --device cuda --json results-cuda.json
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from ase.build import molecule
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from benchmark import ethanol_cluster, water_box  # noqa: E402

from mlpot import load_calculator  # noqa: E402
from mlpot.data import read_frames  # noqa: E402
from mlpot.pretrained_models import list_models, pretrained_path  # noqa: E402
from mlpot.timing import force_call_latency  # noqa: E402

TEST_FRAMES = {
    "ethanol": "rmd17_ethanol_test_01_subset.npz",
    "toluene": "rmd17_toluene_train_01_subset.npz",
    "aspirin": "rmd17_aspirin_train_01_subset.npz",
}
CLUSTER_SIZES = (1, 27, 216, 1000)


def frame_of(molecule_name: str):
    """One frame of ``molecule_name``: rMD17 from tests/data, or ASE's geometry."""
    if molecule_name in TEST_FRAMES:
        return read_frames(
            REPO / "tests" / "data" / TEST_FRAMES[molecule_name]
        ).to_atoms(0)
    return molecule({"ethane": "C2H6"}[molecule_name])


def results_of(path, atoms, device, dtype):
    """Energy (eV) and forces (eV/Å) of ``atoms`` with a fresh calculator."""
    atoms = atoms.copy()
    atoms.calc = load_calculator(path, device=device, dtype=dtype)
    return atoms.get_potential_energy(), atoms.get_forces()


def largest_differences(first, second) -> dict:
    return {
        "energy_eV": float(abs(first[0] - second[0])),
        "forces_eV_per_A": float(np.abs(first[1] - second[1]).max()),
    }


def symmetry_error(path, atoms, device) -> dict:
    """Largest change of energy and rotated forces under a rotation and shift."""
    rotation = Rotation.random(random_state=0).as_matrix()
    moved = atoms.copy()
    moved.positions = atoms.positions @ rotation.T + np.array([1.3, -0.7, 2.1])
    energy, forces = results_of(path, atoms, device, "float64")
    moved_energy, moved_forces = results_of(path, moved, device, "float64")
    return {
        "energy_eV": float(abs(moved_energy - energy)),
        "forces_eV_per_A": float(np.abs(moved_forces - forces @ rotation.T).max()),
    }


def batched_error(path, atoms, device) -> float:
    """Largest force difference (eV/Å) of ``calculate_many`` against single calls."""
    rng = np.random.default_rng(0)
    structures = []
    for _ in range(4):
        copy = atoms.copy()
        copy.positions += rng.normal(scale=0.02, size=copy.positions.shape)
        structures.append(copy)
    calculator = load_calculator(path, device=device, dtype="float64")
    batched = calculator.calculate_many(structures)
    single = [results_of(path, copy, device, "float64")[1] for copy in structures]
    return float(
        max(np.abs(b["forces"] - f).max() for b, f in zip(batched, single, strict=True))
    )


def stress_difference(path, device) -> float:
    """Largest stress difference (eV/Å³), device against CPU, on 64 waters."""
    stresses = []
    for where in ("cpu", device):
        box = water_box()
        box.calc = load_calculator(path, device=where, dtype="float64")
        stresses.append(box.get_stress())
    return float(np.abs(stresses[0] - stresses[1]).max())


def agreement(device) -> dict:
    out = {}
    for name in list_models():
        path = pretrained_path(name)
        atoms = frame_of(name.split("-")[0])
        reference = results_of(path, atoms, "cpu", "float64")
        entry = {
            "atoms": len(atoms),
            "float64": largest_differences(
                reference, results_of(path, atoms, device, "float64")
            ),
            "float32": largest_differences(
                reference, results_of(path, atoms, device, "float32")
            ),
            "symmetry_float64": symmetry_error(path, atoms, device),
            "batched_forces_eV_per_A": batched_error(path, atoms, device),
        }
        if name.startswith("ethanol-") and path.suffix == ".ckpt":
            entry["stress_eV_per_A3"] = stress_difference(path, device)
        out[name] = entry
        print(name, json.dumps(entry), flush=True)
    return out


def latency(device) -> dict:
    out = {}
    for name in ("ethanol-equivariant", "ethanol-invariant"):
        for count in CLUSTER_SIZES:
            atoms = ethanol_cluster(count)
            repeats = 20 if len(atoms) < 1000 else 5
            for where, dtype in (
                ("cpu", "float64"),
                (device, "float32"),
                (device, "float64"),
            ):
                calculator = load_calculator(
                    pretrained_path(name), device=where, dtype=dtype
                )
                measured = force_call_latency(calculator, atoms, repeats=repeats)
                key = f"{name} {len(atoms)} atoms {where} {dtype}"
                out[key] = round(measured["median_ms"], 2)
                print(key, out[key], "ms", flush=True)
    return out


def energy_conservation(device, steps=1000) -> dict:
    """Total-energy drift of NVE on 27 ethanol molecules (243 atoms) at 300 K.

    Velocity Verlet with a 0.5 fs step from the same Maxwell-Boltzmann
    velocities for each (device, dtype). Returns, per run, the slope of a
    straight-line fit of the total energy per atom against time (meV/atom/ps)
    and its largest departure from the start (meV/atom).
    """
    from ase import units
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    out = {}
    for name in ("ethanol-equivariant", "ethanol-invariant"):
        for where, dtype in (
            ("cpu", "float64"),
            (device, "float64"),
            (device, "float32"),
        ):
            atoms = ethanol_cluster(27)
            thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
            Stationary(atoms)
            atoms.calc = load_calculator(
                pretrained_path(name), device=where, dtype=dtype
            )
            dynamics = VelocityVerlet(atoms, timestep=0.5 * units.fs)
            energies = [atoms.get_total_energy()]
            for _ in range(steps // 10):
                dynamics.run(10)
                energies.append(atoms.get_total_energy())
            per_atom_meV = 1000 * (np.array(energies) - energies[0]) / len(atoms)
            time_ps = np.arange(len(energies)) * 10 * 0.5e-3
            key = f"{name} {where} {dtype}"
            out[key] = {
                "drift_meV_per_atom_per_ps": float(
                    np.polyfit(time_ps, per_atom_meV, 1)[0]
                ),
                "max_deviation_meV_per_atom": float(np.abs(per_atom_meV).max()),
                "steps": steps,
            }
            print(key, json.dumps(out[key]), flush=True)
    return out


SECTIONS = {
    "agreement": agreement,
    "latency": latency,
    "energy_conservation": energy_conservation,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--sections", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS)
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = {
        "device": args.device,
        "device_name": (
            torch.cuda.get_device_name(args.device)
            if args.device.startswith("cuda")
            else platform.processor()
        ),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    for section in args.sections:
        report[section] = SECTIONS[section](args.device)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"done in {report['seconds']} s")


if __name__ == "__main__":
    main()
