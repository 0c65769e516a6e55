"""Ethane torsion with an mlpot model: relaxed scan, NVE, NVT, against GFN2-xTB.

Runs a relaxed torsion scan of ethane with the model, the same scan with the
reference method (GFN2-xTB through tblite, when installed), an NVE run
(velocity Verlet, 0.5 fs, from a 300 K start) and a Langevin NVT run at 300 K;
prints a summary table and writes plots, the NVT trajectory and summary.json.

    python examples/ethane_torsion.py --model models/ethane-equivariant.ckpt
    python examples/ethane_torsion.py --quick          # a one-minute smoke run
    python examples/ethane_torsion.py --model models/ethane-invariant.ckpt

What to check in the table: the barrier against GFN2-xTB (2.59 kcal/mol for
its relaxed scan; about 2.9 kcal/mol in experiment), the spread of the three
minima and of the three maxima (within 0.02 kcal/mol for a three-fold
symmetric model), the RMSE of the whole profile, the NVE drift per atom, and
that NVT keeps all bonds and visits all three staggered basins.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from ase import units
from ase.build import molecule
from ase.io import Trajectory, read
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from mlpot import load_calculator
from mlpot.analysis import (
    KCAL_PER_MOL,
    angle_triples,
    basin_populations,
    bond_angles,
    bond_lengths,
    bonded_pairs,
    ethane_torsion,
    ethane_torsion_quadruples,
    fold_angles,
    free_energy_profile,
    group_by_elements,
    nearest_basin,
    profile_summary,
    relaxed_scan,
)
from mlpot.data.reference import reference_method
from mlpot.md import langevin

TEMPERATURE_K = 300.0
TIMESTEP_FS = 0.5
STAGGERED = [60.0, 180.0, 300.0]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="models/ethane-equivariant.ckpt",
        help="ethane checkpoint of any family (default models/ethane-equivariant.ckpt)",
    )
    parser.add_argument("--md-ps", type=float, default=20.0, help="NVT length in ps")
    parser.add_argument("--nve-ps", type=float, default=10.0, help="NVE length in ps")
    parser.add_argument("--step", type=float, default=15.0, help="scan step in degrees")
    parser.add_argument("--out", default="runs/ethane-torsion", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the GFN2-xTB comparison"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 30° steps, 1 ps NVT, 0.5 ps NVE",
    )
    args = parser.parse_args()
    if args.quick:
        args.step, args.md_ps, args.nve_ps = 30.0, 1.0, 0.5
    return args


def reference_or_none(skip):
    """The GFN2-xTB reference, or None (with a note) if skipped or not installed."""
    if skip:
        return None
    try:
        return reference_method("gfn2-xtb")
    except ImportError as error:
        print(f"note: no comparison with the reference method: {error}")
        return None


def scan(calculator, step):
    """Relaxed scan of the first H-C-C-H dihedral over the whole circle."""
    atoms = molecule("C2H6")
    quadruple = ethane_torsion_quadruples(atoms)[0]
    return relaxed_scan(atoms, calculator, quadruple, np.arange(0.0, 360.0, step))


def run_nve(atoms, calculator, picoseconds, seed):
    """Total energy per atom (eV) every 10 steps of velocity Verlet from 300 K."""
    atoms = atoms.copy()
    atoms.calc = calculator
    thermalize_momenta(atoms, TEMPERATURE_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = VelocityVerlet(atoms, timestep=TIMESTEP_FS * units.fs)
    energies = []
    dynamics.attach(lambda: energies.append(atoms.get_total_energy()), interval=10)
    dynamics.run(int(round(picoseconds * 1000 / TIMESTEP_FS)))
    return np.array(energies) / len(atoms)


def run_nvt(atoms, calculator, picoseconds, seed, path):
    """Langevin at 300 K, a frame every 5 fs written to ``path``; returns the frames."""
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed + 1)
    dynamics = langevin(atoms, TEMPERATURE_K, TIMESTEP_FS, rng=rng)
    with Trajectory(path, "w", atoms) as trajectory:
        dynamics.attach(trajectory.write, interval=10)
        dynamics.run(int(round(picoseconds * 1000 / TIMESTEP_FS)))
    return read(path, ":")


def nvt_analysis(frames):
    """Torsion, basin populations, bonds and angles of the NVT frames."""
    ethane = molecule("C2H6")  # same atom order; its bonds are the intact ones
    torsion = ethane_torsion(frames, ethane_torsion_quadruples(ethane))
    pairs = bonded_pairs(ethane)
    triples = angle_triples(pairs)
    lengths = bond_lengths(frames, pairs)
    intact = all(np.array_equal(bonded_pairs(frame), pairs) for frame in frames)
    return {
        "torsion": torsion,
        "populations": basin_populations(torsion, STAGGERED),
        "eclipsed_fraction": basin_populations(
            fold_angles(torsion), [60.0, 0.0], period=120.0
        )[1],
        "transitions": int(
            np.count_nonzero(np.diff(nearest_basin(torsion, STAGGERED)))
        ),
        "bonds_intact": intact,
        "largest_bond_stretch": float((lengths / bond_lengths(ethane, pairs)).max()),
        "bonds": group_by_elements(lengths, pairs, frames[0].numbers),
        "angles": group_by_elements(
            bond_angles(frames, triples), triples, frames[0].numbers
        ),
    }


def plot_profile(out, model_scan, reference_scan, reference_name, nvt):
    figure, axes = plt.subplots(figsize=(6, 4))
    for result, label, style in (
        (model_scan, "model, relaxed scan", "o-"),
        (reference_scan, f"{reference_name}, relaxed scan", "s--"),
    ):
        if result is not None:
            energies = (result.energies - result.energies.min()) / KCAL_PER_MOL
            axes.plot(
                np.append(result.angles, 360.0),
                np.append(energies, energies[0]),
                style,
                label=label,
            )
    centres, free_energy = free_energy_profile(nvt["torsion"], TEMPERATURE_K, bins=36)
    axes.plot(centres, free_energy / KCAL_PER_MOL, ".", label="model, NVT −kT ln p")
    axes.set(
        xlabel="H–C–C–H dihedral (°)",
        ylabel="energy (kcal/mol)",
        xlim=(0, 360),
        xticks=range(0, 361, 60),
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "torsion_profile.png", dpi=150)
    plt.close(figure)


def plot_torsion_series(out, nvt, frame_fs):
    time_ps = np.arange(len(nvt["torsion"])) * frame_fs / 1000
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.plot(time_ps, nvt["torsion"], ".", color="k", markersize=1)
    for angle in STAGGERED:
        axes.axhline(angle, color="tab:blue", lw=0.5)
    axes.set(
        xlabel="time (ps)",
        ylabel="torsion (°)",
        ylim=(0, 360),
        yticks=range(0, 361, 60),
        title="NVT 300 K, model",
    )
    figure.tight_layout()
    figure.savefig(out / "torsion_time_series.png", dpi=150)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.hist(nvt["torsion"], bins=72, range=(0, 360), density=True, color="tab:blue")
    axes.set(
        xlabel="torsion (°)",
        ylabel="probability density (1/°)",
        xticks=range(0, 361, 60),
        title="NVT 300 K, model",
    )
    figure.tight_layout()
    figure.savefig(out / "torsion_histogram.png", dpi=150)
    plt.close(figure)


def kcal(summary, name):
    """A ProfileSummary field in kcal/mol, or None."""
    value = None if summary is None else getattr(summary, name)
    return None if value is None else value / KCAL_PER_MOL


def summarise(model_scan, reference_scan, drift, nvt):
    """The checks, as (label, model value, reference value, target) rows."""
    reference = None
    if reference_scan is not None:
        reference = profile_summary(reference_scan.angles, reference_scan.energies)
    model = profile_summary(
        model_scan.angles,
        model_scan.energies,
        None if reference_scan is None else reference_scan.energies,
    )
    rows = [
        (
            "barrier, kcal/mol",
            kcal(model, "barrier"),
            kcal(reference, "barrier"),
            "within 0.1 of GFN2-xTB (2.59); exp. 2.9",
        ),
        (
            "spread of the 3 minima, kcal/mol",
            kcal(model, "minima_spread"),
            kcal(reference, "minima_spread"),
            "< 0.02",
        ),
        (
            "spread of the 3 maxima, kcal/mol",
            kcal(model, "maxima_spread"),
            kcal(reference, "maxima_spread"),
            "< 0.02",
        ),
        (
            "profile RMSE vs reference, kcal/mol",
            kcal(model, "rmse"),
            None,
            "≤ 0.05",
        ),
        ("scan points converged", bool(model_scan.converged.all()), None, True),
        ("NVE drift, meV/atom", 1e3 * drift["end"], None, "|drift| < 1"),
        ("NVE largest |ΔE|, meV/atom", 1e3 * drift["largest"], None, "small"),
        ("NVT bonds intact", nvt["bonds_intact"], None, True),
        ("NVT largest bond stretch", nvt["largest_bond_stretch"], None, "< 1.3"),
        (
            "NVT staggered basins 60/180/300",
            nvt["populations"].tolist(),
            None,
            "all > 0",
        ),
        ("NVT basin changes", nvt["transitions"], None, "> 0"),
        (
            "NVT fraction within 30° of eclipsed",
            nvt["eclipsed_fraction"],
            None,
            "small",
        ),
    ]
    for kind, unit in (("bonds", "Å"), ("angles", "°")):
        for name, samples in nvt[kind].items():
            rows.append(
                (
                    f"NVT {name} mean, std, {unit}",
                    [samples.mean(), samples.std()],
                    None,
                    "",
                )
            )
    return rows


def print_table(rows, reference_name):
    def cell(value):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, list):
            return " / ".join(f"{v:.3f}" for v in value)
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    table = [("", "model", reference_name or "reference", "target")]
    table += [tuple(cell(value) for value in row) for row in rows]
    widths = [max(len(row[k]) for row in table) for k in range(4)]
    for n, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main():
    args = parse_args()
    matplotlib.use("Agg")  # write files, open no windows
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not Path(args.model).is_file():
        raise SystemExit(
            f"no model at {args.model}: pass --model PATH to an ethane checkpoint "
            "(trained, e.g., on data from `mlpot-data generate`)"
        )
    calculator = load_calculator(args.model)  # EquivCalculator for the default
    reference = reference_or_none(args.no_reference)

    print(f"relaxed scan, model, {args.step:g}° steps ...")
    model_scan = scan(calculator, args.step)
    reference_scan = None
    if reference is not None:
        print(f"relaxed scan, {reference.description} ...")
        reference_scan = scan(reference.calculator(), args.step)

    minimum = model_scan.images[int(np.argmin(model_scan.energies))]
    print(f"NVE {args.nve_ps:g} ps, velocity Verlet {TIMESTEP_FS:g} fs ...")
    energies = run_nve(minimum, calculator, args.nve_ps, args.seed)
    drift = {
        "end": energies[-1] - energies[0],
        "largest": np.abs(energies - energies[0]).max(),
    }
    print(f"NVT {args.md_ps:g} ps at {TEMPERATURE_K:g} K ...")
    trajectory = out / "ethane_nvt.traj"
    nvt = nvt_analysis(run_nvt(minimum, calculator, args.md_ps, args.seed, trajectory))

    reference_name = None if reference is None else reference.level_of_theory
    plot_profile(out, model_scan, reference_scan, reference_name, nvt)
    plot_torsion_series(out, nvt, frame_fs=10 * TIMESTEP_FS)
    rows = summarise(model_scan, reference_scan, drift, nvt)
    print(
        f"\nethane, relaxed scan in {args.step:g}° steps, NVE {args.nve_ps:g} ps, "
        f"NVT {args.md_ps:g} ps"
    )
    print_table(rows, reference_name)
    summary = {
        "title": f"Torsion analysis (relaxed scan in {args.step:g}° steps, "
        f"NVE {args.nve_ps:g} ps, NVT {args.md_ps:g} ps at {TEMPERATURE_K:g} K)",
        "command": " ".join(["python examples/ethane_torsion.py", *sys.argv[1:]]),
        "model": args.model,
        "reference": None if reference is None else reference.description,
        "reference_name": reference_name,
        "scan_angles_deg": model_scan.angles.tolist(),
        "model_scan_kcal_mol": (model_scan.energies / KCAL_PER_MOL).tolist(),
        "reference_scan_kcal_mol": None
        if reference_scan is None
        else (reference_scan.energies / KCAL_PER_MOL).tolist(),
        "checks": [
            dict(zip(("check", "model", "reference", "target"), row, strict=True))
            for row in rows
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(
        f"\nwrote {trajectory}, summary.json and torsion_profile.png, "
        f"torsion_time_series.png, torsion_histogram.png to {out}"
    )


if __name__ == "__main__":
    main()
