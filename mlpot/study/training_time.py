"""Accuracy against training time: when does the equivariant model pull ahead?

The equivariant model costs more per epoch than the invariant one, so at an
equal budget the comparison depends on the budget. This section reads the
per-epoch validation errors (``metrics.csv``) of the largest learning-curve
runs, first seed, and reports each model's best validation force error so far
as training time goes on, and from when on the equivariant model stays ahead.
Time is counted on the clock of the study's budget (``train.budget_clock``):
CPU seconds of the training process, or wall seconds.
"""

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from mlpot.study.config import StudyConfig
from mlpot.study.data_efficiency import CURVE_FAMILIES, curve_run
from mlpot.study.figures import FIGURES_DIR, training_time_figure
from mlpot.study.runs import PlannedRun
from mlpot.train.bookkeeping import METRICS_FILE
from mlpot.train.records import read_metrics

BUDGET_FRACTIONS = (0.25, 0.5, 1.0)
VALIDATION_FORCES = "val_forces_mae_meV_per_A"


def best_so_far(times_s, errors, at_s) -> np.ndarray:
    """The lowest error reached by each time of ``at_s``.

    Parameters
    ----------
    times_s : array_like, shape (epochs,)
        Training time at the end of each epoch, s, increasing.
    errors : array_like, shape (epochs,)
        Validation error after each epoch.
    at_s : array_like, shape (K,)
        Times to read, s.

    Returns
    -------
    ndarray, shape (K,)
        ``inf`` before the first epoch has ended.
    """
    best = np.minimum.accumulate(np.asarray(errors, dtype=np.float64))
    index = np.searchsorted(np.asarray(times_s, dtype=np.float64), at_s, side="right")
    return np.where(index > 0, best[np.maximum(index - 1, 0)], np.inf)


def ahead_from(curve: Dict, other: Dict) -> Optional[float]:
    """Training time from which ``curve``'s best error stays below ``other``'s.

    Both are compared at every epoch end of either run, up to the later end;
    a run that stopped earlier keeps its best error.

    Parameters
    ----------
    curve, other : dict
        ``time_s`` and ``errors``, arrays of shape (epochs,).

    Returns
    -------
    float or None
        Seconds; None when ``curve`` is not ahead at the end.
    """
    grid = np.union1d(curve["time_s"], other["time_s"])
    ahead = best_so_far(curve["time_s"], curve["errors"], grid) < best_so_far(
        other["time_s"], other["errors"], grid
    )
    if not ahead[-1]:
        return None
    behind = np.flatnonzero(~ahead)
    return float(grid[0] if behind.size == 0 else grid[behind[-1] + 1])


def analysed_runs(study: StudyConfig, molecule: str) -> Dict[str, PlannedRun]:
    """Family → the learning-curve run on the most frames, with the first seed."""
    size = max(study.data_efficiency.sizes)
    seed = study.data_efficiency.seeds[0]
    return {f: curve_run(study, molecule, f, size, seed) for f in CURVE_FAMILIES}


def analyse(study: StudyConfig, molecule: str, output) -> Dict:
    """Validation force error against training time for both families.

    Parameters
    ----------
    study : StudyConfig
    molecule : str
    output : str or Path
        The study folder; the runs must have finished.

    Returns
    -------
    dict
        JSON-able: ``n_train``, ``seed``, ``clock`` (``"cpu"`` or
        ``"wall"``, the clock of every time in it), ``budget_s``; per family in
        ``families``: ``epochs``, ``seconds_per_epoch`` (median),
        ``best_val_forces_meV_per_A`` at each fraction of the budget
        (``BUDGET_FRACTIONS``, keys as strings; None before the first epoch
        has ended); ``equivariant_ahead_from_s``
        (None if the equivariant model is not ahead at the end); ``figure``,
        the PNG path relative to ``output``.
    """
    runs = analysed_runs(study, molecule)
    clock = study.train.get("budget_clock", "wall")
    curves = {}
    for family, run in runs.items():
        table = read_metrics(run.directory(output) / METRICS_FILE)
        time_s = table["cpu_s" if clock == "cpu" else "elapsed_s"]
        curves[family] = {
            "time_s": time_s,
            "errors": table[VALIDATION_FORCES],
            "epoch_s": np.diff(time_s, prepend=0.0)
            if clock == "cpu"
            else table["epoch_s"],
        }
    budget = study.train.get("max_time") or max(
        c["time_s"][-1] for c in curves.values()
    )
    families = {family: _summary(curve, budget) for family, curve in curves.items()}
    figure = Path(FIGURES_DIR) / f"training_time_{molecule}.png"
    best = {
        family: {
            "time_s": c["time_s"],
            "best": best_so_far(c["time_s"], c["errors"], c["time_s"]),
        }
        for family, c in curves.items()
    }
    size, seed = runs["equivariant"].n_train, runs["equivariant"].seed
    training_time_figure(Path(output) / figure, molecule, best, size, clock)
    return {
        "n_train": size,
        "seed": seed,
        "clock": clock,
        "budget_s": float(budget),
        "families": families,
        "equivariant_ahead_from_s": ahead_from(
            curves["equivariant"], curves["invariant"]
        ),
        "figure": str(figure),
    }


def _summary(curve: Dict, budget: float) -> Dict:
    """Epochs, median epoch time and best validation force MAE along the budget."""
    at = [fraction * budget for fraction in BUDGET_FRACTIONS]
    best = best_so_far(curve["time_s"], curve["errors"], at)
    return {
        "epochs": int(len(curve["time_s"])),
        "seconds_per_epoch": float(np.median(curve["epoch_s"])),
        "best_val_forces_meV_per_A": {
            f"{fraction:g}": float(value) if np.isfinite(value) else None
            for fraction, value in zip(BUDGET_FRACTIONS, best, strict=True)
        },
    }
