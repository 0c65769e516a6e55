"""What a checkpoint records about how it was made: data, split, config, machine."""

import os
import platform
from typing import Any, Dict, Optional

import torch

from mlpot.data.splits import geometry_digests
from mlpot.model.base import Potential
from mlpot.train.config import RunConfig
from mlpot.train.data import RunData


def run_metadata(
    config: RunConfig,
    data: RunData,
    model: Potential,
    command=None,
    domain=None,
    e0s=None,
    finetuned_from=None,
) -> Dict[str, Any]:
    """The parts of the checkpoint metadata that do not change during a run.

    Parameters
    ----------
    config : RunConfig
        The resolved config.
    data : RunData
        Files read and the split.
    model : Potential
        With its normalisation set.
    command : sequence of str, optional
        The command line.
    domain : dict, optional
        What the training frames span (`mlpot.domain.training_domain`),
        checked by calculators.
    e0s : dict, optional
        Where the reference energies came from and their values
        (`mlpot.train.reference_energies.resolve_e0s`).
    finetuned_from : dict, optional
        The pretrained checkpoint the weights started from
        (`mlpot.train.finetune.Pretrained.provenance`).

    Returns
    -------
    dict
        JSON-able: ``data`` (provenance of each file), ``split`` (seed, sizes,
        frame ids), ``config``, ``normalisation`` (eV), ``domain``,
        ``geometries`` (content digests of the training and validation frames,
        `mlpot.data.splits.geometry_digests`), ``machine`` and ``command``.
    """
    return {
        "data": data.provenance,
        "split": {
            "seed": config.train.seed,
            "n_train": len(data.split["train"]),
            "n_val": len(data.split["val"]),
            **data.split,
        },
        "config": _portable(config.to_dict()),
        "normalisation": {
            "atomic_energy_shift_eV": model.atomic_energy_shift.tolist(),
            "energy_scale_eV": float(model.energy_scale),
            "avg_num_neighbors": model.config.avg_num_neighbors,
        },
        "domain": domain,
        "E0s": e0s,
        "finetuned_from": finetuned_from,
        "geometries": {
            "train": geometry_digests(data.train),
            "val": geometry_digests(data.val),
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "command": list(command) if command is not None else None,
    }


def _portable(config: Dict[str, Any]) -> Dict[str, Any]:
    """The config with its file paths relative to the working directory.

    Checkpoints are shared, so they should not record this machine's folders.
    """
    data = dict(config["data"])
    for key in ("train", "val", "test"):
        if data.get(key):
            data[key] = os.path.relpath(data[key])
    return {**config, "data": data, "output": os.path.relpath(config["output"])}


def data_sha256(data: RunData) -> Dict[str, Optional[str]]:
    """sha256 of each data file of a run (``"train"``, ``"test"``; None if absent)."""
    return {name: (p or {}).get("sha256") for name, p in data.provenance.items()}
