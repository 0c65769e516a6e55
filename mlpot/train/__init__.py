"""Training: YAML config, the loop (EMA, schedules, resume) and evaluation."""

from mlpot.train.config import DataConfig, RunConfig, TrainConfig
from mlpot.train.config_files import load_config, load_resume_config
from mlpot.train.epoch import train_one_epoch
from mlpot.train.evaluation import evaluate, predict
from mlpot.train.loop import fit

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
