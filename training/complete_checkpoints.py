"""Add to older checkpoints the records that mlpot now writes with every model.

- ``metadata["domain"]``: the smallest interatomic distance and the formulas
  of the training frames, which calculators use to warn about structures
  unlike any training frame; computed from the training file and split the
  checkpoint names.
- ``metadata["geometries"]``: content digests of the training and validation
  frames, with which ``mlpot-eval`` notices training frames in any file.
- ``digest``: the sha256 of settings and weights, checked on every load.

Nothing else in the file changes (weights keep their dtype)::

    python training/complete_checkpoints.py models/*.ckpt
"""

import sys
from pathlib import Path

import numpy as np
import torch

from mlpot.data import read_frames
from mlpot.data.files import sha256sum
from mlpot.data.splits import geometry_digests
from mlpot.domain import training_domain
from mlpot.fileio import atomic_path
from mlpot.graph import from_frames
from mlpot.model.io import checkpoint_digest, read_checkpoint
from mlpot.train.batches import min_edge_length


def complete_checkpoint(path: Path) -> dict:
    """Add domain, geometries and digest to the checkpoint at ``path``.

    Returns the domain.
    """
    payload = read_checkpoint(path)
    metadata = payload["metadata"]
    train = metadata["data"]["train"]
    source = Path(train["path"])
    # Runs on HDF5 stores recorded no sha256 before stores were hashed; the
    # frame count is then what ties the file to the checkpoint.
    if train.get("sha256") not in (None, sha256sum(source)):
        raise ValueError(f"{source} is not the file {path} was trained on")
    frames = read_frames(source, energy_unit=train["energy_unit"])
    if len(frames) != train["n_frames"]:
        raise ValueError(f"{source} is not the file {path} was trained on")
    position = {int(frame_id): k for k, frame_id in enumerate(frames.frame_ids)}
    split = {
        name: frames.subset(np.array([position[i] for i in metadata["split"][name]]))
        for name in ("train", "val")
    }
    graphs = from_frames(split["train"], payload["config"]["r_max"])
    metadata["domain"] = training_domain(split["train"], min_edge_length(graphs))
    metadata["geometries"] = {
        name: geometry_digests(part) for name, part in split.items()
    }
    payload["digest"] = checkpoint_digest(payload)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return metadata["domain"]


if __name__ == "__main__":
    for name in sys.argv[1:]:
        domain = complete_checkpoint(Path(name))
        print(name, domain["min_distance_A"], ", ".join(domain["formulas"]))
