"""Data efficiency: learning curves of the equivariant and invariant models."""

from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np

from mlpot.analysis.learning import fit_power_law
from mlpot.study.config import StudyConfig
from mlpot.study.figures import FIGURES_DIR, learning_curve_figure
from mlpot.study.runs import PlannedRun, recorded_test_errors

CURVE_FAMILIES = ("equivariant", "invariant")
ERROR_KEYS = {"energy": "energy_mae_meV", "forces": "forces_mae_meV_per_A"}


def curve_run(
    study: StudyConfig, molecule: str, family: str, size: int, seed: int
) -> PlannedRun:
    """The learning-curve run of ``family`` on ``size`` frames with ``seed``."""
    data = study.molecules[molecule]
    return PlannedRun(
        molecule=molecule,
        name=f"{family}-n{size}-seed{seed}",
        family=family,
        train_file=data.train,
        test_file=data.test,
        energy_unit=data.energy_unit,
        n_train=size,
        n_val=study.data_efficiency.n_val,
        seed=seed,
    )


def planned_runs(study: StudyConfig, molecule: str) -> List[PlannedRun]:
    """Every learning-curve run of ``molecule``: families × sizes × their seeds."""
    settings = study.data_efficiency
    return [
        curve_run(study, molecule, family, size, seed)
        for family in CURVE_FAMILIES
        for size in settings.sizes
        for seed in settings.seeds_at(size)
    ]


def analyse(
    study: StudyConfig,
    molecule: str,
    output,
    test_errors: Optional[Mapping[str, Dict]] = None,
) -> Dict:
    """Test errors per size and seed, fitted log-log slopes, and the figure.

    Parameters
    ----------
    study : StudyConfig
    molecule : str
    output : str or Path
        The study folder; the runs must have finished.
    test_errors : mapping, optional
        ``MOLECULE/NAME`` → test errors recorded earlier (as
        `recorded_test_errors` returns them); a run found there need not be
        in ``output``, the others are read from their best checkpoints.

    Returns
    -------
    dict
        JSON-able: ``sizes``; ``curves``: per family ``energy`` and
        ``forces`` test MAEs in meV and meV/Å, one list per size with a value
        per seed of that size (``DataEfficiency.seeds_at``), and ``slopes``
        (``slope`` and ``prefactor`` per quantity); ``figure``, the PNG path
        relative to ``output``.
    """
    settings = study.data_efficiency
    sizes = sorted(set(settings.sizes))

    test_errors = test_errors or {}

    def recorded(family, size, seed):
        run = curve_run(study, molecule, family, size, seed)
        errors = test_errors.get(f"{run.molecule}/{run.name}")
        return errors or recorded_test_errors(run.best_checkpoint(output))

    curves = {}
    for family in CURVE_FAMILIES:
        errors = [[recorded(family, n, s) for s in settings.seeds_at(n)] for n in sizes]
        curve = {
            quantity: [[e[key] for e in row] for row in errors]
            for quantity, key in ERROR_KEYS.items()
        }
        curve["slopes"] = {
            quantity: _fit(sizes, curve[quantity]) for quantity in ERROR_KEYS
        }
        curves[family] = {"sizes": sizes, **curve}
    figure = Path(FIGURES_DIR) / f"learning_curves_{molecule}.png"
    learning_curve_figure(Path(output) / figure, molecule, curves)
    return {"sizes": sizes, "curves": curves, "figure": str(figure)}


def _fit(sizes, errors) -> Dict[str, float]:
    """Power-law fit through the seeds' mean error at every size.

    Fitting the means keeps the sizes with more seeds from weighing more.
    """
    means = np.array([np.mean(row) for row in errors], dtype=np.float64)
    slope, prefactor = fit_power_law(np.asarray(sizes, dtype=np.float64), means)
    return {"slope": slope, "prefactor": prefactor}
