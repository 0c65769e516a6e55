"""Errors of a checkpoint on a data file, in meV and kcal/mol, and a parity plot."""

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from mlpot import keys
from mlpot.data import read_frames
from mlpot.data.splits import geometry_digests
from mlpot.fileio import atomic_path
from mlpot.model.committee import is_committee, load_committee
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
    profile=None,
    output=None,
    profile_x: Optional[str] = None,
) -> Dict:
    """Errors of the model in ``checkpoint`` on the labelled frames in ``data``.

    Parameters
    ----------
    model : Potential, Committee, str or Path
        A loaded model (with its checkpoint's ``metadata``), or the path of a
        checkpoint written by ``mlpot-train`` or `mlpot.save_model`, or of a
        committee folder (evaluated as the members' mean).
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
    profile_x : str, optional
        ``info`` key of the scan coordinate of each frame (e.g.
        ``dihedral_angle``) for the profile's x axis and records.
    output : str or Path, optional
        Write every frame with reference and predicted energies and forces
        (`write_predictions`).
    profile : str or Path, optional
        For an ordered scan (a torsion drive, a reaction path): write the
        energy profile of reference and model along the frames here (PNG)
        and report the barriers.

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
        kcal/mol (kcal/mol/Å); energy-only files have no force errors. With
        ``profile``, also ``profile``: the barriers (highest minus lowest
        energy along the frames) of reference and model and their difference,
        in meV. Files whose frames carry ``config_type`` tags also get
        ``by_config_type``: the same errors per tag, with ``n_frames``.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if isinstance(model, (str, Path)):
        checkpoint = model if checkpoint is None else checkpoint
        model = load_committee(model) if is_committee(model) else load_model(model)
    frames = read_frames(
        data,
        format=format,
        energy_unit=energy_unit,
        energy_key=energy_key,
        forces_key=forces_key,
    )
    if frames.energy is None:
        raise ValueError(
            f"{data} has no energy labels; the errors of a model are measured "
            "against reference energies (and forces, where the file has them)"
        )
    model.check_species(frames.numbers)
    graphs = labelled_graphs(frames, model.r_max)
    predicted = predict(model, graphs, batch_size)
    reference = {keys.ENERGY: torch.as_tensor(frames.energy)}
    if frames.forces is not None:
        reference[keys.FORCES] = torch.as_tensor(frames.forces)
    errors = _errors(frames, reference, predicted, np.arange(len(frames)))
    groups = {}
    if frames.config_type is not None:
        for tag in sorted(set(frames.config_type)):
            members = np.flatnonzero(frames.config_type == tag)
            group = _errors(frames, reference, predicted, members)
            groups[tag or "(none)"] = {
                "n_frames": len(members),
                **in_mev(group),
                **in_kcal_per_mol(group),
            }
    source = describe_source(frames, data)
    metadata = getattr(model, "metadata", {})
    trained_on = metadata.get("data", {}).get("train") or {}
    seen = frames_seen_in_training(frames, metadata)
    name = Path(str(checkpoint)).stem if checkpoint is not None else "model"
    title = f"{name} on {source['file']} ({len(frames)} frames)"
    if plot is not None:
        panel_titles = [
            f"MAE {1e3 * errors['energy_mae']:.3g} meV, mean error "
            f"{1e3 * errors['energy_mean_error']:+.3g} meV"
        ]
        if "forces_mae" in errors:
            panel_titles.append(f"MAE {1e3 * errors['forces_mae']:.3g} meV/Å")
        parity_plot(plot, reference, predicted, title, panel_titles)
    scan = None
    if profile is not None:
        x = None if profile_x is None else scan_coordinate(data, profile_x, len(frames))
        scan = profile_plot(profile, reference, predicted, title, x, profile_x)
    if output is not None:
        write_predictions(output, frames, predicted)
    return {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "data": source,
        "n_atoms": int(frames.n_atoms.sum()),
        "in_training_file": source["sha256"] == trained_on.get("sha256")
        or any(seen.values()),
        "frames_seen_in_training": seen,
        "metrics": {**in_mev(errors), **in_kcal_per_mol(errors)},
        **({"profile": scan} if scan is not None else {}),
        **({"by_config_type": groups} if groups else {}),
    }


PREDICTION_PREFIX = "MLPOT_"


def write_predictions(path, frames, predicted) -> None:
    """Write every frame with its reference labels and the model's predictions.

    An extended XYZ file (any format ase.io writes, by suffix): the
    reference energy and forces as ``REF_energy`` (info) and ``REF_forces``
    (per-atom array), the model's as ``MLPOT_energy`` and ``MLPOT_forces``,
    in eV and eV/Å, as MACE's ``eval_configs`` and ``nequip-evaluate`` do.
    Written atomically.
    """
    import ase.io

    from mlpot.fileio import atomic_path

    energies = predicted[keys.ENERGY].numpy()
    forces = predicted[keys.FORCES].numpy()
    images = []
    for k in range(len(frames)):
        atoms = frames.to_atoms(k)
        atoms.calc = None
        part = frames.atom_slice(k)
        if frames.energy is not None:
            atoms.info["REF_energy"] = float(frames.energy[k])
        if frames.forces is not None:
            atoms.arrays["REF_forces"] = frames.forces[part].copy()
        atoms.info[f"{PREDICTION_PREFIX}energy"] = float(energies[k])
        atoms.arrays[f"{PREDICTION_PREFIX}forces"] = forces[part].copy()
        images.append(atoms)
    path = Path(path)
    with atomic_path(path) as tmp:
        ase.io.write(tmp, images, format="extxyz" if path.suffix == ".xyz" else None)


def _errors(frames, reference, predicted, members) -> Dict[str, float]:
    """Errors (eV, eV/Å) of the frames ``members``, with the mean signed error.

    The mean signed energy error (predicted − reference) shows a constant
    offset that MAE and RMSE fold in with the scatter; energy-only data have
    no force errors.
    """
    offsets = frames.offsets
    atoms = torch.as_tensor(
        np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in members])
    )
    members = torch.as_tensor(members)
    energy_error = predicted[keys.ENERGY][members] - reference[keys.ENERGY][members]
    forces_ref = reference.get(keys.FORCES)
    errors = error_metrics(
        predicted[keys.ENERGY][members],
        reference[keys.ENERGY][members],
        torch.as_tensor(frames.n_atoms)[members],
        predicted[keys.FORCES][atoms],
        None if forces_ref is None else forces_ref[atoms],
    )
    if forces_ref is None:
        errors = {k: v for k, v in errors.items() if not k.startswith("forces")}
    errors["energy_mean_error"] = float(energy_error.double().mean())
    return errors


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


def profile_plot(
    path, reference, predicted, title: str = "", x=None, x_label: Optional[str] = None
) -> Dict:
    """Energy along an ordered scan, reference and model, with per-frame errors.

    Parameters
    ----------
    path : str or Path
        Output image (PNG).
    reference, predicted : dict
        ``energy`` (F,) in eV, in scan order.
    title : str
        Figure title.
    x : array_like, shape (F,), optional
        The scan coordinate of each frame (e.g. a dihedral angle); default the
        frame index.
    x_label : str, optional
        Name of ``x`` for the axis and the records.

    Returns
    -------
    dict
        ``barrier_reference_meV``, ``barrier_model_meV`` and
        ``barrier_error_meV`` (model − reference; highest minus lowest energy
        along the scan, each from its own minimum); ``end_point_error_meV``
        (the error of the last frame's energy relative to the first, model −
        reference) and ``largest_error_meV`` (the largest such error in
        magnitude, signed, with ``largest_error_frame``); ``frames``: per frame
        ``x``, ``reference_meV``, ``model_meV`` (each relative to its first
        frame) and ``error_meV``.
    """
    Figure = _figure_class()
    ref = reference[keys.ENERGY].numpy()
    pred = predicted[keys.ENERGY].detach().numpy()
    ref_rel, pred_rel = 1e3 * (ref - ref.min()), 1e3 * (pred - pred.min())
    scan = {
        "barrier_reference_meV": float(ref_rel.max()),
        "barrier_model_meV": float(pred_rel.max()),
    }
    scan["barrier_error_meV"] = (
        scan["barrier_model_meV"] - scan["barrier_reference_meV"]
    )
    from_first_ref, from_first_pred = 1e3 * (ref - ref[0]), 1e3 * (pred - pred[0])
    errors = from_first_pred - from_first_ref
    worst = int(np.argmax(np.abs(errors)))
    coordinate = np.arange(len(ref)) if x is None else np.asarray(x, dtype=float)
    scan.update(
        end_point_error_meV=float(errors[-1]),
        largest_error_meV=float(errors[worst]),
        largest_error_frame=worst,
        x_label=x_label or "frame",
        frames=[
            {
                "x": float(c),
                "reference_meV": float(r),
                "model_meV": float(m),
                "error_meV": float(e),
            }
            for c, r, m, e in zip(
                coordinate, from_first_ref, from_first_pred, errors, strict=True
            )
        ],
    )
    figure = Figure(figsize=(6, 4), layout="constrained")
    axis = figure.subplots()
    axis.plot(coordinate, ref_rel, "o-", label="reference")
    axis.plot(coordinate, pred_rel, "s--", label="model")
    axis.set_xlabel(x_label or "frame along the scan")
    axis.set_ylabel("energy − its minimum (meV)")
    axis.set_title(
        f"barrier {scan['barrier_reference_meV']:.1f} meV (reference), error "
        f"{scan['barrier_error_meV']:+.1f} meV; worst frame "
        f"{scan['largest_error_meV']:+.1f} meV"
    )
    axis.legend()
    figure.suptitle(title)
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=150)
    return scan


def scan_coordinate(data, key: str, n_frames: int) -> np.ndarray:
    """The values of the ``info`` key ``key`` of each frame of the file ``data``.

    Raises
    ------
    ValueError
        A frame lacks the key, or its value is not a number.
    """
    import ase.io

    images = ase.io.read(data, index=":")
    if len(images) != n_frames:
        raise ValueError(
            f"--x {key}: {data} has {len(images)} frames for ase.io but "
            f"{n_frames} were evaluated; --x reads extended XYZ and other ase.io files"
        )
    values = []
    for k, atoms in enumerate(images):
        if key not in atoms.info:
            raise ValueError(
                f"--x {key}: frame {k} of {data} has no info key {key!r} (it has "
                f"{sorted(atoms.info)})"
            )
        try:
            values.append(float(atoms.info[key]))
        except (TypeError, ValueError):
            raise ValueError(
                f"--x {key}: frame {k} has {atoms.info[key]!r}, not a number"
            ) from None
    return np.array(values)


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or mlpot[analysis])"
        ) from None
    return Figure


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
    panel_titles : sequence of str
        Titles of the energy and the force panel (e.g. their errors); energy-
        only data have no force panel.

    Returns
    -------
    Path
    """
    Figure = _figure_class()
    offset = float(reference[keys.ENERGY].mean())
    panels = [
        (
            "energy − mean reference (eV)",
            reference[keys.ENERGY] - offset,
            predicted[keys.ENERGY] - offset,
        )
    ]
    if keys.FORCES in reference:
        panels.append(
            (
                "force components (eV/Å)",
                reference[keys.FORCES].flatten(),
                predicted[keys.FORCES].flatten(),
            )
        )
    figure = Figure(figsize=(4.5 * len(panels), 4.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, (label, ref, pred), panel_title in zip(
        axes, panels, panel_titles[: len(panels)], strict=True
    ):
        axis.set_title(panel_title)
        ref, pred = ref.numpy(), pred.detach().numpy()
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
