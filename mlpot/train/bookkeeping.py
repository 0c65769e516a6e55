"""What a run leaves on disk after each epoch and at its end.

A run directory holds::

    config.yaml   the resolved config (species, avg_num_neighbors; data paths relative
                  to the run directory, so that run and data can move together)
    best.ckpt     averaged weights with the best validation error (mlpot.load_model)
    last.ckpt     averaged weights after the latest epoch
    last.state    weights, average, optimiser, schedule and counters, for --resume
    metrics.csv   one row per epoch
    train.log     the log
    run.lock      held (flock) by the process training the run, with its pid

Every file is replaced atomically, so a run can be interrupted at any moment
and resumed from its last completed epoch.
"""

from pathlib import Path
from typing import Any, Dict, Optional

from mlpot.model.io import read_checkpoint, save_model
from mlpot.train.metrics import in_mev
from mlpot.train.records import LOGGER, MetricsTable
from mlpot.train.state import Progress, save_training_state

BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
STATE_FILE = "last.state"
METRICS_FILE = "metrics.csv"
LOG_FILE = "train.log"
LOCK_FILE = "run.lock"


def reported(errors: Dict[str, float]) -> Dict[str, float]:
    """Errors in meV and meV/Å plus the dimensionless loss."""
    out = in_mev({k: v for k, v in errors.items() if k != "loss"})
    out["loss"] = errors["loss"]
    return out


def metrics_row(progress: Progress, lr, train, val, seconds) -> Dict[str, float]:
    """One row of ``metrics.csv`` for the epoch just completed."""
    row = {"epoch": progress.epoch, "lr": lr}
    for split, errors in (("train", train), ("val", val)):
        row.update({f"{split}_{k}": v for k, v in reported(errors).items()})
    row.update(epoch_s=seconds, elapsed_s=progress.elapsed_s, cpu_s=progress.cpu_s)
    return row


class RunRecords:
    """Checkpoints, training state, metrics table and log lines of one run.

    Parameters
    ----------
    run_dir : Path
        The run directory.
    metadata : dict
        Provenance stored in every checkpoint (data, split, config, machine).
    budget_clock : str
        The clock of the run's time budget, recorded in the checkpoints.
    config : dict
        The run's config as in ``config.yaml``, stored in the training state.
    keep_epochs : int, optional
        When resuming, the epochs completed (later rows of ``metrics.csv``
        are dropped); ``None`` starts a new table.
    """

    def __init__(
        self,
        run_dir: Path,
        metadata: Dict[str, Any],
        budget_clock: str,
        config: Dict[str, Any],
        keep_epochs: Optional[int],
    ):
        self.run_dir = Path(run_dir)
        self.metadata = metadata
        self.budget_clock = budget_clock
        self.config = config
        self.table = MetricsTable(self.run_dir / METRICS_FILE, keep_epochs)

    def checkpoint_metadata(
        self,
        progress: Progress,
        metrics: Dict[str, Dict[str, float]],
        epoch=None,
        stopped_because=None,
    ) -> Dict[str, Any]:
        """Provenance plus the run's counters and ``metrics`` for a checkpoint."""
        return {
            **self.metadata,
            "epoch": progress.epoch if epoch is None else epoch,
            "epochs_run": progress.epoch,
            "best_epoch": progress.best_epoch,
            "training_time_s": progress.elapsed_s,
            "training_cpu_s": progress.cpu_s,
            "budget_clock": self.budget_clock,
            "stopped_because": stopped_because,
            "metrics": metrics,
        }

    def record_epoch(
        self, progress, row, val, improved, model, average, optimizer, scheduler, sha
    ) -> None:
        """Append ``row``, save best/last checkpoints and the state, log the epoch."""
        self.table.append(row)
        metadata = self.checkpoint_metadata(progress, {"val": reported(val)})
        if improved:
            save_model(average.model, self.run_dir / BEST_CHECKPOINT, metadata)
        save_training_state(
            self.run_dir / STATE_FILE,
            progress,
            model,
            average,
            optimizer,
            scheduler,
            sha,
            self.config,
        )
        save_model(average.model, self.run_dir / LAST_CHECKPOINT, metadata)
        LOGGER.info(
            "epoch %d lr %.3g train loss %.4g | val E MAE %.4g meV, F MAE %.4g meV/Å%s",
            progress.epoch,
            row["lr"],
            row["train_loss"],
            row["val_energy_mae_meV"],
            row["val_forces_mae_meV_per_A"],
            " (best)" if improved else "",
        )

    def record_finish(self, progress, best, average_model, final, reason) -> None:
        """Final errors into ``best.ckpt``; the stop reason into both checkpoints."""
        best_path = self.run_dir / BEST_CHECKPOINT
        save_model(
            best,
            best_path,
            self.checkpoint_metadata(
                progress, final, epoch=progress.best_epoch, stopped_because=reason
            ),
        )
        last_path = self.run_dir / LAST_CHECKPOINT
        last = dict(read_checkpoint(last_path)["metadata"], stopped_because=reason)
        save_model(average_model, last_path, last)
        LOGGER.info(
            "stopped (%s) after %d epochs, %.1f s; best epoch %d: %s",
            reason,
            progress.epoch,
            progress.elapsed_s,
            progress.best_epoch,
            final,
        )
