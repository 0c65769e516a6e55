"""Molecular dynamics of ethanol with a shipped mlpot model, in plain ASE.

Runs Langevin MD with the equivariant ethanol model, prints the energies as it
goes and, at the end, the statistics of every kind of covalent bond. With a
committee (``--model ethanol-committee``, the shipped one, or a committee
folder) it also prints the largest force spread of the members and stops
when it passes ``--max-spread``.

    python examples/md_ethanol.py                      # 1 ps at 300 K
    python examples/md_ethanol.py --ps 5 --temperature 500 --trajectory md.traj
    python examples/md_ethanol.py --model ethanol-committee --max-spread 0.5
"""

import argparse

import numpy as np
from ase.build import molecule
from ase.io import Trajectory

from mlpot import list_models, load_calculator, pretrained
from mlpot.calculator import CommitteeCalculator
from mlpot.geometry.internal import bond_lengths, bonded_pairs, group_by_elements
from mlpot.md import SpreadExceeded, SpreadGuard, langevin


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        help="a shipped model's name, a checkpoint or a committee folder "
        "(default: the shipped ethanol-equivariant)",
    )
    parser.add_argument("--ps", type=float, default=1.0, help="length in ps")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--trajectory", help="write the frames to this .traj file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-spread",
        type=float,
        default=1.0,
        help="committees: stop when a force spread passes this (eV/Å)",
    )
    args = parser.parse_args()

    atoms = molecule("CH3CH2OH")
    model = args.model or "ethanol-equivariant"
    atoms.calc = pretrained(model) if model in list_models() else load_calculator(model)
    committee = isinstance(atoms.calc, CommitteeCalculator)
    rng = np.random.default_rng(args.seed)
    dynamics = langevin(atoms, args.temperature, args.timestep, rng=rng)
    pairs = bonded_pairs(atoms)
    frames = []
    steps = int(round(args.ps * 1000 / args.timestep))
    report_every = max(1, int(round(100 / args.timestep)))  # every 100 fs

    def report():
        frames.append(atoms.positions.copy())
        if dynamics.nsteps % report_every == 0:
            epot = atoms.get_potential_energy()
            ekin = atoms.get_kinetic_energy()
            spread = (
                f" {atoms.calc.results['max_forces_std']:12.4f}" if committee else ""
            )
            print(
                f"{dynamics.nsteps * args.timestep / 1000:8.2f} {epot:14.4f} "
                f"{ekin:10.4f} {epot + ekin:14.4f} {atoms.get_temperature():8.1f}"
                + spread
            )

    header = ("t (ps)", "E_pot (eV)", "E_kin (eV)", "E_tot (eV)", "T (K)")
    widths = (8, 14, 10, 14, 8)
    if committee:
        header, widths = header + ("spread (eV/Å)",), widths + (12,)
        dynamics.attach(SpreadGuard(atoms, args.max_spread), interval=1)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    dynamics.attach(report, interval=1)
    if args.trajectory:
        dynamics.attach(Trajectory(args.trajectory, "w", atoms).write, interval=10)
    try:
        dynamics.run(steps)
    except SpreadExceeded as stop:
        print(f"stopped: {stop}")

    lengths = group_by_elements(
        bond_lengths(np.array(frames), pairs), pairs, atoms.numbers
    )
    print(f"\nbond statistics over {args.ps:g} ps at {args.temperature:g} K (Å):")
    print(f"{'bond':>6} {'count':>5} {'mean':>7} {'std':>7} {'min':>7} {'max':>7}")
    counts = group_by_elements(np.ones(len(pairs)), pairs, atoms.numbers)
    for name, values in lengths.items():
        print(
            f"{name:>6} {len(counts[name]):5d} {values.mean():7.3f} "
            f"{values.std():7.3f} {values.min():7.3f} {values.max():7.3f}"
        )


if __name__ == "__main__":
    main()
