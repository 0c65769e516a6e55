"""Errors of a checkpoint on a data file, in meV and kcal/mol, and a parity plot."""

from pathlib import Path
from typing import Dict, Optional

import torch

from mlpot import keys
from mlpot.data import read_frames
from mlpot.data.splits import geometry_digests
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
    energy_key: Optional[str] = None,
    forces_key: Optional[str] = None,
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
    energy_key, forces_key : str, optional
        Passed to `read_frames` (label keys of ase.io files).

    Returns
    -------
    dict
        JSON-able: ``checkpoint``, ``data`` (provenance), ``n_atoms``,
        ``in_training_file`` (whether the file is the one the model was
        trained on, or holds any of its training or validation geometries),
        ``frames_seen_in_training`` (how many of the frames were training and
        validation frames, found by content, so also after a conversion) and
        ``metrics``: MAE and RMSE of the energy per structure, the energy per
        atom and the force components, and the mean signed energy error
        (predicted − reference, ``energy_mean_error``), in meV (meV/Å) and in
        kcal/mol (kcal/mol/Å).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if isinstance(model, (str, Path)):
        checkpoint = model if checkpoint is None else checkpoint
        model = load_model(model)
    frames = read_frames(
        data,
        format=format,
        energy_unit=energy_unit,
        energy_key=energy_key,
        forces_key=forces_key,
    )
    missing = [name for name in ("energy", "forces") if getattr(frames, name) is None]
    if missing:
        raise ValueError(
            f"{data} has no {' or '.join(missing)} labels; the errors of a model "
            "are measured against reference energies and forces, so evaluate on a "
            "file that has both"
        )
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
    # The mean signed error shows a constant energy offset that MAE and RMSE
    # fold in with the scatter.
    signed = {
        "energy_mean_error": float(
            (predicted[keys.ENERGY] - reference[keys.ENERGY]).mean()
        )
    }
    errors = {**errors, **signed}
    metadata = getattr(model, "metadata", {})
    trained_on = metadata.get("data", {}).get("train") or {}
    seen = frames_seen_in_training(frames, metadata)
    name = Path(str(checkpoint)).stem if checkpoint is not None else "model"
    if plot is not None:
        parity_plot(
            plot,
            reference,
            predicted,
            title=f"{name} on {source['file']} ({len(frames)} frames)",
            panel_titles=(
                f"MAE {1e3 * errors['energy_mae']:.3g} meV, mean error "
                f"{1e3 * errors['energy_mean_error']:+.3g} meV",
                f"MAE {1e3 * errors['forces_mae']:.3g} meV/Å",
            ),
        )
    return {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "data": source,
        "n_atoms": int(frames.n_atoms.sum()),
        "in_training_file": source["sha256"] == trained_on.get("sha256")
        or any(seen.values()),
        "frames_seen_in_training": seen,
        "metrics": {**in_mev(errors), **in_kcal_per_mol(errors)},
    }


def frames_seen_in_training(frames, metadata: Dict) -> Dict[str, int]:
    """How many of ``frames`` the model was trained (``train``) or validated
    (``val``) on, by geometry; empty for checkpoints that record no geometries."""
    recorded = metadata.get("geometries") or {}
    if not recorded:
        return {}
    digests = geometry_digests(frames)
    return {
        split: sum(d in set(known) for d in digests)
        for split, known in recorded.items()
    }


def parity_plot(
    path, reference, predicted, title: str = "", panel_titles=("", "")
) -> Path:
    """Write a parity plot of energies and force components to ``path`` (PNG).

    Parameters
    ----------
    path : str or Path
        Output image.
    reference, predicted : dict
        ``energy`` (F,) in eV and ``forces`` (A, 3) in eV/Å.
    title : str
        Figure title.
    panel_titles : pair of str
        Titles of the energy and the force panel (e.g. their errors).

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
    for axis, (label, ref, pred), panel_title in zip(
        axes, panels, panel_titles, strict=True
    ):
        axis.set_title(panel_title)
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
