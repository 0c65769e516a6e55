"""Checkpoints: one self-describing file per model, loaded without unpickling code.

A checkpoint is a plain dict of tensors and JSON-able values::

    format          "mlpot-checkpoint"
    format_version  int (this file layout)
    mlpot_version   version of mlpot that wrote it
    model_family    "equivariant" | "invariant"
    config          ModelConfig as a dict
    species         atomic numbers, in species-index order
    units           {"energy": "eV", "length": "Å"}
    normalisation   {"atomic_energy_shift": [...] eV, "energy_scale": eV}
    state_dict      parameter and buffer tensors
    digest          sha256 of family, config, species, normalisation and state_dict
    metadata        free-form JSON-able dict (training data, split, metrics, ...)

The digest is checked when a model is built from a checkpoint: a file whose
settings or weights were changed after it was written (reordered species, an
edited r_max or avg_num_neighbors) would load and give wrong energies.
A checkpoint without a digest (written before digests existed, or with its
digest removed) is refused unless the caller passes ``trust_unsigned=True``.
"""

import hashlib
import json
import pickle
import warnings
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from mlpot.fileio import atomic_path
from mlpot.model import MODEL_FAMILIES, build_model
from mlpot.model.base import Potential
from mlpot.model.config import ModelConfig

CHECKPOINT_FORMAT = "mlpot-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file is missing, truncated, foreign, or of a newer format."""


def save_model(
    model: Potential, path, metadata: Optional[Dict[str, Any]] = None
) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    model : Potential
        The model to save.
    path : str or Path
        Destination, conventionally ``*.ckpt``.
    metadata : dict, optional
        JSON-able information stored with the model (training data, metrics...).

    Returns
    -------
    Path
    """
    from mlpot._version import __version__

    metadata = dict(metadata or {})
    try:
        json.dumps(metadata)
    except TypeError as error:
        raise TypeError(f"checkpoint metadata must be JSON-able: {error}") from None
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "mlpot_version": __version__,
        "model_family": model.family,
        "config": model.config.to_dict(),
        "species": list(model.config.species),
        "units": {"energy": "eV", "length": "Å"},
        "normalisation": {
            "atomic_energy_shift": model.atomic_energy_shift.tolist(),
            "energy_scale": float(model.energy_scale),
        },
        "state_dict": {
            k: v.detach().cpu().clone() for k, v in model.state_dict().items()
        },
        "metadata": metadata,
    }
    payload["digest"] = checkpoint_digest(payload)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def checkpoint_digest(payload: Dict[str, Any]) -> str:
    """sha256 of what decides a checkpoint's energies: settings and weights.

    Covers ``model_family``, ``config``, ``species``, ``normalisation`` and
    every tensor of ``state_dict`` (name, dtype, shape and bytes); not the
    free-form ``metadata``.
    """
    digest = hashlib.sha256()
    settings = {
        key: payload.get(key)
        for key in ("model_family", "config", "species", "normalisation")
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(payload["state_dict"]):
        tensor = payload["state_dict"][name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_checkpoint(path) -> Dict[str, Any]:
    """Read and validate a checkpoint dict with ``torch.load(weights_only=True)``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    CheckpointError
        The file is truncated or corrupt, not an mlpot checkpoint, or was
        written by a newer mlpot.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint '{path}' not found; check the path, or list shipped models "
            "in the models/ folder"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"'{path}' is not a plain mlpot checkpoint: it holds Python objects "
            "beyond tensors and plain values, which mlpot never loads (so nothing "
            "in it was run); use a checkpoint written by mlpot.save_model or "
            "mlpot-train"
        ) from None
    except Exception as error:  # torch raises several types for damaged zip files
        raise CheckpointError(
            f"'{path}' could not be read as a checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); "
            "the file is truncated, "
            "corrupt or not a torch file: copy or download it again"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = (
            sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
        )
        raise CheckpointError(
            f"'{path}' is not an mlpot checkpoint (found {found}); mlpot reads files "
            "written by mlpot.save_model or mlpot-train"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(
            f"'{path}' has an invalid format_version {version!r} "
            f"({type(version).__name__}, where mlpot writes an int); the file was "
            "edited or damaged: use an unmodified copy of the checkpoint"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path}' has checkpoint format {version}, written by mlpot "
            f"{payload.get('mlpot_version')}; this mlpot reads format "
            f"<= {FORMAT_VERSION}: "
            "upgrade mlpot"
        )
    family = payload.get("model_family")
    if family not in MODEL_FAMILIES:
        raise CheckpointError(f"'{path}' has an unknown model family '{family}'")
    if not isinstance(payload.get("metadata", {}), dict):
        raise CheckpointError(
            f"'{path}' has metadata of type {type(payload['metadata']).__name__} "
            "where mlpot writes a mapping; the file was edited or damaged: use an "
            "unmodified copy of the checkpoint"
        )
    return payload


def load_model(
    path, device="cpu", dtype=torch.float64, trust_unsigned: bool = False
) -> Potential:
    """Rebuild the model stored in a checkpoint, in eval mode.

    Parameters
    ----------
    path : str or Path
        Checkpoint written by :func:`save_model`.
    device : str or torch.device
        Where to put the model.
    dtype : torch.dtype
        Floating point type of the parameters (float64 by default).
    trust_unsigned : bool
        Load a checkpoint that has no digest (written before digests existed,
        or with its digest removed), with a warning; ``save_model`` of the
        result writes a signed copy. Without it such a file is refused.

    Returns
    -------
    Potential
        With the checkpoint's ``metadata`` dict attached as ``model.metadata``.
    """
    return model_from_checkpoint(
        read_checkpoint(path), path, device, dtype, trust_unsigned=trust_unsigned
    )


class UnsignedCheckpointWarning(UserWarning):
    """A checkpoint without a digest was loaded because the caller trusted it."""


def _check_integrity(payload: Dict[str, Any], path, trust_unsigned=False) -> None:
    """Refuse a checkpoint whose digest is missing or does not match, or with
    non-finite weights."""
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(
                f"'{path}' has no valid '{key}' entry; the file is damaged or was "
                "edited: use an unmodified copy of the checkpoint"
            )
    recorded = payload.get("digest")
    if recorded is None:
        if not trust_unsigned:
            raise CheckpointError(
                f"'{path}' has no digest, so nothing shows that its settings and "
                "weights are those it was written with; use an unmodified copy, or, "
                "for a checkpoint you trust from before digests existed, "
                "mlpot.load_model(path, trust_unsigned=True) and mlpot.save_model "
                "to write a signed copy"
            )
        warnings.warn(
            f"'{path}' has no digest; it is loaded unchecked because "
            "trust_unsigned=True was given",
            UnsignedCheckpointWarning,
            stacklevel=3,
        )
    elif recorded != checkpoint_digest(payload):
        raise CheckpointError(
            f"'{path}' was modified or is corrupt: its settings or weights do not "
            "match the digest written with them; use an unmodified copy of the "
            "checkpoint (or retrain)"
        )
    for name, tensor in payload["state_dict"].items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                f"'{path}' holds non-finite values (NaN or inf) in {name}; the "
                "model diverged or the file is damaged: use another checkpoint"
            )


def model_from_checkpoint(
    payload: Dict[str, Any],
    path,
    device="cpu",
    dtype=torch.float64,
    trust_unsigned: bool = False,
) -> Potential:
    """The model of a checkpoint already read by :func:`read_checkpoint`, in eval mode.

    Parameters
    ----------
    payload : dict
        What :func:`read_checkpoint` returned.
    path : str or Path
        Where it was read from, for messages.
    device, dtype, trust_unsigned
        As for :func:`load_model`.
    """
    _check_integrity(payload, path, trust_unsigned)
    # Cast before loading so float64 weights are not rounded through float32.
    try:
        config = ModelConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"'{path}' has an invalid model config ({error}); the file is damaged "
            "or was edited: use an unmodified copy of the checkpoint"
        ) from None
    model = build_model(config).to(dtype=dtype)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(
            f"'{path}' does not match its own model configuration: {error}"
        ) from None
    model.metadata = payload.get("metadata", {})
    return model.to(device=device, dtype=dtype).eval()
