"""Read the data files of a run and split them into training and validation frames."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ase.data import chemical_symbols

from mlpot.data import Frames, concatenate, read_frames, split_indices
from mlpot.data.checks import check_duplicate_labels
from mlpot.data.files import sha256sum
from mlpot.data.readers import detect_format
from mlpot.data.splits import geometry_keys
from mlpot.train.config import DataConfig


@dataclass
class RunData:
    """Frames of a run, in eV and Å.

    Attributes
    ----------
    train, val : Frames
        Training and validation frames, cut from the ``data.train`` file (the
        validation frames are those of ``data.val`` when it is given).
    test : Frames or None
        Frames of the ``data.test`` file.
    split : dict
        ``"train"`` and ``"val"`` frame ids (lists of int) in the training file.
    provenance : dict
        JSON-able description of each file read (``"train"``, ``"val"``, ``"test"``):
        path, sha256, format, source units, level of theory, frame count.
    """

    train: Frames
    val: Frames
    test: Optional[Frames]
    split: Dict[str, List[int]]
    provenance: Dict[str, Any]

    def species(self) -> List[int]:
        """Sorted atomic numbers present in the training file."""
        return sorted(set(self.train.species()) | set(self.val.species()))


def load_run_data(config: DataConfig, seed: int, need_forces: bool = True) -> RunData:
    """Read the files named in ``config`` and split the training file.

    The validation frames are drawn first with `mlpot.data.split_indices`
    (duplicate geometries stay together, and frames whose geometry is in the
    test file are left out), so they do not change with ``n_train``.

    Parameters
    ----------
    config : DataConfig
        Files, split sizes and units.
    seed : int
        Seed of the split.
    need_forces : bool
        Refuse files without forces (False for energy-only training).

    Returns
    -------
    RunData
    """
    options = dict(
        format=config.format,
        energy_unit=config.energy_unit,
        energy_key=config.energy_key,
        forces_key=config.forces_key,
    )
    frames = read_frames(config.train, **options)
    test = read_frames(config.test, **options) if config.test else None
    val_file = read_frames(config.val, **options) if config.val else None
    _require_labels(frames, config.train, need_forces)
    check_duplicate_labels(frames, config.train)
    if test is not None:
        _require_labels(test, config.test, need_forces)
    held_out = test
    if val_file is not None:
        _require_labels(val_file, config.val, need_forces=False)
        held_out = concatenate(
            [_geometries(part) for part in (test, val_file) if part is not None]
        )
    n_val = 0 if val_file is not None else config.n_val
    n_train = config.n_train
    if n_train is None:
        n_train = _count_not_held_out(frames, held_out) - n_val
        if n_train < 1:
            after = (
                f"those whose geometry is in {config.val}"
                if val_file is not None
                else f"{config.n_val} validation frames; lower data.n_val"
            )
            raise ValueError(
                f"{config.train} has {len(frames)} frames, which leaves none for "
                f"training after {after}"
            )
    indices = split_indices(frames, n_train, n_val, 0, seed=seed, held_out=held_out)
    train = frames.subset(indices["train"])
    val = val_file if val_file is not None else frames.subset(indices["val"])
    data = RunData(
        train=train,
        val=val,
        test=test,
        split={"train": train.frame_ids.tolist(), "val": val.frame_ids.tolist()},
        provenance={
            "train": describe_source(frames, config.train),
            "val": None if val_file is None else describe_source(val_file, config.val),
            "test": None if test is None else describe_source(test, config.test),
        },
    )
    if test is not None:
        _check_test_species(data, config.test)
    return data


def _geometries(frames: Frames) -> Frames:
    """The structures of ``frames`` without labels (files that differ in them join)."""
    return Frames(
        positions=frames.positions,
        numbers=frames.numbers,
        n_atoms=frames.n_atoms,
        cell=frames.cell,
        pbc=frames.pbc,
    )


def _require_labels(frames: Frames, path, need_forces: bool = True) -> None:
    missing = [name for name in ("energy", "forces") if getattr(frames, name) is None]
    if not need_forces and missing == ["forces"]:
        return
    if missing:
        raise ValueError(
            f"{path} has no {' or '.join(missing)} labels; training needs energies "
            "for every frame, and forces too unless train.forces_weight is 0 "
            "(energy-only training)"
        )


def _count_not_held_out(frames: Frames, held_out: Optional[Frames]) -> int:
    if held_out is None:
        return len(frames)
    excluded = set(geometry_keys(held_out))
    return sum(key not in excluded for key in geometry_keys(frames))


def _check_test_species(data: RunData, path) -> None:
    unknown = sorted(set(data.test.species()) - set(data.species()))
    if unknown:
        names = ", ".join(chemical_symbols[z] for z in unknown)
        raise ValueError(
            f"the test file {path} contains {names}, which the training file does "
            "not; a model cannot be tested on elements it was not trained on"
        )


def describe_source(frames: Frames, path) -> Dict[str, Any]:
    """JSON-able provenance of a data file read with `read_frames`.

    Parameters
    ----------
    frames : Frames
        Everything read from the file.
    path : str or Path
        The path, recorded relative to the working directory.

    Returns
    -------
    dict
        ``path``, ``file``, ``sha256`` (of the file read), ``format``, source
        ``energy_unit``, ``length_unit`` and ``force_unit``,
        ``level_of_theory`` and ``name`` (None when unknown), ``n_frames``, and,
        for a store converted from another file, that file's ``source_sha256``.
    """
    attrs = frames.attrs
    # read_frames records the sha256 of the file it read, except for stores,
    # whose source_sha256 is that of the file they were converted from.
    is_store = detect_format(path) == "hdf5"
    sha256 = attrs.get("source_sha256") if not is_store else None
    sha256 = sha256 or sha256sum(path)
    origin = attrs.get("source_sha256")
    return {
        "path": os.path.relpath(path),
        "file": Path(path).name,
        "sha256": sha256,
        **({"source_sha256": origin} if origin and origin != sha256 else {}),
        "format": attrs.get("source_format"),
        "energy_unit": attrs.get("source_energy_unit"),
        "length_unit": attrs.get("source_length_unit"),
        "force_unit": attrs.get("source_force_unit"),
        "level_of_theory": attrs.get("level_of_theory"),
        "name": attrs.get("name"),
        "n_frames": len(frames),
    }
