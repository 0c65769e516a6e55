"""The optimiser and the learning-rate schedule of a run."""

import math

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from mlpot.train.config import TrainConfig

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def make_optimizer(
    model: torch.nn.Module, config: TrainConfig
) -> torch.optim.Optimizer:
    """Adam or AdamW over the model's trainable parameters (not those frozen)."""
    return OPTIMIZERS[config.optimizer](
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> LRScheduler:
    """The learning-rate schedule named by ``config.scheduler``.

    ``"plateau"`` multiplies the rate by ``plateau_factor`` after
    ``plateau_patience`` validations without improvement, down to ``min_lr``.
    ``"cosine"`` decays it from ``lr`` at epoch 0 to ``min_lr`` at
    ``max_epochs`` along half a cosine; the schedule is a function of the epoch
    and ``max_epochs``, so resuming with a larger ``max_epochs`` stretches the
    rest of it. ``"budget_cosine"`` is set before each epoch by
    :func:`budget_cosine_lr` (the returned schedule leaves the rate alone).
    """
    if config.scheduler == "budget_cosine":
        return LambdaLR(optimizer, lambda epoch: 1.0)
    if config.scheduler == "plateau":
        return ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_lr,
        )
    floor = config.min_lr / config.lr

    def cosine_factor(epoch: int) -> float:
        progress = min(epoch, config.max_epochs) / config.max_epochs
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, cosine_factor)


def budget_cosine_lr(config: TrainConfig, fraction: float, epoch: int) -> float:
    """The ``budget_cosine`` learning rate for the next epoch.

    Parameters
    ----------
    config : TrainConfig
        ``lr``, ``min_lr`` and ``warmup_epochs``.
    fraction : float
        Share of the run's budget spent so far, in [0, 1]
        (:func:`mlpot.train.loop.budget_fraction`).
    epoch : int
        Epochs completed.
    """
    cosine = config.min_lr + (config.lr - config.min_lr) * 0.5 * (
        1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0))
    )
    if epoch < config.warmup_epochs:
        cosine *= (epoch + 1) / (config.warmup_epochs + 1)
    return cosine


def step_scheduler(scheduler: LRScheduler, monitored: float) -> None:
    """Advance the schedule by one epoch; ``monitored`` is the validation quantity."""
    if isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()


def continue_schedule(scheduler: LRScheduler) -> None:
    """Set the learning rate a restored schedule gives at its current epoch.

    Needed after loading the state of a cosine schedule whose ``max_epochs``
    changed; for an unchanged schedule it sets the rate it already has.
    """
    if isinstance(scheduler, LambdaLR):
        for group, base, factor in zip(
            scheduler.optimizer.param_groups,
            scheduler.base_lrs,
            scheduler.lr_lambdas,
            strict=True,
        ):
            group["lr"] = base * factor(scheduler.last_epoch)
