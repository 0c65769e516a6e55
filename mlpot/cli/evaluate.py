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

import torch

from mlpot import keys
from mlpot.data import read_frames
from mlpot.fileio import atomic_path
from mlpot.model.io import load_model
from mlpot.train.batches import labelled_graphs
from mlpot.train.data import describe_source
from mlpot.train.evaluation import predict
from mlpot.train.metrics import error_metrics, in_kcal_per_mol, in_mev

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
    try:
        report = evaluate_file(
            args.checkpoint,
            args.data,
            energy_unit=args.energy_unit,
            format=args.format,
            batch_size=args.batch_size,
            plot=args.plot,
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
    parser.add_argument(
        "--json", metavar="OUT", help="write the errors to this JSON file"
    )
    parser.add_argument("--plot", metavar="OUT.png", help="write a parity plot")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="structures per forward pass"
    )
    return parser


def evaluate_file(
    checkpoint,
    data,
    energy_unit: Optional[str] = None,
    format: Optional[str] = None,
    batch_size: int = 16,
    plot=None,
) -> Dict:
    """Errors of the model in ``checkpoint`` on the labelled frames in ``data``.

    Parameters
    ----------
    checkpoint : str or Path
        Checkpoint written by ``mlpot-train`` or `mlpot.save_model`.
    data : str or Path
        Data file read with `mlpot.data.read_frames`.
    energy_unit, format : str, optional
        Passed to `read_frames`.
    batch_size : int
        Structures per forward pass.
    plot : str or Path, optional
        Where to write a parity plot (PNG); needs matplotlib.

    Returns
    -------
    dict
        JSON-able: ``checkpoint``, ``data`` (provenance), ``n_atoms``,
        ``in_training_file`` (whether the file's sha256 is the one the model
        was trained on) and ``metrics``: MAE and RMSE of the energy per
        structure, the energy per atom and the force components, in meV
        (meV/Å) and in kcal/mol (kcal/mol/Å).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    model = load_model(checkpoint)
    frames = read_frames(data, format=format, energy_unit=energy_unit)
    model.check_species(frames.numbers)
    graphs = labelled_graphs(frames, model.r_max)
    predicted = predict(model, graphs, batch_size)
    reference = {
        keys.ENERGY: torch.as_tensor(frames.energy),
        keys.FORCES: torch.as_tensor(frames.forces),
    }
    errors = error_metrics(
        predicted[keys.ENERGY],
        reference[keys.ENERGY],
        torch.as_tensor(frames.n_atoms),
        predicted[keys.FORCES],
        reference[keys.FORCES],
    )
    source = describe_source(frames, data)
    trained_on = model.metadata.get("data", {}).get("train") or {}
    if plot is not None:
        parity_plot(
            plot,
            reference,
            predicted,
            title=f"{Path(checkpoint).name} on {source['file']}",
        )
    return {
        "checkpoint": str(checkpoint),
        "data": source,
        "n_atoms": int(frames.n_atoms.sum()),
        "in_training_file": source["sha256"] == trained_on.get("sha256"),
        "metrics": {**in_mev(errors), **in_kcal_per_mol(errors)},
    }


def format_report(report: Dict) -> str:
    """The errors of :func:`evaluate_file` as a small text table."""
    data, metrics = report["data"], report["metrics"]
    lines = [
        f"{report['checkpoint']} on {data['file']}: {data['n_frames']} frames, "
        f"{report['n_atoms']} atoms",
        f"{'':18}{'unit':12}{'MAE':>12}{'RMSE':>12}",
    ]
    for label, unit, stem, suffix in _TABLE_ROWS:
        lines.append(
            f"{label:18}{unit:12}{metrics[f'{stem}_mae{suffix}']:12.4g}"
            f"{metrics[f'{stem}_rmse{suffix}']:12.4g}"
        )
    if report["in_training_file"]:
        lines.append(
            "note: this is the file the model was trained on; its errors include "
            "the training and validation frames"
        )
    return "\n".join(lines)


def parity_plot(path, reference, predicted, title: str = "") -> Path:
    """Write a parity plot of energies and force components to ``path`` (PNG).

    Parameters
    ----------
    path : str or Path
        Output image.
    reference, predicted : dict
        ``energy`` (F,) in eV and ``forces`` (A, 3) in eV/Å.
    title : str
        Figure title.

    Returns
    -------
    Path
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "the parity plot needs matplotlib: pip install matplotlib "
            "(or mlpot[analysis])"
        ) from None
    offset = float(reference[keys.ENERGY].mean())
    panels = (
        (
            "energy − mean reference (eV)",
            reference[keys.ENERGY] - offset,
            predicted[keys.ENERGY] - offset,
        ),
        (
            "force components (eV/Å)",
            reference[keys.FORCES].flatten(),
            predicted[keys.FORCES].flatten(),
        ),
    )
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axes = figure.subplots(1, 2)
    for axis, (label, ref, pred) in zip(axes, panels, strict=True):
        ref, pred = ref.numpy(), pred.numpy()
        low, high = min(ref.min(), pred.min()), max(ref.max(), pred.max())
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        axis.scatter(ref, pred, s=4, alpha=0.5)
        axis.set_xlabel(f"reference {label}")
        axis.set_ylabel(f"predicted {label}")
        axis.set_aspect("equal")
    figure.suptitle(title)
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=150)
    return path
