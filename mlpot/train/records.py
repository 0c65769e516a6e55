"""The per-epoch ``metrics.csv`` and the log file of a run."""

import csv
import logging
from pathlib import Path
from typing import Dict, List

import numpy as np

from mlpot.fileio import atomic_path
from mlpot.train.metrics import ERROR_NAMES, in_mev

LOGGER = logging.getLogger("mlpot.train")


def metrics_columns() -> List[str]:
    """Column names of ``metrics.csv``: errors in meV and meV/Å, lr, seconds.

    ``epoch_s`` and ``elapsed_s`` are wall-clock seconds (of the epoch, and
    since the run started); ``cpu_s`` is the run's CPU seconds so far.
    """
    errors = list(in_mev(dict.fromkeys(ERROR_NAMES, 0.0)))
    columns = ["epoch", "lr"]
    for split in ("train", "val"):
        columns += [f"{split}_loss"] + [f"{split}_{name}" for name in errors]
    return columns + ["epoch_s", "elapsed_s", "cpu_s"]


class MetricsTable:
    """``metrics.csv``: one row per completed epoch, appended as the run goes.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    keep_epochs : int, optional
        When resuming, the number of epochs the run has completed: rows of
        later epochs (written before an interruption but not covered by the
        saved state) are dropped. ``None`` starts a new file.
    """

    def __init__(self, path, keep_epochs=None):
        self.path = Path(path)
        self.columns = metrics_columns()
        rows = []
        if keep_epochs is not None and self.path.is_file():
            with open(self.path, newline="") as handle:
                rows = [
                    r for r in csv.DictReader(handle) if int(r["epoch"]) <= keep_epochs
                ]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: Dict[str, float]) -> None:
        """Append one epoch's values (keys of :func:`metrics_columns`)."""
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.columns).writerow(
                {key: repr(value) for key, value in row.items()}
            )


def read_metrics(path) -> Dict[str, np.ndarray]:
    """The columns of a run's ``metrics.csv`` as float64 arrays, one value per epoch.

    Parameters
    ----------
    path : str or Path
        The CSV file written by :class:`MetricsTable`.

    Returns
    -------
    dict
        Column name (see :func:`metrics_columns`) → array of shape (epochs,).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no metrics table at '{path}'; has the run started?")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"'{path}' holds no completed epoch yet")
    return {
        column: np.array(
            [float(row[column] or "nan") for row in rows], dtype=np.float64
        )
        for column in rows[0]
    }


def open_log(path) -> logging.Handler:
    """Send the ``mlpot.train`` log (INFO and above) to ``path``, appending.

    Returns
    -------
    logging.Handler
        Pass it to :func:`close_log` when the run ends.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    return handler


def close_log(handler: logging.Handler) -> None:
    """Detach and close a handler made by :func:`open_log`."""
    LOGGER.removeHandler(handler)
    handler.close()
