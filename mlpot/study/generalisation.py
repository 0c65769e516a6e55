"""Generalisation: train on the low-energy frames, test on the high-energy ones."""

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from mlpot import keys
from mlpot.analysis.learning import energy_split
from mlpot.data import Frames, read_frames, write_store
from mlpot.model.base import Potential
from mlpot.study.config import StudyConfig
from mlpot.study.data_efficiency import CURVE_FAMILIES
from mlpot.study.figures import FIGURES_DIR, generalisation_figure
from mlpot.study.runs import PlannedRun, trained_model
from mlpot.train.batches import labelled_graphs
from mlpot.train.evaluation import predict
from mlpot.train.metrics import error_metrics, in_mev

DATA_DIR = "data"


def split_paths(study: StudyConfig, molecule: str, output) -> Tuple[Path, Path]:
    """HDF5 stores of the low- and high-energy frames of the training file."""
    fraction = study.generalisation.fraction
    folder = Path(output) / DATA_DIR
    return (
        folder / f"{molecule}-lowest-{fraction:g}.h5",
        folder / f"{molecule}-highest-{1 - fraction:g}.h5",
    )


def write_split(study: StudyConfig, molecule: str, output) -> Tuple[Path, Path]:
    """Write the two stores of :func:`split_paths` unless they exist.

    The lowest ``generalisation.fraction`` of the training file's energies
    go to the first, the others to the second (`energy_split`).
    """
    low_path, high_path = split_paths(study, molecule, output)
    if not (low_path.is_file() and high_path.is_file()):
        data = study.molecules[molecule]
        frames = read_frames(data.train, energy_unit=data.energy_unit)
        low, high = energy_split(frames.energy, study.generalisation.fraction)
        write_store(low_path, frames.subset(low))
        write_store(high_path, frames.subset(high))
    return low_path, high_path


def ood_run(study: StudyConfig, molecule: str, family: str, output) -> PlannedRun:
    """The run of ``family`` on low-energy frames, tested on the high-energy ones."""
    settings = study.generalisation
    low_path, high_path = split_paths(study, molecule, output)
    return PlannedRun(
        molecule=molecule,
        name=f"ood-{family}-lowest-{settings.fraction:g}",
        family=family,
        train_file=str(low_path),
        test_file=str(high_path),
        energy_unit=None,  # the stores are in eV and say so
        n_train=settings.n_train,
        n_val=settings.n_val,
        seed=study.data_efficiency.seeds[0],
    )


def planned_runs(study: StudyConfig, molecule: str, output) -> List[PlannedRun]:
    """Write the energy split of ``molecule`` and plan one run per family."""
    write_split(study, molecule, output)
    return [ood_run(study, molecule, f, output) for f in CURVE_FAMILIES]


def analyse(study: StudyConfig, molecule: str, output) -> Dict:
    """Errors on high-energy frames against errors in distribution, and the figure.

    The in-distribution frames are those of the test file with an energy no
    higher than the highest training energy.

    Returns
    -------
    dict
        JSON-able: ``threshold_eV`` (highest energy of the low part),
        ``n_out_of_distribution``, ``n_in_distribution``, ``families``:
        family → ``in_distribution`` and ``out_of_distribution`` errors
        (meV, meV/Å; with ``energy_mean_error_meV``, the mean of predicted
        minus reference energy, an offset the MAE alone does not show), and
        ``figure``.
    """
    data = study.molecules[molecule]
    low_path, high_path = split_paths(study, molecule, output)
    threshold = float(read_frames(low_path).energy.max())
    high = read_frames(high_path)
    test = read_frames(data.test, energy_unit=data.energy_unit)
    in_distribution = test.subset(np.flatnonzero(test.energy <= threshold))
    if len(in_distribution) == 0:
        raise ValueError(
            f"no frame of {data.test} lies below the highest training energy of "
            "the out-of-distribution runs; raise generalisation.fraction"
        )
    families, predicted, signed_errors = {}, {}, {}
    for family in CURVE_FAMILIES:
        model = trained_model(ood_run(study, molecule, family, output), output)
        high_energy, high_errors = _predict_and_score(model, high)
        inside_energy, inside_errors = _predict_and_score(model, in_distribution)
        families[family] = {
            "in_distribution": inside_errors,
            "out_of_distribution": high_errors,
        }
        predicted[family] = high_energy
        signed_errors[family] = _signed_energy_errors(inside_energy, in_distribution)
    figure = Path(FIGURES_DIR) / f"generalisation_{molecule}.png"
    generalisation_figure(
        Path(output) / figure,
        molecule,
        high.energy,
        predicted,
        signed_errors,
        threshold,
    )
    return {
        "fraction": study.generalisation.fraction,
        "threshold_eV": threshold,
        "n_out_of_distribution": len(high),
        "n_in_distribution": len(in_distribution),
        "families": families,
        "figure": str(figure),
    }


def _predict_and_score(model: Potential, frames: Frames):
    """Predicted energies (F,) in eV, and the errors of :func:`analyse`.

    MAE/RMSE in meV and meV/Å, and the mean energy error in meV.
    """
    predicted = predict(model, labelled_graphs(frames, model.r_max))
    errors = error_metrics(
        predicted[keys.ENERGY],
        torch.as_tensor(frames.energy),
        torch.as_tensor(frames.n_atoms),
        predicted[keys.FORCES],
        torch.as_tensor(frames.forces),
    )
    energy = predicted[keys.ENERGY].numpy()
    errors = in_mev(errors)
    mean_error = _signed_energy_errors(energy, frames).mean()
    errors["energy_mean_error_meV"] = float(mean_error)
    return energy, errors


def _signed_energy_errors(energy: np.ndarray, frames: Frames) -> np.ndarray:
    """Predicted minus reference energy (F,) in meV, from energies (F,) in eV."""
    return (energy - frames.energy) * 1000
