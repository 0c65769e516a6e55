"""The training loop: `fit` a run from its config, one epoch at a time, resumably.

A run directory holds::

    config.yaml   the resolved config (species, avg_num_neighbors; data paths relative
                  to the run directory, so that run and data can move together)
    best.ckpt     averaged weights with the best validation error (mlpot.load_model)
    last.ckpt     averaged weights after the latest epoch
    last.state    weights, average, optimiser, schedule and counters, for --resume
    metrics.csv   one row per epoch
    train.log     the log

Every file is replaced atomically at the end of each epoch, so a run can be
interrupted at any moment and resumed from its last completed epoch; with the
same seed the resumed run ends with the same weights and metrics, bit for bit,
as an uninterrupted one (shuffles are seeded per epoch, the models have no
dropout, and the order of operations is fixed).
"""

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from mlpot.data import Frames
from mlpot.graph import AtomicGraph
from mlpot.memory import reuse_large_allocations
from mlpot.model import ModelConfig, build_model
from mlpot.model.base import Potential
from mlpot.model.io import load_model, read_checkpoint, save_model
from mlpot.train.batches import (
    average_num_neighbours,
    epoch_batches,
    fixed_batches,
    labelled_graphs,
)
from mlpot.train.config import RunConfig, TrainConfig
from mlpot.train.config_files import CONFIG_FILE, relocatable, write_config
from mlpot.train.data import RunData, load_run_data
from mlpot.train.distributed import Workers, start_workers, stop_workers
from mlpot.train.ema import WeightAverage
from mlpot.train.epoch import train_one_epoch
from mlpot.train.evaluation import evaluate
from mlpot.train.losses import loss_from_errors
from mlpot.train.metrics import in_mev
from mlpot.train.normalisation import fit_normalisation
from mlpot.train.optim import (
    continue_schedule,
    make_optimizer,
    make_scheduler,
    step_scheduler,
)
from mlpot.train.provenance import data_sha256, run_metadata
from mlpot.train.records import LOGGER, MetricsTable, close_log, open_log
from mlpot.train.state import Progress, restore_training_state, save_training_state

BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
STATE_FILE = "last.state"
METRICS_FILE = "metrics.csv"
LOG_FILE = "train.log"
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass
class _Run:
    """Everything one run works with."""

    config: RunConfig
    run_dir: Path
    data: RunData
    train_graphs: List[AtomicGraph]
    val_batches: List[AtomicGraph]
    model: Potential
    average: WeightAverage
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler
    progress: Progress
    table: Optional[MetricsTable]
    metadata: Dict[str, Any]
    workers: Workers

    @property
    def settings(self) -> TrainConfig:
        return self.config.train


def fit(
    config: RunConfig, resume: bool = False, command: Optional[Sequence[str]] = None
) -> Path:
    """Train a model as ``config`` says; return the path of the best checkpoint.

    Parameters
    ----------
    config : RunConfig
        The run; ``config.output`` is the run directory.
    resume : bool
        Continue the run in ``config.output`` from its ``last.state``
        (use :func:`mlpot.train.config.load_resume_config` to read its config).
        A new run (``resume=False``) refuses a directory that already holds one.
    command : sequence of str, optional
        The command line, recorded in the checkpoints.

    Returns
    -------
    Path
        ``RUN_DIR/best.ckpt``: the averaged weights with the lowest validation
        ``train.monitor``, with data provenance, split and final validation
        (and test) errors in its metadata.
    """
    reuse_large_allocations()
    workers = start_workers()
    run_dir = Path(config.output)
    exists = (run_dir / CONFIG_FILE).exists()
    workers.barrier()
    if not resume and exists:
        raise FileExistsError(
            f"'{run_dir}' already holds a run; continue it with "
            f"`mlpot-train --resume {run_dir}` or choose another output directory"
        )
    handler = None
    if workers.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        handler = open_log(run_dir / LOG_FILE)
    try:
        run = _start(config, run_dir, resume, command, workers)
        _train(run)
        return _finish(run)
    except KeyboardInterrupt:
        LOGGER.warning("interrupted; continue with `mlpot-train --resume %s`", run_dir)
        raise
    except Exception as error:
        LOGGER.error("stopped by an error: %s", error)
        raise
    finally:
        if handler is not None:
            close_log(handler)
        stop_workers(workers)


def _start(config: RunConfig, run_dir: Path, resume: bool, command, workers) -> _Run:
    settings = config.train
    dtype = DTYPES[settings.dtype]
    data = load_run_data(config.data, settings.seed)
    model_settings = dict(config.model)
    r_max = model_settings.get("r_max", ModelConfig.r_max)
    train_graphs = labelled_graphs(data.train, r_max, dtype)
    model_config = _model_config(model_settings, data, train_graphs)
    config = _resolved(config, model_config, run_dir)
    if workers.is_main:
        write_config(relocatable(config, run_dir), run_dir / CONFIG_FILE)

    torch.manual_seed(settings.seed)
    model = build_model(model_config).to(dtype)
    fit_normalisation(model, data.train)
    average = WeightAverage(model, settings.ema_decay)
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings)
    progress = Progress()
    state_path = run_dir / STATE_FILE
    resuming = resume and state_path.is_file()
    if resuming:
        progress = restore_training_state(
            state_path, model, average, optimizer, scheduler, data_sha256(data)
        )
        continue_schedule(scheduler)
        LOGGER.info("resuming %s after epoch %d", run_dir, progress.epoch)
    else:
        LOGGER.info("starting %s (%s)", run_dir, _describe(data, model_config))
    return _Run(
        config=config,
        run_dir=run_dir,
        data=data,
        train_graphs=train_graphs,
        val_batches=fixed_batches(
            labelled_graphs(data.val, r_max, dtype), settings.batch_size
        ),
        model=model,
        average=average,
        optimizer=optimizer,
        scheduler=scheduler,
        progress=progress,
        table=MetricsTable(run_dir / METRICS_FILE, progress.epoch if resuming else None)
        if workers.is_main
        else None,
        metadata=run_metadata(config, data, model, command),
        workers=workers,
    )


def _model_config(settings: Dict[str, Any], data: RunData, train_graphs) -> ModelConfig:
    """Fill ``species`` and ``avg_num_neighbors`` from the data where not given."""
    if settings.get("species") is None:
        settings["species"] = data.species()
    missing = sorted(set(data.species()) - set(settings["species"]))
    if missing:
        raise ValueError(
            f"model.species {settings['species']} lacks atomic numbers {missing} found "
            "in the training data; add them, or leave model.species out to take it "
            "from the data"
        )
    if settings.get("avg_num_neighbors") is None:
        settings["avg_num_neighbors"] = average_num_neighbours(train_graphs)
    return ModelConfig.from_dict(settings)


def _resolved(config: RunConfig, model_config: ModelConfig, run_dir: Path) -> RunConfig:
    """The config as run: complete model settings and absolute paths."""
    data = config.data
    return replace(
        config,
        data=replace(
            data,
            train=str(Path(data.train).resolve()),
            test=str(Path(data.test).resolve()) if data.test else None,
        ),
        model=model_config.to_dict(),
        output=str(run_dir.resolve()),
    )


def _describe(data: RunData, model_config: ModelConfig) -> str:
    test = f", {len(data.test)} test" if data.test is not None else ""
    return (
        f"{len(data.train)} training, {len(data.val)} validation{test} frames; "
        f"{model_config.name} model, species {model_config.species}, "
        f"avg_num_neighbors {model_config.avg_num_neighbors:.3f}"
    )


def _train(run: _Run) -> None:
    """Run epochs until a stopping criterion holds."""
    settings = run.settings
    bar = tqdm(
        total=settings.max_epochs,
        initial=min(run.progress.epoch, settings.max_epochs),
        unit="epoch",
        desc="mlpot-train",
        disable=settings.quiet or not run.workers.is_main,
        dynamic_ncols=True,
    )
    try:
        while stop_reason(run.progress, settings) is None:
            row = _epoch(run)
            bar.set_postfix(
                val_E_meV=f"{row['val_energy_mae_meV']:.3g}",
                val_F_meV_A=f"{row['val_forces_mae_meV_per_A']:.3g}",
                lr=f"{row['lr']:.2g}",
                refresh=False,
            )
            bar.update(1)
    finally:
        bar.close()


def stop_reason(progress: Progress, settings: TrainConfig) -> Optional[str]:
    """Why the run stops now.

    Returns
    -------
    str or None
        ``"max_epochs"``, ``"max_time"``, ``"early_stopping"``, or None to go on.
    """
    if progress.epoch >= settings.max_epochs:
        return "max_epochs"
    if settings.max_time is not None and progress.elapsed_s >= settings.max_time:
        return "max_time"
    patience = settings.early_stopping_patience
    if patience is not None and progress.epochs_without_improvement >= patience:
        return "early_stopping"
    return None


def _epoch(run: _Run) -> Dict[str, float]:
    """Train one epoch, validate, record it and save checkpoints and state."""
    settings, progress = run.settings, run.progress
    started = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    batches = epoch_batches(
        run.train_graphs,
        settings.batch_size,
        settings.seed,
        progress.epoch,
        run.workers,
        augment_rotations=settings.augment_rotations,
    )
    train = train_one_epoch(
        run.model, run.average, run.optimizer, batches, settings, run.workers
    )
    if not math.isfinite(train["loss"]):
        raise ValueError(
            f"training diverged in epoch {progress.epoch + 1} (the loss is "
            f"{train['loss']}); start again with a lower train.lr or train.grad_clip"
        )
    val = evaluate(run.average.model, run.val_batches, batch_size=1)
    val["loss"] = _loss(val, settings, run.model)
    monitored = val[settings.monitor]
    step_scheduler(run.scheduler, monitored)
    progress.epoch += 1
    improved = monitored < progress.best_metric
    if improved:
        progress.best_metric, progress.best_epoch = monitored, progress.epoch
        progress.epochs_without_improvement = 0
    else:
        progress.epochs_without_improvement += 1
    # All workers must agree on the time budget, so they take the slowest clock.
    seconds = run.workers.max(time.perf_counter() - started)
    progress.elapsed_s += seconds
    row = _metrics_row(progress, lr, train, val, seconds)
    if not run.workers.is_main:
        return row
    run.table.append(row)
    metadata = _checkpoint_metadata(run, {"val": _reported(val)})
    if improved:
        save_model(run.average.model, run.run_dir / BEST_CHECKPOINT, metadata)
    save_training_state(
        run.run_dir / STATE_FILE,
        progress,
        run.model,
        run.average,
        run.optimizer,
        run.scheduler,
        data_sha256(run.data),
    )
    save_model(run.average.model, run.run_dir / LAST_CHECKPOINT, metadata)
    LOGGER.info(
        "epoch %d lr %.3g train loss %.4g | val E MAE %.4g meV, F MAE %.4g meV/Å%s",
        progress.epoch,
        lr,
        train["loss"],
        row["val_energy_mae_meV"],
        row["val_forces_mae_meV_per_A"],
        " (best)" if improved else "",
    )
    return row


def _loss(errors: Dict[str, float], settings: TrainConfig, model: Potential) -> float:
    return loss_from_errors(
        errors,
        settings.energy_weight,
        settings.forces_weight,
        float(model.energy_scale),
    )


def _reported(errors: Dict[str, float]) -> Dict[str, float]:
    """Errors in meV and meV/Å plus the dimensionless loss."""
    reported = in_mev({k: v for k, v in errors.items() if k != "loss"})
    reported["loss"] = errors["loss"]
    return reported


def _metrics_row(progress, lr, train, val, seconds) -> Dict[str, float]:
    row = {"epoch": progress.epoch, "lr": lr}
    for split, errors in (("train", train), ("val", val)):
        row.update({f"{split}_{k}": v for k, v in _reported(errors).items()})
    row.update(epoch_s=seconds, elapsed_s=progress.elapsed_s)
    return row


def _finish(run: _Run) -> Path:
    """Evaluate the best weights on validation (and test) data; record the results."""
    reason = stop_reason(run.progress, run.settings)
    dtype = DTYPES[run.settings.dtype]
    best_path = run.run_dir / BEST_CHECKPOINT
    if not run.workers.is_main:
        return best_path
    best = load_model(best_path, dtype=dtype)
    final = {"val": _final_errors(best, run, run.data.val)}
    if run.data.test is not None:
        final["test"] = _final_errors(best, run, run.data.test)
    save_model(
        best,
        best_path,
        _checkpoint_metadata(
            run, final, epoch=run.progress.best_epoch, stopped_because=reason
        ),
    )
    last_path = run.run_dir / LAST_CHECKPOINT
    last = dict(read_checkpoint(last_path)["metadata"], stopped_because=reason)
    save_model(run.average.model, last_path, last)
    LOGGER.info(
        "stopped (%s) after %d epochs, %.1f s; best epoch %d: %s",
        reason,
        run.progress.epoch,
        run.progress.elapsed_s,
        run.progress.best_epoch,
        final,
    )
    return best_path


def _final_errors(model: Potential, run: _Run, frames: Frames) -> Dict[str, float]:
    graphs = labelled_graphs(frames, model.r_max, DTYPES[run.settings.dtype])
    errors = evaluate(model, graphs, run.settings.batch_size)
    errors["loss"] = _loss(errors, run.settings, model)
    return _reported(errors)


def _checkpoint_metadata(
    run: _Run, metrics: Dict[str, Dict[str, float]], epoch=None, stopped_because=None
) -> Dict[str, Any]:
    progress = run.progress
    return {
        **run.metadata,
        "epoch": progress.epoch if epoch is None else epoch,
        "epochs_run": progress.epoch,
        "best_epoch": progress.best_epoch,
        "training_time_s": progress.elapsed_s,
        "stopped_because": stopped_because,
        "metrics": metrics,
    }
