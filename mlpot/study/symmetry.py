"""Symmetry: equivariance errors of every model, and what breaking it costs."""

import copy
from pathlib import Path
from typing import Dict, List

from mlpot.analysis.stability import langevin_bond_check
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.calculator import MLPotCalculator
from mlpot.data import read_frames
from mlpot.dtypes import TORCH_DTYPES
from mlpot.study.config import StudyConfig
from mlpot.study.data_efficiency import CURVE_FAMILIES, curve_run
from mlpot.study.figures import FIGURES_DIR, symmetry_figure
from mlpot.study.runs import PlannedRun, recorded_test_errors, trained_model

# Contrast models: label -> train with random rotations?
CARTESIAN_MODELS = {"cartesian": False, "cartesian-augmented": True}


def cartesian_run(study: StudyConfig, molecule: str, label: str) -> PlannedRun:
    """The cartesian contrast run ``label`` (a key of :data:`CARTESIAN_MODELS`)."""
    data = study.molecules[molecule]
    settings = study.symmetry
    return PlannedRun(
        molecule=molecule,
        name=f"{label}-n{settings.n_train}",
        family="cartesian",
        train_file=data.train,
        test_file=data.test,
        energy_unit=data.energy_unit,
        n_train=settings.n_train,
        n_val=study.data_efficiency.n_val,
        seed=study.data_efficiency.seeds[0],
        augment_rotations=CARTESIAN_MODELS[label],
    )


def planned_runs(study: StudyConfig, molecule: str) -> List[PlannedRun]:
    """The cartesian runs of ``molecule``, without and with augmentation."""
    return [cartesian_run(study, molecule, label) for label in CARTESIAN_MODELS]


def compared_runs(study: StudyConfig, molecule: str) -> Dict[str, PlannedRun]:
    """Label → run of every model compared: curve models and cartesian ones."""
    n_train, seed = study.symmetry.n_train, study.data_efficiency.seeds[0]
    runs = {f: curve_run(study, molecule, f, n_train, seed) for f in CURVE_FAMILIES}
    runs.update({m: cartesian_run(study, molecule, m) for m in CARTESIAN_MODELS})
    return runs


def analyse(study: StudyConfig, molecule: str, output) -> Dict:
    """Equivariance errors in float32 and float64, test errors and MD stability.

    The structure is the first frame of the test file; the equivariance
    check is :func:`mlpot.analysis.symmetry.equivariance_errors` and the MD
    check :func:`mlpot.analysis.stability.langevin_bond_check`.

    Returns
    -------
    dict
        JSON-able: ``models``: label → ``equivariance``: dtype name →
        ``energy_meV`` and ``forces_meV_per_A`` (largest change over the
        trials); ``test_energy_mae_meV``, ``test_forces_mae_meV_per_A``;
        ``md``: ``intact``, ``max_relative_deviation`` (or ``error``);
        and ``figure``.
    """
    settings = study.symmetry
    data = study.molecules[molecule]
    atoms = read_frames(data.test, energy_unit=data.energy_unit).to_atoms(0)
    models = {}
    for label, run in compared_runs(study, molecule).items():
        model = trained_model(run, output)
        test = recorded_test_errors(run.best_checkpoint(output))
        models[label] = {
            "equivariance": {
                name: _equivariance(model, atoms, dtype, settings.trials)
                for name, dtype in TORCH_DTYPES.items()
            },
            "test_energy_mae_meV": test["energy_mae_meV"],
            "test_forces_mae_meV_per_A": test["forces_mae_meV_per_A"],
            "md": _md_check(model, atoms, settings),
        }
    figure = Path(FIGURES_DIR) / f"symmetry_{molecule}.png"
    symmetry_figure(Path(output) / figure, molecule, models)
    return {"models": models, "figure": str(figure)}


def _equivariance(model, atoms, dtype, trials) -> Dict[str, float]:
    errors = equivariance_errors(
        copy.deepcopy(model).to(dtype), atoms, ntrials=trials, dtype=dtype
    )
    return {
        "energy_meV": errors["energy"] * 1000,
        "forces_meV_per_A": errors["forces"] * 1000,
    }


def _md_check(model, atoms, settings) -> Dict:
    try:
        result = langevin_bond_check(
            atoms,
            MLPotCalculator(model),
            temperature_K=settings.md_temperature_K,
            duration_ps=settings.md_duration_ps,
            timestep_fs=settings.md_timestep_fs,
        )
    except ValueError as error:  # e.g. atoms blown to NaN positions
        return {"intact": False, "max_relative_deviation": None, "error": str(error)}
    return {
        "intact": result["intact"],
        "max_relative_deviation": result["max_relative_deviation"],
    }
