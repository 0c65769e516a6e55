"""Training a committee: several members of one recipe in one run directory.

``train.committee_size: N`` trains members ``member-0`` … ``member-{N-1}``
one after another, each a complete, resumable run in its own folder, with
the same split and its own initialisation and shuffles
(``train.committee_member``). When all have finished, ``committee.json``
names their best checkpoints, and the run directory opens as a committee
(`mlpot.load_calculator`, `mlpot.model.committee.load_committee`).
Resuming the run directory resumes the member that was interrupted and
starts those not begun.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from mlpot.fileio import atomic_path
from mlpot.model.committee import COMMITTEE_FILE, COMMITTEE_FORMAT, COMMITTEE_VERSION
from mlpot.train.config import RunConfig
from mlpot.train.config_files import (
    CONFIG_FILE,
    config_changes,
    relocatable,
    write_config,
)
from mlpot.train.records import LOGGER


def member_dir(run_dir, k: int) -> Path:
    """The folder of committee member ``k``."""
    return Path(run_dir) / f"member-{k}"


def fit_committee(
    config: RunConfig, resume: bool = False, command: Optional[Sequence[str]] = None
) -> Path:
    """Train every member of the committee ``config`` describes; return its folder.

    Parameters
    ----------
    config : RunConfig
        With ``train.committee_size`` > 1; ``output`` is the committee's folder.
    resume : bool
        Continue a committee run: finished members are kept, an interrupted
        one resumes, the others start.
    command : sequence of str, optional
        The command line, recorded in the members' checkpoints.
    """
    from mlpot.train.loop import check_run_dir, fit

    run_dir = Path(config.output)
    check_run_dir(run_dir, resume)
    if not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(relocatable(_absolute(config), run_dir), run_dir / CONFIG_FILE)
    _check_plan(run_dir, config, resume)
    best = []
    for k in range(config.train.committee_size):
        folder = member_dir(run_dir, k)
        member = replace(
            _absolute(config),
            train=replace(config.train, committee_size=1, committee_member=k),
            output=str(folder),
        )
        started = (folder / CONFIG_FILE).exists()
        LOGGER.info("committee member %d of %d", k + 1, config.train.committee_size)
        best.append(fit(member, resume=started, command=command))
    record = {
        "format": COMMITTEE_FORMAT,
        "format_version": COMMITTEE_VERSION,
        "members": [str(Path(path).relative_to(run_dir)) for path in best],
        "metadata": {"trained_by": "mlpot-train", "committee_size": len(best)},
    }
    with atomic_path(run_dir / COMMITTEE_FILE) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return run_dir


PLAN_FILE = "committee-plan.json"


def _check_plan(run_dir: Path, config: RunConfig, resume: bool) -> None:
    """Record the committee's settings at its start; refuse a resume that edits them.

    Members each check their own settings, but a member that has not started
    has nothing to check against: an edited ``train.committee_size`` would add
    or drop members unnoticed. The comparison is the members' own
    (`mlpot.train.config_files.config_changes`).
    """
    path = run_dir / PLAN_FILE
    settings = json.loads(json.dumps(config.to_dict()))
    if resume and path.is_file():
        changed = config_changes(json.loads(path.read_text()), settings)
        if changed:
            raise ValueError(
                f"{run_dir / CONFIG_FILE} was edited since the committee started "
                f"({'; '.join(changed)}); a committee's members share one recipe, so "
                "start a new run to change it (only train.max_epochs, "
                "train.max_time and train.quiet may change when resuming)"
            )
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(settings, indent=1) + "\n")


def _absolute(config: RunConfig) -> RunConfig:
    """``config`` with absolute data paths, valid from any member folder."""
    data = config.data
    paths = {
        key: str(Path(value).resolve())
        for key, value in (
            ("train", data.train),
            ("val", data.val),
            ("test", data.test),
        )
        if value
    }
    return replace(config, data=replace(data, **paths))
