"""``mlpot-data generate``: make reference data with GFN2-xTB (tblite) or DFT (PySCF).

Examples
--------
::

    mlpot-data generate ethane-md.h5 --molecule C2H6 --frames 2000 --temperature 500
    mlpot-data generate ethane-torsion.h5 --sampler torsion --bond 0 1 --frames 480
    mlpot-data generate ethane-stretch.h5 --sampler stretch --bond 0 1 --frames 48

Running the same command again continues an interrupted run, or extends the
store when ``--frames`` is larger.
"""

import argparse


def add_generate_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``generate`` command to the sub-parsers of ``mlpot-data``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The new sub-parser; its ``run`` default is `run_generate`.
    """
    parser = subparsers.add_parser(
        "generate",
        help="sample structures and label them with a reference method",
        description="Sample structures with Langevin MD, a torsion drive or bond "
        "stretches, label them with a reference method and append them to an HDF5 "
        "store. Rerun the same command to resume an interrupted run.",
    )
    parser.add_argument("output", help="HDF5 store to create or continue (.h5)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--molecule",
        default="C2H6",
        help="starting structure by ase.build.molecule name (default C2H6, ethane)",
    )
    start.add_argument(
        "--structure",
        help="starting structure from a file (first frame, any ase.io format)",
    )
    parser.add_argument(
        "--method",
        default="gfn2-xtb",
        help="gfn2-xtb (default), gfn1-xtb, ipea1-xtb, or pyscf-XC/BASIS "
        "(e.g. pyscf-b3lyp/def2-svp; needs PySCF)",
    )
    parser.add_argument("--charge", type=int, default=0, help="total charge (e)")
    parser.add_argument("--multiplicity", type=int, default=1, help="2S + 1")
    parser.add_argument(
        "--sampler", choices=("langevin", "torsion", "stretch"), default="langevin"
    )
    parser.add_argument(
        "--frames", type=int, required=True, help="frames in the store when done"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk-size", type=int, default=50, help="frames per write (default 50)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    md = parser.add_argument_group("Langevin sampler")
    md.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    md.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    md.add_argument(
        "--interval", type=int, default=10, help="MD steps between frames (default 10)"
    )
    md.add_argument("--friction", type=float, default=0.01, help="1/fs (default 0.01)")

    torsion = parser.add_argument_group("torsion sampler")
    which = torsion.add_mutually_exclusive_group()
    which.add_argument(
        "--bond",
        type=int,
        nargs=2,
        metavar=("B", "C"),
        help="turn (torsion) or stretch (stretch) this bond (atom indices from "
        "0); default: ethane's C-C",
    )
    which.add_argument(
        "--dihedral",
        type=int,
        nargs=4,
        metavar=("A", "B", "C", "D"),
        help="set this dihedral (the C side turns)",
    )
    torsion.add_argument(
        "--angles", type=int, default=24, help="angles over the circle (default 24)"
    )
    torsion.add_argument("--mode", choices=("relax", "perturb"), default="relax")
    torsion.add_argument(
        "--rattle",
        type=float,
        default=0.03,
        help="displacement noise in Å (default 0.03)",
    )
    torsion.add_argument(
        "--fmax", type=float, default=0.01, help="relaxation threshold in eV/Å"
    )
    stretch = parser.add_argument_group("bond-stretch sampler (also --bond, --rattle)")
    stretch.add_argument(
        "--stretch",
        type=float,
        nargs=2,
        default=(0.85, 1.6),
        metavar=("LOW", "HIGH"),
        help="bond lengths from LOW to HIGH times the starting length "
        "(default 0.85 1.6)",
    )
    stretch.add_argument(
        "--lengths", type=int, default=12, help="bond lengths used (default 12)"
    )
    parser.set_defaults(run=run_generate)
    return parser


def run_generate(args: argparse.Namespace) -> None:
    """Run ``mlpot-data generate`` with parsed arguments.

    Raises
    ------
    ValueError
        For inconsistent arguments, a store made with other settings, or a
        reference method whose package (tblite, PySCF) is missing.
    """
    # Imported here so that `mlpot-data` starts fast for its other commands.
    from ase.build import molecule
    from ase.io import read

    from mlpot.data.generate import (
        BondStretchSampler,
        LangevinSampler,
        TorsionSampler,
        generate,
    )
    from mlpot.data.reference import reference_method

    atoms = read(args.structure, index=0) if args.structure else molecule(args.molecule)
    if args.sampler == "langevin":
        sampler = LangevinSampler(
            args.temperature, args.timestep, args.interval, args.friction
        )
    elif args.sampler == "stretch":
        sampler = BondStretchSampler(
            args.bond if args.bond else _dihedral(atoms, args)[1:3],
            n_factors=args.lengths,
            stretch=args.stretch,
            rattle=args.rattle,
        )
    else:
        sampler = TorsionSampler(
            _dihedral(atoms, args),
            n_angles=args.angles,
            mode=args.mode,
            rattle=args.rattle,
            fmax=args.fmax,
        )
    try:
        method = reference_method(args.method, args.charge, args.multiplicity)
    except ImportError as error:
        raise ValueError(str(error)) from error
    frames = generate(
        atoms,
        sampler,
        args.frames,
        args.output,
        method=method,
        seed=args.seed,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    print(f"{args.output}: {len(frames)} frames, {frames.attrs['method']}")


def _dihedral(atoms, args: argparse.Namespace):
    from mlpot.geometry.torsion import ethane_torsion_quadruples, torsion_quadruple

    if args.dihedral:
        return args.dihedral
    if args.bond:
        return torsion_quadruple(atoms, args.bond)
    try:
        return ethane_torsion_quadruples(atoms)[0]
    except ValueError as error:
        raise ValueError(
            f"{atoms.get_chemical_formula()} is not ethane: choose the torsion with "
            "--bond B C or --dihedral A B C D"
        ) from error
