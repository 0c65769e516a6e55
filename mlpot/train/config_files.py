"""Run configs on disk: read YAML, apply ``--set`` overrides, write resolved configs."""

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Sequence

import yaml

from mlpot.fileio import atomic_path
from mlpot.model.config import closest_key_hint
from mlpot.train.config import RunConfig, all_keys

CONFIG_FILE = "config.yaml"
# Settings that may change when a run is resumed; any other change would make
# the resumed run differ from an uninterrupted one.
RESUME_OVERRIDES = ("train.max_epochs", "train.max_time", "train.quiet")


def parse_overrides(overrides: Sequence[str]) -> Dict[str, Any]:
    """Parse ``section.key=value`` strings; values are read as YAML.

    Parameters
    ----------
    overrides : sequence of str
        E.g. ``["train.lr=1e-3", "model.num_layers=2", "output=runs/a"]``.

    Returns
    -------
    dict
        Dotted key to value, e.g. ``{"train.lr": 0.001, ...}``.
    """
    parsed = {}
    for text in overrides:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"override '{text}' is not of the form section.key=value, "
                "e.g. train.lr=1e-3"
            )
        parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return parsed


def apply_overrides(
    values: Dict[str, Any], overrides: Dict[str, Any]
) -> Dict[str, Any]:
    """Copy of a nested config dict with dotted-key ``overrides`` set."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if not key:
            values[section] = value
            continue
        if "." in key:
            raise ValueError(
                f"unknown config key '{dotted}'.{closest_key_hint(dotted, all_keys())}"
            )
        target = values.setdefault(section, {})
        if not isinstance(target, dict):
            raise ValueError(f"cannot set '{dotted}': '{section}' is not a section")
        target[key] = value
    return values


def read_yaml(path) -> Any:
    """The content of a YAML file, read safely (no Python tags).

    Raises
    ------
    ValueError
        The file is not valid YAML, or uses tags that construct Python objects;
        the message names the file and the line.
    """
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        hint = (
            "; configs hold plain values only (tags such as !!python/... are refused)"
            if "python" in str(error) or "tag" in str(error)
            else ""
        )
        raise ValueError(
            f"'{path}' is not a valid YAML config{line}: {problem}{hint}"
        ) from None


def load_config(path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML run config, apply ``--set`` overrides, check every key.

    Parameters
    ----------
    path : str or Path
        YAML file with the sections ``data``, ``model``, ``train`` and ``output``.
    overrides : sequence of str
        ``section.key=value`` strings, applied after the file is read.

    Returns
    -------
    RunConfig
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file '{path}' not found; check the path")
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ValueError(
            f"'{path}' must hold a mapping of sections (data, model, train, output)"
        )
    return RunConfig.from_dict(apply_overrides(values, parse_overrides(overrides)))


def load_resume_config(run_dir, overrides: Sequence[str] = ()) -> RunConfig:
    """The resolved config of an existing run, for resuming it.

    Parameters
    ----------
    run_dir : str or Path
        Directory of a run started by :func:`mlpot.train.fit`.
    overrides : sequence of str
        Only ``train.max_epochs``, ``train.max_time`` and ``train.quiet`` may
        change when resuming.

    Returns
    -------
    RunConfig
        With ``output`` set to ``run_dir``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"'{run_dir}' has no {CONFIG_FILE}; give the directory of a run started "
            "by mlpot-train"
        )
    parsed = parse_overrides(overrides)
    refused = sorted(set(parsed) - set(RESUME_OVERRIDES))
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot change when resuming (only "
            f"{', '.join(RESUME_OVERRIDES)} can); start a new run to change it"
        )
    values = read_yaml(run_dir / CONFIG_FILE)
    for key in ("train", "val", "test"):  # stored relative to the run directory
        if values["data"].get(key):
            values["data"][key] = path_from(values["data"][key], run_dir)
    parsed["output"] = str(run_dir)
    return RunConfig.from_dict(apply_overrides(values, parsed))


def _flat(values: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Where a run's files are may change (a run folder moved with its data); the
# data's content is checked by sha256 instead.
_LOCATION_KEYS = ("output", "data.train", "data.val", "data.test")


def config_changes(before: Dict[str, Any], after: Dict[str, Any]) -> List[str]:
    """Settings that differ between two config dicts, as ``key: old → new``.

    Keys that may change on resume (:data:`RESUME_OVERRIDES`) and the data and
    output locations are not compared, nor keys that ``before`` does not have
    (settings added by a newer mlpot, at their defaults).
    """
    old, new = _flat(before), _flat(after)
    ignored = set(RESUME_OVERRIDES) | set(_LOCATION_KEYS)
    return [
        f"{key}: {old[key]!r} → {new.get(key)!r}"
        for key in sorted(old)
        if key not in ignored and old[key] != new.get(key)
    ]


def relocatable(config: RunConfig, run_dir) -> RunConfig:
    """``config`` with data paths relative to ``run_dir`` and ``output`` ".".

    Written into the run directory, it names no folder of this machine, and
    the run can be resumed after the directory and its data are moved together
    (as in a copy of the repository on another machine).
    """
    data = config.data
    paths = {
        key: path_relative_to(value, run_dir)
        for key, value in (
            ("train", data.train),
            ("val", data.val),
            ("test", data.test),
        )
        if value
    }
    return replace(config, data=replace(data, **paths), output=".")


def path_relative_to(path, folder) -> str:
    """``path`` as a file in ``folder`` records it: relative to that folder.

    Both are taken from the working directory when relative themselves.
    """
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve())


def path_from(path, folder) -> str:
    """The absolute path of ``path`` recorded by a file in ``folder``.

    The inverse of :func:`path_relative_to`; an absolute ``path`` stays the
    same file.
    """
    return str((Path(folder) / path).resolve())


def write_config(config: RunConfig, path) -> Path:
    """Write ``config`` as YAML, atomically.

    Parameters
    ----------
    config : RunConfig
    path : str or Path

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path
