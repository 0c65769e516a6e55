"""The training loop: `fit` a run from its config, one epoch at a time, resumably.

This module holds the optimisation (start, epochs, validation, schedule,
stopping); what a run writes to disk is in :mod:`mlpot.train.bookkeeping`.
Every file is replaced atomically at the end of each epoch, so a run can be
interrupted at any moment and resumed from its last completed epoch; with the
same seed the resumed run ends with the same weights and metrics, bit for bit,
as an uninterrupted one (shuffles are seeded per epoch, the models have no
dropout, and the order of operations is fixed).
"""

import math
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from ase.data import chemical_symbols
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from mlpot.domain import training_domain
from mlpot.dtypes import TORCH_DTYPES
from mlpot.fileio import exclusive_lock
from mlpot.graph import AtomicGraph
from mlpot.memory import reuse_large_allocations
from mlpot.model import ModelConfig, build_model
from mlpot.model.base import Potential
from mlpot.model.io import CheckpointError, load_model, read_checkpoint
from mlpot.train.batches import (
    average_num_neighbours,
    epoch_batches,
    fixed_batches,
    labelled_graphs,
    min_edge_length,
)
from mlpot.train.bookkeeping import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    LOCK_FILE,
    LOG_FILE,
    METRICS_FILE,
    STATE_FILE,
    RunRecords,
    metrics_row,
    reported,
)
from mlpot.train.config import RunConfig, TrainConfig
from mlpot.train.config_files import CONFIG_FILE, relocatable, write_config
from mlpot.train.data import RunData, load_run_data
from mlpot.train.distributed import Workers, start_workers, stop_workers
from mlpot.train.ema import WeightAverage
from mlpot.train.epoch import train_one_epoch
from mlpot.train.evaluation import evaluate
from mlpot.train.finetune import (
    find_pretrained,
    finetune_settings,
    freeze,
    start_from_pretrained,
)
from mlpot.train.losses import describe_loss, loss_from_errors
from mlpot.train.normalisation import fit_normalisation
from mlpot.train.optim import (
    budget_cosine_lr,
    continue_schedule,
    make_optimizer,
    make_scheduler,
    step_scheduler,
)
from mlpot.train.provenance import data_sha256, run_metadata
from mlpot.train.records import LOGGER, close_log, open_log
from mlpot.train.reference_energies import e0s_origin, portable_e0s, resolve_e0s
from mlpot.train.state import Progress, restore_training_state


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
    records: Optional[RunRecords]
    data_sha256: Dict[str, Optional[str]]
    workers: Workers

    @property
    def settings(self) -> TrainConfig:
        return self.config.train


BAR_STEPS = 1000


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
        A new run (``resume=False``) refuses a directory that already holds one,
        and a resume refuses a directory whose ``last.state`` is lost. The
        directory is locked (``run.lock``) while the run lasts, so a second
        ``mlpot-train`` into it is refused.
    command : sequence of str, optional
        The command line, recorded in the checkpoints.

    Returns
    -------
    Path
        ``RUN_DIR/best.ckpt``: the averaged weights with the lowest validation
        ``train.monitor``, with data provenance, split and final validation
        (and test) errors in its metadata; for ``train.committee_size`` > 1
        the committee's folder (see :mod:`mlpot.train.committee`).
    """
    if config.train.committee_size > 1:
        from mlpot.train.committee import fit_committee

        return fit_committee(config, resume, command)
    reuse_large_allocations()
    workers = start_workers()
    run_dir = Path(config.output)
    with ExitStack() as held:
        if workers.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            took_over = held.enter_context(
                exclusive_lock(run_dir / LOCK_FILE, f"the run directory '{run_dir}'")
            )
        workers.barrier()
        check_run_dir(run_dir, resume)
        workers.barrier()
        handler = None
        if workers.is_main:
            handler = open_log(run_dir / LOG_FILE)
            if took_over:
                LOGGER.warning(took_over)
            threads_note = cpu_budget_threads_note(config.train)
            if threads_note:
                LOGGER.warning(threads_note)
        try:
            run = _start(config, run_dir, resume, command, workers)
            _train(run)
            return _finish(run)
        except KeyboardInterrupt:
            LOGGER.warning(
                "interrupted; continue with `mlpot-train --resume %s`", run_dir
            )
            raise
        except Exception as error:
            LOGGER.error("stopped by an error: %s", error)
            raise
        finally:
            if handler is not None:
                close_log(handler)
            stop_workers(workers)


def cpu_budget_threads_note(settings: TrainConfig) -> Optional[str]:
    """A warning when a CPU-time budget is spent on more than one torch thread.

    Process CPU time adds up the time of every thread, waiting included, so
    a CPU budget compares runs only at the same thread count, and the
    recipes that count CPU time were measured at one thread.
    """
    threads = torch.get_num_threads()
    if settings.budget_clock != "cpu" or settings.max_time is None or threads == 1:
        return None
    return (
        f"train.budget_clock is 'cpu' and torch uses {threads} threads: the "
        "budget counts the CPU time of all of them, so the run compares only "
        "with runs at the same thread count; run with OMP_NUM_THREADS=1 to "
        "spend it as the recipes in training/README.md were measured"
    )


def check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse a new run over an old one, and a resume that would start over.

    Raises
    ------
    FileExistsError
        A new run (``resume=False``) into a directory that holds a run.
    FileNotFoundError
        ``resume`` of a directory whose ``last.state`` is missing while its
        checkpoints or metrics record more than one completed epoch: starting
        again would overwrite them.
    """
    if not resume:
        if (run_dir / CONFIG_FILE).exists():
            raise FileExistsError(
                f"'{run_dir}' already holds a run; continue it with "
                f"`mlpot-train --resume {run_dir}` or choose another output directory"
            )
        return
    if (run_dir / STATE_FILE).is_file():
        return
    # The state is written every epoch, after best.ckpt and the metrics row; a
    # run killed in between in its first epoch has them without a state, and
    # starts again. More than one epoch's records mean the state was lost.
    epochs = _epochs_recorded(run_dir)
    if epochs > 1:
        raise FileNotFoundError(
            f"'{run_dir / STATE_FILE}' is missing, so the run in '{run_dir}' cannot "
            f"continue; its records show {epochs} completed epochs, and resuming "
            "would start it again over its checkpoints and metrics. Restore "
            f"{STATE_FILE} (e.g. from a backup), or start a new run in another "
            "output directory"
        )


def _epochs_recorded(run_dir: Path) -> int:
    """Completed epochs that a run's metrics table and checkpoints record."""
    counts = [0]
    metrics = run_dir / METRICS_FILE
    if metrics.is_file():
        counts.append(len(metrics.read_text().splitlines()) - 1)
    for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
        if (run_dir / name).is_file():
            try:
                counts.append(
                    int(read_checkpoint(run_dir / name)["metadata"]["epochs_run"])
                )
            except (CheckpointError, KeyError, TypeError, ValueError):
                counts.append(2)  # unreadable: do not write over it
    return max(counts)


def _start(config: RunConfig, run_dir: Path, resume: bool, command, workers) -> _Run:
    settings = config.train
    dtype = TORCH_DTYPES[settings.dtype]
    e0s_setting = config.data.E0s
    data = load_run_data(config.data, settings.seed, settings.forces_weight > 0)
    needs_forces = settings.monitor == "forces_mae" or (
        settings.monitor == "loss" and settings.forces_weight > 0
    )
    if data.val.forces is None and needs_forces:
        raise ValueError(
            f"the validation frames ({config.data.val or config.data.train}) have no "
            f"forces, so train.monitor: {settings.monitor} cannot be measured; set "
            "train.monitor: energy_mae"
        )
    model_settings = dict(config.model)
    pretrained = None
    finetune_source = model_settings.pop("finetune_from", None)
    if finetune_source is not None:
        pretrained = find_pretrained(finetune_source)
        model_settings = finetune_settings(pretrained, model_settings, data.species())
    r_max = model_settings.get("r_max", ModelConfig.r_max)
    train_graphs = labelled_graphs(data.train, r_max, dtype)
    model_config = _model_config(model_settings, data, train_graphs, config.data.E0s)
    config = _resolved(config, model_config, run_dir, finetune_source)
    as_written = relocatable(config, run_dir)
    if workers.is_main:
        write_config(as_written, run_dir / CONFIG_FILE)

    torch.manual_seed(settings.seed + settings.committee_member)
    model = build_model(model_config).to(dtype)
    e0s, e0s_record = resolve_e0s(
        e0s_setting,
        model_config.species,
        data.train,
        config.data.energy_unit,
        config.data.energy_key,
    )
    fit_normalisation(model, data.train, e0s)
    if pretrained is not None:
        start_from_pretrained(model, pretrained, keep_reference=e0s_setting is None)
        if e0s_setting is None:
            shift = model.atomic_energy_shift.tolist()
            e0s_record = dict(
                e0s_record,
                source=f"the pretrained model ({finetune_source})",
                eV={
                    chemical_symbols[z]: v
                    for z, v in zip(model_config.species, shift, strict=True)
                },
            )
    freeze(model, settings.freeze)
    average = WeightAverage(model, settings.ema_decay)
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings)
    progress = Progress()
    state_path = run_dir / STATE_FILE
    sha = data_sha256(data)
    resuming = resume and state_path.is_file()
    summary = _describe(data, model, config, e0s_record["source"])
    if resuming:
        progress = restore_training_state(
            state_path,
            model,
            average,
            optimizer,
            scheduler,
            sha,
            as_written.to_dict(),
        )
        continue_schedule(scheduler)
        LOGGER.info("resuming %s after epoch %d", run_dir, progress.epoch)
    else:
        LOGGER.info("starting %s", run_dir)
    LOGGER.info(summary)
    if workers.is_main and not settings.quiet:
        print(
            f"mlpot-train: {'resuming' if resuming else 'starting'} {run_dir}"
            + (f" after epoch {progress.epoch}" if resuming else "")
            + "\n"
            + summary,
            file=sys.stderr,
            flush=True,
        )
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
        records=RunRecords(
            run_dir,
            run_metadata(
                config,
                data,
                model,
                command,
                training_domain(data.train, min_edge_length(train_graphs)),
                e0s_record,
                pretrained.provenance() if pretrained is not None else None,
            ),
            settings.budget_clock,
            as_written.to_dict(),
            progress.epoch if resuming else None,
        )
        if workers.is_main
        else None,
        data_sha256=sha,
        workers=workers,
    )


def _model_config(
    settings: Dict[str, Any], data: RunData, train_graphs, e0s=None
) -> ModelConfig:
    """Fill ``species`` and ``avg_num_neighbors`` from the data where not given."""
    if settings.get("species") is None:
        settings["species"] = data.species()
    extra = sorted(set(settings["species"]) - set(data.species()))
    if extra:
        raise ValueError(
            f"model.species {settings['species']} has atomic numbers {extra} that no "
            "training frame contains; a model cannot learn elements it has never "
            "seen, and its calculator would accept them. Remove them, or leave "
            "model.species out to take it from the data"
        )
    missing = sorted(set(data.species()) - set(settings["species"]))
    if missing:
        raise ValueError(
            f"model.species {settings['species']} lacks atomic numbers {missing} found "
            "in the training data; add them, or leave model.species out to take it "
            "from the data"
        )
    if settings.get("atom_reference") is None:
        # Isolated-atom energies define what a lone atom's energy must be.
        explicit = isinstance(e0s, (dict, str)) and e0s not in ("fit", "average")
        settings["atom_reference"] = explicit
    if settings.get("avg_num_neighbors") is None:
        settings["avg_num_neighbors"] = average_num_neighbours(train_graphs)
    return ModelConfig.from_dict(settings)


def _resolved(
    config: RunConfig, model_config: ModelConfig, run_dir: Path, finetune_from=None
) -> RunConfig:
    """The config as run: complete model settings and absolute paths."""
    data = config.data
    model = model_config.to_dict()
    if finetune_from is not None:
        model["finetune_from"] = finetune_from
    return replace(
        config,
        data=replace(
            data,
            E0s=portable_e0s(data.E0s, data.energy_key),
            train=str(Path(data.train).resolve()),
            val=str(Path(data.val).resolve()) if data.val else None,
            test=str(Path(data.test).resolve()) if data.test else None,
        ),
        model=model,
        output=str(run_dir.resolve()),
    )


def _describe(data: RunData, model: Potential, config: RunConfig, e0s: str) -> str:
    """What is trained on what, in a few lines (units, sizes, budget, loss)."""
    model_config, settings = model.config, config.train
    train = data.provenance["train"]
    test = f", {len(data.test)} test frames" if data.test is not None else ""
    symbols = " ".join(chemical_symbols[z] for z in model_config.species)
    shift = ", ".join(
        f"{chemical_symbols[z]} {e:.4g}"
        for z, e in zip(
            model_config.species, model.atomic_energy_shift.tolist(), strict=True
        )
    )
    budget = f"at most {settings.max_epochs} epochs"
    if settings.max_time is not None:
        budget += (
            f" or {settings.max_time / 3600:.3g} h of "
            f"{'CPU' if settings.budget_clock == 'cpu' else 'wall-clock'} time"
        )
    parameters = sum(p.numel() for p in model.parameters())
    return (
        f"  model: {model_config.name}, {parameters:,} parameters, species "
        f"{symbols}, r_max {model_config.r_max:g} Å, avg_num_neighbors "
        f"{model_config.avg_num_neighbors:.3f}\n"
        f"  data: {len(data.train)} training and {len(data.val)} validation frames "
        f"of {train['file']}{test}; read as {train['energy_unit']} and "
        f"{train['force_unit']}, trained in eV and eV/Å\n"
        f"  reference energies E0 (eV; {e0s_origin(e0s)}): {shift}\n"
        f"  budget: {budget}; {settings.dtype}, batch {settings.batch_size}, "
        f"lr {settings.lr:g}\n"
        "  loss: "
        + describe_loss(
            settings.loss,
            settings.huber_delta,
            settings.energy_weight,
            settings.forces_weight,
            settings.energy_loss,
        )
    )


def budget_fraction(progress: Progress, settings: TrainConfig) -> float:
    """The share of the run's budget spent: epochs or time, whichever is further."""
    fractions = [progress.epoch / settings.max_epochs]
    if settings.max_time is not None:
        used = progress.budget_used(settings.budget_clock)
        fractions.append(used / settings.max_time)
    return min(1.0, max(fractions))


def _train(run: _Run) -> None:
    """Run epochs until a stopping criterion holds."""
    settings = run.settings
    # The bar counts the budget in per cent, so that its end and its estimate
    # of the time left follow whichever limit (epochs or time) ends the run.
    bar = tqdm(
        total=BAR_STEPS,
        initial=round(BAR_STEPS * budget_fraction(run.progress, settings)),
        desc="mlpot-train",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
        disable=settings.quiet or not run.workers.is_main,
        dynamic_ncols=True,
    )
    try:
        while stop_reason(run.progress, settings) is None:
            row = _epoch(run)
            bar.set_postfix(
                epoch=run.progress.epoch,
                val_E_meV=f"{row['val_energy_mae_meV']:.3g}",
                val_F_meV_A=f"{row['val_forces_mae_meV_per_A']:.3g}",
                lr=f"{row['lr']:.2g}",
                refresh=False,
            )
            bar.update(
                round(BAR_STEPS * budget_fraction(run.progress, settings)) - bar.n
            )
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
    if (
        settings.max_time is not None
        and progress.budget_used(settings.budget_clock) >= settings.max_time
    ):
        return "max_time"
    patience = settings.early_stopping_patience
    if patience is not None and progress.epochs_without_improvement >= patience:
        return "early_stopping"
    return None


def _epoch(run: _Run) -> Dict[str, float]:
    """Train one epoch, validate, record it and save checkpoints and state."""
    settings, progress = run.settings, run.progress
    started, cpu_started = time.perf_counter(), time.process_time()
    if settings.scheduler == "budget_cosine":
        rate = budget_cosine_lr(
            settings, budget_fraction(progress, settings), progress.epoch
        )
        for group in run.optimizer.param_groups:
            group["lr"] = rate
    lr = run.optimizer.param_groups[0]["lr"]
    batches = epoch_batches(
        run.train_graphs,
        settings.batch_size,
        settings.seed + settings.committee_member,
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
    progress.cpu_s += run.workers.max(time.process_time() - cpu_started)
    row = metrics_row(progress, lr, train, val, seconds)
    if run.workers.is_main:
        run.records.record_epoch(
            progress,
            row,
            val,
            improved,
            run.model,
            run.average,
            run.optimizer,
            run.scheduler,
            run.data_sha256,
        )
    return row


def _loss(errors: Dict[str, float], settings: TrainConfig, model: Potential) -> float:
    return loss_from_errors(
        errors,
        settings.energy_weight,
        settings.forces_weight,
        float(model.energy_scale),
        settings.energy_loss,
    )


def _finish(run: _Run) -> Path:
    """Evaluate the best weights on validation (and test) data; record the results."""
    reason = stop_reason(run.progress, run.settings)
    dtype = TORCH_DTYPES[run.settings.dtype]
    best_path = run.run_dir / BEST_CHECKPOINT
    if not run.workers.is_main:
        return best_path
    best = load_model(best_path, dtype=dtype)
    # The validation batches are already batched: one batch per step.
    final = {"val": _final_errors(best, run, run.val_batches, batch_size=1)}
    if run.data.test is not None:
        test_graphs = labelled_graphs(run.data.test, best.r_max, dtype)
        final["test"] = _final_errors(best, run, test_graphs, run.settings.batch_size)
    run.records.record_finish(run.progress, best, run.average.model, final, reason)
    return best_path


def _final_errors(model: Potential, run: _Run, graphs, batch_size) -> Dict[str, float]:
    errors = evaluate(model, graphs, batch_size)
    errors["loss"] = _loss(errors, run.settings, model)
    return reported(errors)
