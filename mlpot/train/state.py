"""What a run needs to resume (counters, weights, optimiser, schedule): ``last.state``.

The file is a plain dict of tensors and JSON-able values, written atomically
with ``torch.save`` and read with ``torch.load(weights_only=True)``. It is
written at the end of every epoch, before ``last.ckpt``, and is what
``mlpot-train --resume`` reads.
"""

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional

import torch

from mlpot.fileio import atomic_path
from mlpot.train.config_files import RESUME_OVERRIDES, config_changes

STATE_FORMAT = "mlpot-train-state"
STATE_VERSION = 1


@dataclass
class Progress:
    """Counters of a run.

    Attributes
    ----------
    epoch : int
        Completed epochs.
    best_metric : float
        Best validation value of the monitored quantity so far.
    best_epoch : int
        Epoch (1-based) that reached ``best_metric``; 0 before the first.
    epochs_without_improvement : int
        Epochs since ``best_epoch``.
    elapsed_s : float
        Training time in wall-clock seconds, summed over resumes.
    cpu_s : float
        CPU seconds of the training process(es) spent in epochs, summed over
        resumes (the slowest worker's under data-parallel training).
    """

    epoch: int = 0
    best_metric: float = math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0

    def budget_used(self, clock: str) -> float:
        """Seconds spent on ``clock`` (``"wall"`` or ``"cpu"``)."""
        return self.cpu_s if clock == "cpu" else self.elapsed_s


def save_training_state(
    path, progress: Progress, model, average, optimizer, scheduler, data_sha256, config
) -> Path:
    """Write everything a resumed run needs to ``path`` (atomically).

    Parameters
    ----------
    path : str or Path
        Destination, conventionally ``RUN_DIR/last.state``.
    progress : Progress
    model : Potential
        The model being trained (raw weights).
    average : WeightAverage
        The moving average of the weights.
    optimizer : torch.optim.Optimizer
    scheduler : torch.optim.lr_scheduler.LRScheduler
    data_sha256 : dict
        sha256 of the data files, checked when resuming.
    config : dict
        The run's config as written to ``config.yaml``, checked when resuming.

    Returns
    -------
    Path
    """
    payload = {
        "format": STATE_FORMAT,
        "format_version": STATE_VERSION,
        "progress": asdict(progress),
        "model": model.state_dict(),
        "average": average.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "data_sha256": dict(data_sha256),
        "config": config,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def restore_training_state(
    path,
    model,
    average,
    optimizer,
    scheduler,
    data_sha256: Dict[str, Optional[str]],
    config: Dict,
) -> Progress:
    """Load ``path`` into the given objects and return the run's counters.

    Parameters
    ----------
    config : dict
        The config the run is resumed with (as written to ``config.yaml``);
        it must equal the one stored in the state, but for the settings that
        may change on resume.

    Raises
    ------
    ValueError
        The file is not a training state or is damaged, the data files
        changed since it was written, or the config was edited.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for damaged files
        raise ValueError(
            f"'{path}' could not be read ({type(error).__name__}); it is damaged: "
            "start the run again in a new output directory"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        raise ValueError(f"'{path}' is not an mlpot training state")
    if payload["format_version"] > STATE_VERSION:
        raise ValueError(
            f"'{path}' was written by a newer mlpot; upgrade mlpot to resume"
        )
    # A state saved before its files had checksums (None) resumes on any file.
    saved = {k: v for k, v in payload["data_sha256"].items() if v is not None}
    if saved != {k: v for k, v in dict(data_sha256).items() if k in saved}:
        raise ValueError(
            f"the data files changed since the run was saved (sha256 then "
            f"{payload['data_sha256']}, now {dict(data_sha256)}); resuming needs the "
            "same files: restore them or start a new run"
        )
    if payload.get("config") is not None:  # states of older runs have none
        changes = config_changes(payload["config"], config)
        if changes:
            raise ValueError(
                f"the config of the run in '{Path(path).parent}' changed since the "
                f"run started ({'; '.join(changes)}); a resumed run continues with "
                "its own settings: undo the edit of config.yaml, or start a new run "
                f"to change them (when resuming, --set may change only "
                f"{', '.join(RESUME_OVERRIDES)})"
            )
    try:
        progress = Progress(**payload["progress"])
        model.load_state_dict(payload["model"])
        average.load_state_dict(payload["average"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"'{path}' does not fit the run's model and optimiser "
            f"({type(error).__name__}: {str(error).splitlines()[0]}); it is damaged "
            "or from another run: start the run again in a new output directory"
        ) from None
    return progress
