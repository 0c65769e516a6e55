"""Seeded train/validation/test splits that keep duplicate geometries together."""

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from mlpot.data.files import PathLike
from mlpot.data.frames import Frames
from mlpot.fileio import atomic_path

SPLIT_FORMAT = "mlpot-split"
SPLIT_NAMES = ("train", "val", "test")


def geometry_keys(frames: Frames, decimals: int = 6) -> List[bytes]:
    """One hashable key per frame; equal keys mean the same geometry.

    Parameters
    ----------
    frames : Frames
        Frames to key.
    decimals : int
        Positions (Å) are rounded to this many decimals before comparing.

    Returns
    -------
    list of bytes, length F
        Built from the atomic numbers and the rounded positions.
    """
    # Adding 0.0 turns -0.0 into 0.0, which has different bytes.
    rounded = np.round(frames.positions, decimals) + 0.0
    return [
        frames.numbers[part].tobytes() + rounded[part].tobytes()
        for part in map(frames.atom_slice, range(len(frames)))
    ]


def geometry_digests(frames: Frames) -> List[str]:
    """A short content hash per frame (16 hex digits of the sha256 of its
    :func:`geometry_keys` key): the same geometry in any file gives the same
    digest, so a checkpoint can record which geometries it was trained on."""
    return [hashlib.sha256(key).hexdigest()[:16] for key in geometry_keys(frames)]


def find_duplicates(frames: Frames, decimals: int = 6) -> List[np.ndarray]:
    """Groups of frames with identical geometries (same atoms, same positions).

    Parameters
    ----------
    frames : Frames
        Frames to search.
    decimals : int
        Positions (Å) are compared after rounding to this many decimals.

    Returns
    -------
    list of ndarray of int64
        Each array holds the sorted indices of one group of two or more
        identical frames; groups are ordered by their first index.
    """
    groups: Dict[bytes, List[int]] = {}
    for index, key in enumerate(geometry_keys(frames, decimals)):
        groups.setdefault(key, []).append(index)
    return [np.array(members) for members in groups.values() if len(members) > 1]


def split_indices(
    frames: Frames,
    n_train: int,
    n_val: int,
    n_test: int = 0,
    seed: int = 0,
    held_out: Optional[Frames] = None,
    decimals: int = 6,
) -> Dict[str, np.ndarray]:
    """Random, reproducible split of frame indices without shared geometries.

    Identical geometries are grouped first and a group goes to one split only,
    so no frame of the validation or test set reappears in training. Test
    frames are drawn first, then validation, then training, all from one
    seeded permutation of the groups: for fixed ``seed``, ``n_val`` and
    ``n_test``, the validation and test sets stay the same when ``n_train``
    changes and the training sets grow by adding frames (learning curves).

    Parameters
    ----------
    frames : Frames
        Frames to split.
    n_train, n_val, n_test : int
        Number of frames in each split; ``n_test=0`` when the test set is a
        separate file.
    seed : int
        Seed of ``numpy.random.default_rng``.
    held_out : Frames, optional
        A separate test set; frames of ``frames`` with the same geometry as
        one of these are left out of every split.
    decimals : int
        Positions (Å) are compared after rounding to this many decimals.

    Returns
    -------
    dict of str to ndarray of int64
        ``"train"``, ``"val"`` and ``"test"`` indices into ``frames``, sorted.
    """
    sizes = dict(zip(SPLIT_NAMES, (n_train, n_val, n_test), strict=True))
    for name, size in sizes.items():
        if size < 0:
            raise ValueError(f"n_{name}={size} is negative; use a count >= 0")
    keys = geometry_keys(frames, decimals)
    excluded = set(geometry_keys(held_out, decimals)) if held_out is not None else set()
    groups: Dict[bytes, List[int]] = {}
    for index, key in enumerate(keys):
        if key not in excluded:
            groups.setdefault(key, []).append(index)
    members = list(groups.values())
    order = np.random.default_rng(seed).permutation(len(members))
    chosen: Dict[str, List[int]] = {name: [] for name in SPLIT_NAMES}
    for group in (members[g] for g in order):
        for name in ("test", "val", "train"):
            if len(chosen[name]) + len(group) <= sizes[name]:
                chosen[name].extend(group)
                break
    short = {
        name: len(chosen[name])
        for name in SPLIT_NAMES
        if len(chosen[name]) < sizes[name]
    }
    if short:
        raise ValueError(
            f"cannot split {len(frames)} frames ({len(members)} distinct geometries "
            f"not in held_out) into {sizes}: only {short} could be filled; ask for "
            "fewer frames"
        )
    return {
        name: np.sort(np.array(chosen[name], dtype=np.int64)) for name in SPLIT_NAMES
    }


def save_split(path: PathLike, split: Dict[str, np.ndarray], **info) -> Path:
    """Write split indices to a JSON file (atomically).

    Parameters
    ----------
    path : str or path-like
        Destination, conventionally ``*.json``.
    split : dict of str to array of int
        E.g. the result of `split_indices`.
    **info
        JSON-able facts to keep with the indices, e.g. ``seed``,
        ``n_frames`` and ``source_sha256`` of the split file; `load_split`
        checks the last two.

    Returns
    -------
    Path
        ``path``.
    """
    content = {"format": SPLIT_FORMAT, **info}
    content.update({name: np.asarray(split[name]).tolist() for name in split})
    # One entry per line, each index list on a single line.
    lines = [
        f" {json.dumps(key)}: {json.dumps(value)}" for key, value in content.items()
    ]
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def load_split(
    path: PathLike, frames: Optional[Frames] = None
) -> Dict[str, np.ndarray]:
    """Read split indices written by `save_split`.

    Parameters
    ----------
    path : str or path-like
        The JSON file.
    frames : Frames, optional
        The frames the indices refer to; if given, their count and source
        sha256 must match what the split file recorded.

    Returns
    -------
    dict of str to ndarray of int64
        Index arrays of the splits present in the file.
    """
    content = json.loads(Path(path).read_text())
    if content.get("format") != SPLIT_FORMAT:
        raise ValueError(
            f"{path} is not an mlpot split file (no format='{SPLIT_FORMAT}'); "
            "create one with `mlpot-data split`"
        )
    split = {
        name: np.asarray(content[name], dtype=np.int64)
        for name in SPLIT_NAMES
        if name in content
    }
    if frames is not None:
        _check_split_matches(path, content, split, frames)
    return split


def _check_split_matches(path, content, split, frames: Frames) -> None:
    recorded = content.get("source_sha256")
    actual = frames.attrs.get("source_sha256")
    if recorded and actual and recorded != actual:
        raise ValueError(
            f"the split {path} was made for a file with sha256 {recorded}, not for "
            f"these frames (sha256 {actual}); use the split made for this file or "
            "make a new one"
        )
    if "n_frames" in content and content["n_frames"] != len(frames):
        raise ValueError(
            f"the split {path} was made for {content['n_frames']} frames, not "
            f"{len(frames)}; use the split made for this file or make a new one"
        )
    largest = max((int(idx.max()) for idx in split.values() if len(idx)), default=-1)
    if largest >= len(frames):
        raise ValueError(
            f"the split {path} refers to frame {largest} but there are only "
            f"{len(frames)} frames; use the split made for this file"
        )
