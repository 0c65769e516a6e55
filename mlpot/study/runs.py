"""The training runs of a study: one `mlpot.train.fit` run directory each.

A run that has finished (its ``best.ckpt`` records why it stopped) is not
trained again; one that was interrupted is resumed from its last completed
epoch, so an interrupted study continues where it stopped.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from mlpot.model.base import Potential
from mlpot.model.io import load_model, read_checkpoint
from mlpot.study.config import StudyConfig
from mlpot.train import RunConfig, fit
from mlpot.train.bookkeeping import BEST_CHECKPOINT
from mlpot.train.config_files import CONFIG_FILE

LOGGER = logging.getLogger("mlpot.study")


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a study.

    Attributes
    ----------
    molecule : str
        Molecule name (a key of the study's ``molecules``).
    name : str
        Folder name of the run, unique per molecule.
    family : str
        Model family (``"equivariant"``, ``"invariant"``, ``"cartesian"``).
    train_file, test_file : str
        Data files (``test_file`` may be None).
    energy_unit : str, optional
        Energy unit of the files.
    n_train, n_val : int
        Training and validation frames.
    seed : int
        Seed of the split, initialisation and shuffles.
    augment_rotations : bool
        Train with random rotations of every structure.
    train_settings : tuple of (str, value)
        Train settings of this run over the study's and the family's.
    """

    molecule: str
    name: str
    family: str
    train_file: str
    test_file: Optional[str]
    energy_unit: Optional[str]
    n_train: int
    n_val: int
    seed: int
    augment_rotations: bool = False
    train_settings: Tuple[Tuple[str, Any], ...] = ()

    def directory(self, output) -> Path:
        """The run directory, ``OUTPUT/runs/MOLECULE/NAME``."""
        return Path(output) / "runs" / self.molecule / self.name

    def best_checkpoint(self, output) -> Path:
        """``best.ckpt`` of the run."""
        return self.directory(output) / BEST_CHECKPOINT


def run_config(study: StudyConfig, run: PlannedRun, output) -> RunConfig:
    """The `RunConfig` of a planned run: the study's family and train settings."""
    family = study.families[run.family]
    return RunConfig.from_dict(
        {
            "data": {
                "train": run.train_file,
                "test": run.test_file,
                "n_train": run.n_train,
                "n_val": run.n_val,
                "energy_unit": run.energy_unit,
            },
            "model": {**family.model, "name": run.family},
            "train": {
                **study.train,
                **family.train,
                "seed": run.seed,
                "augment_rotations": run.augment_rotations,
                **dict(run.train_settings),
                "quiet": True,
            },
            "output": str(run.directory(output)),
        }
    )


def run_numbers(plan: List[PlannedRun]) -> Dict[Tuple[str, str], int]:
    """(molecule, name) → the run's place in ``plan``, from 1, for log lines."""
    return {(run.molecule, run.name): n for n, run in enumerate(plan, start=1)}


def is_finished(run_dir) -> bool:
    """Whether the run in ``run_dir`` has ended (its best checkpoint says why)."""
    best = Path(run_dir) / BEST_CHECKPOINT
    if not best.is_file():
        return False
    return read_checkpoint(best)["metadata"].get("stopped_because") is not None


def train(study: StudyConfig, run: PlannedRun, output) -> Path:
    """Train ``run`` unless it has finished; resume it if it was interrupted.

    Logs one line when the run has ended (`RunOutcome.message`).

    Returns
    -------
    Path
        The run's ``best.ckpt``.
    """
    outcome = train_run(study, run, output)
    LOGGER.info("%s", outcome.message())
    return outcome.best


@dataclass(frozen=True)
class RunOutcome:
    """How a training run ended (picklable: worker processes return it).

    Attributes
    ----------
    run : PlannedRun
        The run.
    best : Path
        Its ``best.ckpt``.
    how : str
        ``"finished earlier"``, ``"trained"`` or ``"resumed and finished"``.
    seconds : float
        Wall time of this call.
    test : dict, optional
        Test-file errors recorded in ``best`` (meV, meV/Å).
    """

    run: PlannedRun
    best: Path
    how: str
    seconds: float
    test: Optional[Dict[str, Any]]

    def message(self) -> str:
        """The log line, e.g. ``ethanol/invariant-n10-seed1: trained in 2.1 s; ...``."""
        name = f"{self.run.molecule}/{self.run.name}"
        if self.how == "finished earlier":
            return f"{name}: finished earlier"
        test = (
            ""
            if self.test is None
            else f"; test energy MAE {self.test['energy_mae_meV']:.3g} meV, "
            f"force MAE {self.test['forces_mae_meV_per_A']:.3g} meV/Å"
        )
        return f"{name}: {self.how} in {self.seconds:.1f} s{test}"


def train_run(study: StudyConfig, run: PlannedRun, output) -> RunOutcome:
    """`train` without logging: train, resume or reuse ``run``; say how it ended."""
    run_dir = run.directory(output)
    if is_finished(run_dir):
        return RunOutcome(
            run, run.best_checkpoint(output), "finished earlier", 0.0, None
        )
    resume = (run_dir / CONFIG_FILE).is_file()
    started = time.perf_counter()
    best = fit(run_config(study, run, output), resume=resume, command=["mlpot-study"])
    return RunOutcome(
        run,
        best,
        "resumed and finished" if resume else "trained",
        time.perf_counter() - started,
        recorded_test_errors(best),
    )


def recorded_test_errors(best_checkpoint) -> Optional[Dict[str, Any]]:
    """Test-file errors (meV, meV/Å) recorded in a finished run's best checkpoint."""
    return read_checkpoint(best_checkpoint)["metadata"]["metrics"].get("test")


def trained_model(run: PlannedRun, output) -> Potential:
    """The best model of a finished run, in float64."""
    return load_model(run.best_checkpoint(output))
