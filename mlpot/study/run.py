"""`run_study`: train every run of a study, analyse them, write figures and report.

The runs are trained one after the other in this process, or with ``jobs`` > 1
shared among worker processes of one thread each (`mlpot.study.parallel`).

The study folder holds::

    study.yaml     the config it was run with (a rerun must use the same)
    data/          energy-split stores of the generalisation runs
    runs/MOLECULE/RUN/   one mlpot-train run directory per training run
    figures/       PNG figures
    results.json   every number of the report
    report.md      findings, tables and figures

Data files are recorded by paths relative to the folder of the file that
records them (this folder; each run's ``config.yaml``: its run directory), so
the folder names no folder of this machine and can be moved with its data.
"""

import json
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from mlpot.fileio import atomic_path
from mlpot.model.io import read_checkpoint
from mlpot.study import (
    data_efficiency,
    generalisation,
    latent_geometry,
    original_protocol,
    symmetry,
    training_time,
)
from mlpot.study.config import StudyConfig, recorded_config
from mlpot.study.parallel import train_in_workers
from mlpot.study.report import write_report
from mlpot.study.runs import LOGGER, PlannedRun, train

CONFIG_FILE = "study.yaml"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
# Each part of a study: molecule → its results.
ANALYSE = {
    "data_efficiency": data_efficiency.analyse,
    "training_time": training_time.analyse,
    "generalisation": generalisation.analyse,
    "latent": latent_geometry.analyse,
    "symmetry": symmetry.analyse,
    "original_protocol": original_protocol.analyse,
}
# Parts that analyse the learning-curve runs.
CURVE_SECTIONS = {"data_efficiency", "training_time", "latent", "symmetry"}


def run_study(config: StudyConfig, output: Optional[str] = None, jobs: int = 1) -> Path:
    """Run the study ``config`` describes in ``output`` (default ``config.output``).

    Runs already finished in ``output`` are reused and interrupted ones
    resumed, so calling this again after an interruption continues the study.
    With ``jobs`` > 1 the training runs are shared among that many worker
    processes of one torch thread each (`mlpot.study.parallel`); each run's
    checkpoints are the same as with ``jobs=1``. The analysis then runs in
    this process.

    Parameters
    ----------
    config : StudyConfig
        The study, e.g. from :func:`mlpot.study.load_study_config`.
    output : str or Path, optional
        The study folder.
    jobs : int
        Training runs at a time, each in its own process with one thread;
        1 (the default) trains them one after the other in this process.

    Returns
    -------
    Path
        ``OUTPUT/report.md``.

    Raises
    ------
    mlpot.study.parallel.RunFailed
        With ``jobs`` > 1: a run failed in its worker (the error names the run).
    """
    from mlpot._version import __version__

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    output = Path(output or config.output)
    _claim(output, config)
    runs = planned_runs(config, output)
    if jobs > 1:
        train_in_workers(config, runs, output, jobs)
    else:
        for number, run in enumerate(runs, start=1):
            LOGGER.info("[%d/%d] %s/%s", number, len(runs), run.molecule, run.name)
            train(config, run, output)
    results = {
        "mlpot_version": __version__,
        "config": config.to_dict(relative_to=output),
        "training_time_s": sum(
            read_checkpoint(run.best_checkpoint(output))["metadata"]["training_time_s"]
            for run in runs
        ),
        "molecules": {},
    }
    for molecule in config.molecules:
        LOGGER.info("analysing %s", molecule)
        results["molecules"][molecule] = {
            section: ANALYSE[section](config, molecule, output)
            for section in config.sections
        }
    with atomic_path(output / RESULTS_FILE) as tmp:
        tmp.write_text(json.dumps(results, indent=1) + "\n")
    return write_report(results, output / REPORT_FILE)


def planned_runs(config: StudyConfig, output) -> List[PlannedRun]:
    """Every training run of the study, molecule by molecule.

    Only the runs of ``config.sections`` are planned. Writes the energy-split
    data files that the generalisation runs train and test on
    (`mlpot.study.generalisation.write_split`) if they are missing.
    """
    sections = set(config.sections)
    runs = []
    for molecule in config.molecules:
        if sections & CURVE_SECTIONS:
            runs += data_efficiency.planned_runs(config, molecule)
        if "generalisation" in sections:
            runs += generalisation.planned_runs(config, molecule, output)
        if "symmetry" in sections:
            runs += symmetry.planned_runs(config, molecule)
        if "original_protocol" in sections:
            runs += original_protocol.planned_runs(config, molecule)
    return runs


def _claim(output: Path, config: StudyConfig) -> None:
    """Record the config in ``output``, or check that it is the one recorded.

    The data paths are recorded relative to ``output``. A record with absolute
    ones (from older versions) is the same study; it is rewritten with
    relative paths.
    """
    path = output / CONFIG_FILE
    settings: Dict = config.to_dict(relative_to=output)
    if path.is_file():
        recorded = yaml.safe_load(path.read_text())
        _check_same_study(recorded, settings, path)
        if recorded == settings:
            return
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))


def _check_same_study(recorded, settings: Dict, path: Path) -> None:
    """Raise unless the config recorded at ``path`` is the one of ``settings``."""
    if isinstance(recorded, dict):
        recorded = recorded_config(recorded, path.parent)
    differing = _differences(recorded, settings)
    if differing:
        raise ValueError(
            f"'{path.parent}' holds a study run with another config ({path}: "
            f"{', '.join(differing)} differ); rerun it with that config, or "
            "choose another --output folder"
        )


def _differences(recorded, settings, prefix: str = "") -> List[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if not (isinstance(recorded, dict) and isinstance(settings, dict)):
        return [] if recorded == settings else [prefix.rstrip(".") or "the config"]
    keys = [*settings, *(key for key in recorded if key not in settings)]
    return [
        difference
        for key in keys
        for difference in _differences(
            recorded.get(key), settings.get(key), f"{prefix}{key}."
        )
    ]
