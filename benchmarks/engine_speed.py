"""MD steps per second: ASE's own loop against LAMMPS, eager and compiled.

The same box (``--copies`` molecules of the model's molecule at 0.79 g/cm³,
`mlpot.engines.systems.molecular_box`, seed 1) is run for ``--steps`` NVE steps
of 0.5 fs by ASE's VelocityVerlet with the mlpot calculator, and by LAMMPS
through ``examples/lammps/md.py`` on each of ``--ranks``; each with the eager
and the compiled model, one torch thread per process. LAMMPS's step-0 forces
are compared with the calculator's on the same positions.

::

    python benchmarks/engine_speed.py --model ethanol-equivariant --copies 27 \\
        --steps 50 --ranks 1 --json benchmarks/engine_speed.json
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def ase_md(calculator, atoms, steps: int):
    """Steps per second of ASE's VelocityVerlet, and its drift in eV per atom per ps."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(1))
    dynamics = VelocityVerlet(atoms, 0.5 * units.fs)
    energies = []
    dynamics.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    start = time.perf_counter()
    dynamics.run(steps)
    elapsed = time.perf_counter() - start
    time_ps = np.arange(len(energies)) * 0.5e-3
    drift = float(np.polyfit(time_ps, energies, 1)[0] / len(atoms))
    return steps / elapsed, drift


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ethanol-equivariant")
    parser.add_argument("--molecule", default="CH3CH2OH")
    parser.add_argument("--copies", type=int, default=27)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--export", help="the model's mlpot-export file (compiled runs)"
    )
    parser.add_argument("--eager-only", action="store_true", help="no compiled runs")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import torch
    from ase import Atoms
    from ase.build import molecule

    from mlpot import load_calculator
    from mlpot.engines.lammps import environment_for_ranks
    from mlpot.engines.systems import molecular_box
    from mlpot.pretrained_models import pretrained_path

    torch.set_num_threads(1)
    checkpoint = pretrained_path(args.model)
    atoms = molecular_box(molecule(args.molecule), args.copies, 0.79, seed=1)
    forms = {"eager": str(checkpoint)}
    if args.export and not args.eager_only:
        forms["compiled"] = args.export
    rows = []
    for form, model in forms.items():
        calculator = load_calculator(model, num_threads=1)
        speed, drift = ase_md(calculator, atoms, args.steps)
        rows.append(
            {
                "engine": "ASE VelocityVerlet",
                "form": form,
                "ranks": 1,
                "steps_per_s": speed,
                "drift_eV_per_atom_per_ps": drift,
            }
        )
        print(rows[-1], flush=True)
        for ranks in args.ranks:
            with tempfile.TemporaryDirectory() as work:
                out = Path(work) / "out.json"
                command = [sys.executable, str(REPO / "examples" / "lammps" / "md.py")]
                command += ["--model", model, "--molecule", args.molecule]
                command += ["--copies", str(args.copies), "--ranks", str(ranks)]
                command += ["--steps", str(args.steps), "--json", str(out)]
                subprocess.run(command, check=True, env=environment_for_ranks())
                result = json.loads(out.read_text())
            box = Atoms(
                numbers=result["numbers"],
                positions=result["positions"],
                cell=result["cell"],
                pbc=True,
            )
            box.calc = calculator
            rows.append(
                {
                    "engine": "LAMMPS fix external",
                    "form": form,
                    "ranks": ranks,
                    "steps_per_s": result["steps_per_s"],
                    "max_force_difference": float(
                        np.abs(box.get_forces() - np.array(result["forces"])).max()
                    ),
                    "drift_eV_per_atom_per_ps": result["drift_eV_per_atom_per_ps"],
                }
            )
            print(rows[-1], flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"atoms": len(atoms), "model": args.model, "rows": rows}, indent=1
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
