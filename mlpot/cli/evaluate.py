"""``mlpot-eval``: energy and force errors of a checkpoint on a data file.

Examples
--------
::

    mlpot-eval runs/a/best.ckpt rmd17_ethanol_test_01.npz --json errors.json
    mlpot-eval runs/a/best.ckpt ethanol.xyz --energy-unit kcal/mol --plot parity.png
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

from mlpot.cli.data import add_key_options
from mlpot.fileio import atomic_path
from mlpot.train.report import evaluate_file

# Table rows: label, unit, and the metric keys "{stem}_mae{suffix}" / "_rmse".
_TABLE_ROWS = (
    ("energy", "meV", "energy", "_meV"),
    ("energy", "kcal/mol", "energy", "_kcal_mol"),
    ("energy per atom", "meV", "energy_per_atom", "_meV"),
    ("energy per atom", "kcal/mol", "energy_per_atom", "_kcal_mol"),
    ("forces", "meV/Å", "forces", "_meV_per_A"),
    ("forces", "kcal/mol/Å", "forces", "_kcal_mol_per_A"),
)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-eval``; returns the exit status (0 on success, 1 on error).

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    for option, path in (
        ("--json", args.json),
        ("--plot", args.plot),
        ("--profile", args.profile),
        ("--output", args.output),
    ):
        if path is not None and Path(path).is_dir():
            print(
                f"mlpot-eval: error: {option} {path} is a directory; name a file",
                file=sys.stderr,
            )
            return 1
        if path is not None and Path(path).resolve() in (
            Path(args.checkpoint).resolve(),
            Path(args.data).resolve(),
        ):
            print(
                f"mlpot-eval: error: {option} {path} is an input of this command; "
                "name another file",
                file=sys.stderr,
            )
            return 1
    if args.output and Path(args.output).exists() and not args.overwrite:
        print(
            f"mlpot-eval: error: {args.output} exists; name another file or pass "
            "--overwrite",
            file=sys.stderr,
        )
        return 1
    try:
        report = evaluate_file(
            args.checkpoint,
            args.data,
            energy_unit=args.energy_unit,
            format=args.format,
            batch_size=args.batch_size,
            plot=args.plot,
            energy_key=args.energy_key,
            forces_key=args.forces_key,
            profile=args.profile,
            output=args.output,
            profile_x=args.x,
        )
    except (ValueError, OSError, ImportError) as error:
        print(f"mlpot-eval: error: {error}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpot-eval",
        description="Energy and force errors of an mlpot checkpoint on a data file.",
    )
    parser.add_argument("checkpoint", help="checkpoint (.ckpt) written by mlpot-train")
    parser.add_argument(
        "data", help="labelled data file (rMD17/sGDML npz, extxyz, HDF5)"
    )
    parser.add_argument(
        "--energy-unit",
        help="energy unit of the file, e.g. kcal/mol (default: the reader's)",
    )
    parser.add_argument("--format", help="file format (default: guessed)")
    add_key_options(parser)
    parser.add_argument(
        "--json", metavar="OUT", help="write the errors to this JSON file"
    )
    parser.add_argument("--plot", metavar="OUT.png", help="write a parity plot")
    parser.add_argument(
        "--profile",
        metavar="OUT.png",
        help="for an ordered scan (torsion drive, reaction path): plot the energy "
        "along the frames, reference and model, and report the barrier error, the "
        "end-point error and each frame's error",
    )
    parser.add_argument(
        "--x",
        metavar="KEY",
        help="with --profile: the info key holding each frame's scan coordinate "
        "(e.g. dihedral_angle), for the x axis and the per-frame records",
    )
    parser.add_argument(
        "--output",
        metavar="OUT.xyz",
        help="write every frame with its reference and predicted energy and forces "
        "(REF_energy/REF_forces and MLPOT_energy/MLPOT_forces, eV and eV/Å)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --output file"
    )
    parser.add_argument(
        "--batch-size", type=int, default=16, help="structures per forward pass"
    )
    return parser


def format_report(report: Dict) -> str:
    """The errors of :func:`evaluate_file` as a small text table."""
    data, metrics = report["data"], report["metrics"]
    lines = [
        f"{report['checkpoint']} on {data['file']}: {data['n_frames']} frames, "
        f"{report['n_atoms']} atoms",
        f"{'':18}{'unit':12}{'MAE':>12}{'RMSE':>12}",
    ]
    for label, unit, stem, suffix in _TABLE_ROWS:
        if f"{stem}_mae{suffix}" not in metrics:  # no forces in energy-only data
            continue
        lines.append(
            f"{label:18}{unit:12}{metrics[f'{stem}_mae{suffix}']:12.4g}"
            f"{metrics[f'{stem}_rmse{suffix}']:12.4g}"
        )
    lines.append(
        f"{'energy mean error':18}{'meV':12}"
        f"{metrics['energy_mean_error_meV']:+12.4g}   (predicted − reference)"
    )
    groups = report.get("by_config_type") or {}
    if groups:
        lines.append(
            f"{'config_type':18}{'frames':>8}{'E MAE meV':>12}{'E mean meV':>12}"
            f"{'F MAE meV/Å':>13}"
        )
        for tag, group in groups.items():
            forces = group.get("forces_mae_meV_per_A")
            lines.append(
                f"{tag[:18]:18}{group['n_frames']:8d}{group['energy_mae_meV']:12.4g}"
                f"{group['energy_mean_error_meV']:+12.4g}"
                + (f"{forces:13.4g}" if forces is not None else f"{'-':>13}")
            )
    if "profile" in report:
        scan = report["profile"]
        lines.append(
            f"scan barrier: reference {scan['barrier_reference_meV']:.4g} meV, model "
            f"{scan['barrier_model_meV']:.4g} meV, error "
            f"{scan['barrier_error_meV']:+.4g} meV"
        )
        lines.append(
            f"scan end point (last frame against the first): error "
            f"{scan['end_point_error_meV']:+.4g} meV; largest error "
            f"{scan['largest_error_meV']:+.4g} meV at frame "
            f"{scan['largest_error_frame']}"
        )
        lines.append(
            f"{scan['x_label'][:18]:>18}{'reference meV':>15}{'model meV':>12}"
            f"{'error meV':>12}   (each relative to the first frame)"
        )
        for row in scan["frames"]:
            lines.append(
                f"{row['x']:18.4g}{row['reference_meV']:15.4g}{row['model_meV']:12.4g}"
                f"{row['error_meV']:+12.4g}"
            )
    seen = report.get("frames_seen_in_training") or {}
    if any(seen.values()):
        lines.append(
            f"note: {seen.get('train', 0)} of these frames were training frames of "
            f"the model and {seen.get('val', 0)} validation frames; their errors "
            "do not measure how it generalises"
        )
    elif report["in_training_file"]:
        lines.append(
            "note: this is the file the model was trained on; its errors include "
            "the training and validation frames"
        )
    return "\n".join(lines)
