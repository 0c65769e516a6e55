"""Shipped, trained models, found by name.

Checkpoints ship in this package's folder, beside this file, with their cards
(package data, so every kind of install has them; ``models/`` at the top of
the source tree links here), and may also be put in the folder named by the
``MLPOT_MODELS_DIR`` environment variable, which is searched first.
"""

import os
from pathlib import Path
from typing import List

PACKAGED_MODELS_DIR = Path(__file__).resolve().parent


def models_dirs() -> List[Path]:
    """Folders searched for shipped checkpoints, in order."""
    folders = []
    if os.environ.get("MLPOT_MODELS_DIR"):
        folders.append(Path(os.environ["MLPOT_MODELS_DIR"]))
    folders.append(PACKAGED_MODELS_DIR)
    return folders


def list_models() -> List[str]:
    """Names of the available shipped models, e.g. ``"ethanol-equivariant"``.

    Committees (folders with a ``committee.json``) are listed by folder name.
    """
    names = set()
    for folder in models_dirs():
        if folder.is_dir():
            names.update(path.stem for path in folder.glob("*.ckpt"))
            names.update(path.parent.name for path in folder.glob("*/committee.json"))
    return sorted(names)


def pretrained_path(name: str) -> Path:
    """Path of the shipped checkpoint (or committee folder) ``name``."""
    stem = name[: -len(".ckpt")] if name.endswith(".ckpt") else name
    for folder in models_dirs():
        path = folder / f"{stem}.ckpt"
        if path.is_file():
            return path
        if (folder / stem / "committee.json").is_file():
            return folder / stem
    available = ", ".join(list_models()) or "none found"
    raise FileNotFoundError(
        f"no shipped model named '{stem}' (available: {available}); searched "
        f"{', '.join(str(f) for f in models_dirs())}; set MLPOT_MODELS_DIR to a "
        "folder of your own checkpoints to find them by name too"
    )


def model_path(name_or_path) -> Path:
    """An existing file or folder as given, else the shipped model of that name."""
    path = Path(name_or_path)
    return path if path.exists() else pretrained_path(str(name_or_path))


def pretrained(name: str, device="cpu", dtype="float64", **kwargs):
    """ASE calculator of a shipped model, e.g. ``pretrained("ethanol-equivariant")``.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    device, dtype, **kwargs
        As for :class:`mlpot.MLPotCalculator`.
    """
    from mlpot.calculator import load_calculator

    return load_calculator(pretrained_path(name), device=device, dtype=dtype, **kwargs)
