"""Errors of a checkpoint on a data file, in meV and kcal/mol, and a parity plot."""

from pathlib import Path
from typing import Dict, Optional

import torch

from mlpot import keys
from mlpot.data import read_frames
from mlpot.fileio import atomic_path
from mlpot.model.io import load_model
from mlpot.train.batches import labelled_graphs
from mlpot.train.data import describe_source
from mlpot.train.evaluation import predict
from mlpot.train.metrics import error_metrics, in_kcal_per_mol, in_mev


def evaluate_file(
    model,
    data,
    energy_unit: Optional[str] = None,
    format: Optional[str] = None,
    batch_size: int = 16,
    plot=None,
    checkpoint=None,
) -> Dict:
    """Errors of the model in ``checkpoint`` on the labelled frames in ``data``.

    Parameters
    ----------
    model : Potential, str or Path
        A loaded model (with its checkpoint's ``metadata``), or the path of a
        checkpoint written by ``mlpot-train`` or `mlpot.save_model`.
    data : str or Path
        Data file read with `mlpot.data.read_frames`.
    energy_unit, format : str, optional
        Passed to `read_frames`.
    batch_size : int
        Structures per forward pass.
    plot : str or Path, optional
        Where to write a parity plot (PNG); needs matplotlib.
    checkpoint : str or Path, optional
        The model's checkpoint file, for the report; default ``model`` when
        that is a path.

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
    if isinstance(model, (str, Path)):
        checkpoint = model if checkpoint is None else checkpoint
        model = load_model(model)
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
            title=f"{Path(str(checkpoint)).name} on {source['file']}",
        )
    return {
        "checkpoint": str(checkpoint),
        "data": source,
        "n_atoms": int(frames.n_atoms.sum()),
        "in_training_file": source["sha256"] == trained_on.get("sha256"),
        "metrics": {**in_mev(errors), **in_kcal_per_mol(errors)},
    }


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
