"""`run_study`: train every run of a study, analyse them, write figures and report.

The runs are trained one after the other in this process, or with ``jobs`` > 1
shared among worker processes of one thread each (`mlpot.study.parallel`).

The study folder holds::

    study.yaml     the config it was run with (a rerun must use the same)
    data/          energy-split stores of the generalisation runs
    runs/MOLECULE/RUN/   one mlpot-train run directory per training run
    figures/       PNG figures
    results.json   every number of the report, recorded run by run and
                   section by section
    report.md      findings, tables and figures

Data files are recorded by paths relative to the folder of the file that
records them (this folder; each run's ``config.yaml``: its run directory), so
the folder names no folder of this machine and can be moved with its data.
"""

import json
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

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
from mlpot.study.runs import (
    LOGGER,
    PlannedRun,
    is_finished,
    run_numbers,
    train,
)

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
# Sections whose analysis reads no more of a run than its recorded test errors:
# their runs recorded in results.json are not trained again.
RECORDED_ERRORS_SUFFICE = ("data_efficiency",)


def run_study(config: StudyConfig, output: Optional[str] = None, jobs: int = 1) -> Path:
    """Run the study ``config`` describes in ``output`` (default ``config.output``).

    The study goes molecule by molecule and, for each, section by section (in
    the order of ``config.sections``): it trains the runs the section needs,
    analyses them and records the section's results in ``results.json`` at
    once. Each run is recorded there too as it finishes (its training time and
    test errors). Sections already recorded (by a run of this config) are not
    trained or analysed again, nor are the learning-curve runs recorded
    (`RECORDED_ERRORS_SUFFICE`); runs already finished in ``output`` are
    reused and interrupted ones resumed. So calling this again after an
    interruption continues the study, even on a machine that kept
    ``results.json`` and the figures but not the run folders, and a section
    of many runs can be finished over several such calls. To train
    everything again, give another ``output``.

    With ``jobs`` > 1 the training runs of a section are shared among that
    many worker processes of one torch thread each
    (`mlpot.study.parallel`); each run's checkpoints are the same as with
    ``jobs=1``. The analysis runs in this process.

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
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    output = Path(output or config.output)
    _claim(output, config)
    results = recorded_results(config, output)
    todo = [
        (molecule, section)
        for molecule, parts in results["molecules"].items()
        for section in config.sections
        if section not in parts
    ]
    for molecule, parts in results["molecules"].items():
        for section in parts:
            LOGGER.info("%s: %s: recorded earlier", molecule, section)
    plan = _unique([run for key in todo for run in section_runs(config, *key, output)])
    numbers = run_numbers(plan)
    handled = set()
    record = partial(_record_run, results, output)
    for molecule, section in todo:
        runs = section_runs(config, molecule, section, output)
        recorded = _recorded_runs(results, runs, output, section)
        for run in recorded:
            LOGGER.info(
                "[%d/%d] %s/%s: test errors recorded earlier",
                numbers[_key(run)],
                len(plan),
                *_key(run),
            )
        to_train = [r for r in runs if _key(r) not in handled and r not in recorded]
        _train(config, to_train, plan, output, jobs, record)
        handled.update(_key(run) for run in to_train)
        LOGGER.info("analysing %s: %s", molecule, section)
        analyse = ANALYSE[section]
        if section in RECORDED_ERRORS_SUFFICE:
            analyse = partial(analyse, test_errors=results["run_test_errors"])
        parts = results["molecules"][molecule]
        parts[section] = analyse(config, molecule, output)
        results["molecules"][molecule] = {
            name: parts[name] for name in config.sections if name in parts
        }
        for run in runs:
            if run not in recorded:
                record(run, write=False)
        _write_results(results, output)
    if not todo:
        _write_results(results, output)
    return write_report(results, output / REPORT_FILE)


def recorded_results(config: StudyConfig, output) -> Dict:
    """The results of ``config`` recorded in ``OUTPUT/results.json``, or none yet.

    Returns the results dict that `run_study` records, with ``molecules``
    holding every molecule of ``config`` (in its order) and, for each, the
    sections of ``config.sections`` recorded earlier, and the runs recorded
    earlier (``run_training_time_s`` and ``run_test_errors``, by
    ``MOLECULE/NAME``). A ``results.json`` of
    another config, or from a version that did not record each run's training
    time, is not used (its runs are, when they are still in ``output``).
    """
    from mlpot._version import __version__

    settings = config.to_dict(relative_to=output)
    path = Path(output) / RESULTS_FILE
    try:
        recorded = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not a study's results file ({error}); move it away to "
            "analyse every section again"
        ) from error
    usable = (
        "run_training_time_s" in recorded
        and recorded_config(recorded.get("config", {}), output) == settings
    )
    if recorded and not usable:
        LOGGER.info(
            "%s was written for another config or by an older version; "
            "its sections are analysed again",
            path,
        )
    previous = recorded.get("molecules", {}) if usable else {}
    return {
        "mlpot_version": __version__,
        "config": settings,
        "training_time_s": 0.0,
        "run_training_time_s": dict(recorded["run_training_time_s"]) if usable else {},
        "run_test_errors": dict(recorded.get("run_test_errors", {})) if usable else {},
        "molecules": {
            molecule: {
                section: previous[molecule][section]
                for section in config.sections
                if section in previous.get(molecule, {})
            }
            for molecule in config.molecules
        },
    }


def section_runs(
    config: StudyConfig, molecule: str, section: str, output
) -> List[PlannedRun]:
    """The training runs that ``section`` of ``molecule`` analyses.

    Writes the energy-split data files that the generalisation runs train and
    test on (`mlpot.study.generalisation.write_split`) if they are missing.
    """
    if section == "data_efficiency":
        return data_efficiency.planned_runs(config, molecule)
    if section == "generalisation":
        return generalisation.planned_runs(config, molecule, output)
    if section == "original_protocol":
        return original_protocol.planned_runs(config, molecule)
    analysed = {
        "training_time": training_time.analysed_runs,
        "latent": latent_geometry.analysed_runs,
        "symmetry": symmetry.compared_runs,
    }
    return list(analysed[section](config, molecule).values())


def planned_runs(config: StudyConfig, output) -> List[PlannedRun]:
    """Every training run of the study, molecule by molecule.

    Only the runs of ``config.sections`` are planned, each once, in the order
    of `ANALYSE` within a molecule.
    """
    return _unique(
        [
            run
            for molecule in config.molecules
            for section in ANALYSE
            if section in config.sections
            for run in section_runs(config, molecule, section, output)
        ]
    )


def _train(
    config: StudyConfig,
    runs: List[PlannedRun],
    plan: List[PlannedRun],
    output,
    jobs,
    finished: Callable[[PlannedRun], None],
) -> None:
    """Train ``runs`` (numbered by their place in ``plan``) in ``jobs`` processes.

    ``finished(run)`` is called in this process as each run ends.
    """
    if jobs > 1:
        train_in_workers(config, runs, output, jobs, plan=plan, finished=finished)
        return
    numbers = run_numbers(plan)
    for run in runs:
        LOGGER.info(
            "[%d/%d] %s/%s", numbers[_key(run)], len(plan), run.molecule, run.name
        )
        train(config, run, output)
        finished(run)


def _recorded_runs(
    results: Dict, runs: List[PlannedRun], output, section: str
) -> List[PlannedRun]:
    """The runs of ``section`` that need not be trained: their results suffice.

    Those are, in a section of `RECORDED_ERRORS_SUFFICE`, the runs whose test
    errors are recorded and whose folder holds no finished run (one that
    does is reused as it is).
    """
    if section not in RECORDED_ERRORS_SUFFICE:
        return []
    return [
        run
        for run in runs
        if "/".join(_key(run)) in results["run_test_errors"]
        and "/".join(_key(run)) in results["run_training_time_s"]
        and not is_finished(run.directory(output))
    ]


def _record_run(results: Dict, output: Path, run: PlannedRun, write=True) -> None:
    """Record a finished run's training time and test errors in ``results``.

    With ``write``, ``results.json`` is written at once, so a run that ended
    is not trained again after an interruption of its section.
    """
    best = read_checkpoint(run.best_checkpoint(output))
    key = "/".join(_key(run))
    results["run_training_time_s"][key] = best["metadata"]["training_time_s"]
    results["run_test_errors"][key] = best["metadata"]["metrics"].get("test")
    if write:
        _write_results(results, output)


def _write_results(results: Dict, output: Path) -> None:
    """Write ``results.json`` atomically, its total training time summed."""
    results["training_time_s"] = sum(results["run_training_time_s"].values())
    with atomic_path(output / RESULTS_FILE) as tmp:
        tmp.write_text(json.dumps(results, indent=1) + "\n")


def _key(run: PlannedRun) -> Tuple[str, str]:
    return run.molecule, run.name


def _unique(runs: List[PlannedRun]) -> List[PlannedRun]:
    """``runs`` without repeats (the learning-curve runs serve four sections)."""
    seen = set()
    unique = []
    for run in runs:
        if _key(run) not in seen:
            seen.add(_key(run))
            unique.append(run)
    return unique


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
