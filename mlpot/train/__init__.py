"""Training: YAML config, the loop (EMA, schedules, resume) and evaluation."""

from mlpot.train.config import (
    DataConfig,
    RunConfig,
    TrainConfig,
    load_config,
    load_resume_config,
)
from mlpot.train.evaluation import evaluate, predict
from mlpot.train.loop import fit, train_one_epoch

__all__ = [
    "DataConfig",
    "RunConfig",
    "TrainConfig",
    "evaluate",
    "fit",
    "load_config",
    "load_resume_config",
    "predict",
    "train_one_epoch",
]
