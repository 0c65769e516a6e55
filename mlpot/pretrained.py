"""Shipped, trained models, found by name.

Checkpoints live in the ``models/`` folder of the mlpot source tree (next to
the package, as in an editable install) or in the folder named by the
``MLPOT_MODELS_DIR`` environment variable, which is searched first.
"""

import os
from pathlib import Path
from typing import List

from mlpot.calculator import load_calculator

SOURCE_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def models_dirs() -> List[Path]:
    """Folders searched for shipped checkpoints, in order."""
    folders = []
    if os.environ.get("MLPOT_MODELS_DIR"):
        folders.append(Path(os.environ["MLPOT_MODELS_DIR"]))
    folders.append(SOURCE_MODELS_DIR)
    return folders


def list_models() -> List[str]:
    """Names of the available shipped models, e.g. ``"ethanol-equivariant"``."""
    names = set()
    for folder in models_dirs():
        if folder.is_dir():
            names.update(path.stem for path in folder.glob("*.ckpt"))
    return sorted(names)


def pretrained_path(name: str) -> Path:
    """Path of the shipped checkpoint ``name`` (with or without ``.ckpt``)."""
    stem = name[: -len(".ckpt")] if name.endswith(".ckpt") else name
    for folder in models_dirs():
        path = folder / f"{stem}.ckpt"
        if path.is_file():
            return path
    available = ", ".join(list_models()) or "none found"
    raise FileNotFoundError(
        f"no shipped model named '{stem}' (available: {available}); searched "
        f"{', '.join(str(f) for f in models_dirs())}. Set MLPOT_MODELS_DIR to the "
        "folder holding mlpot's models/ if mlpot was installed without them"
    )


def pretrained(name: str, device="cpu", dtype="float64", **kwargs):
    """ASE calculator of a shipped model, e.g. ``pretrained("ethanol-equivariant")``.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    device, dtype, **kwargs
        As for :class:`mlpot.MLPotCalculator`.
    """
    return load_calculator(pretrained_path(name), device=device, dtype=dtype, **kwargs)
