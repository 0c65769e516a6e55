"""Training and validation stores of the pretrained multi-molecule rMD17 model.

Each molecule's rMD17 train split 01 (1000 frames) is split exactly as the
single-molecule recipes split it (`mlpot.data.split_indices` with seed 0,
950 training and 50 validation frames, frames whose geometry is in the test
file left out), and the parts are joined into one training and one validation
HDF5 store. Ethanol is held out of the pretraining, so that fine-tuning can be
measured on a molecule the pretrained model never saw. Test splits are never
read except to leave their geometries out.

::

    python training/rmd17_chno_data.py            # data/rmd17-chno/{train,val}.h5
    python training/rmd17_chno_data.py --overwrite
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from mlpot.data import concatenate, read_frames, split_indices, write_store

MD17 = Path("../shared/data/md17")
PRETRAINED_MOLECULES = (
    "aspirin",
    "azobenzene",
    "benzene",
    "naphthalene",
    "salicylic",
    "toluene",
)
HELD_OUT = "ethanol"
N_TRAIN, N_VAL, SEED = 950, 50, 0


def split_molecule(name: str, md17: Path = MD17):
    """The training and validation frames of one molecule, as its own recipe splits it.

    Returns
    -------
    train, val : Frames
        In eV and Å.
    """
    frames = read_frames(md17 / f"rmd17_{name}_train_01.npz", energy_unit="kcal/mol")
    test = read_frames(md17 / f"rmd17_{name}_test_01.npz", energy_unit="kcal/mol")
    indices = split_indices(frames, N_TRAIN, N_VAL, 0, seed=SEED, held_out=test)
    return frames.subset(indices["train"]), frames.subset(indices["val"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/rmd17-chno")
    parser.add_argument("--md17", default=str(MD17))
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    targets = [out / "train.h5", out / "val.h5"]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.overwrite:
        print(
            f"{', '.join(existing)} exist; --overwrite rewrites them", file=sys.stderr
        )
        return 1
    parts = [split_molecule(name, Path(args.md17)) for name in PRETRAINED_MOLECULES]
    out.mkdir(parents=True, exist_ok=True)
    for path, k in zip(targets, (0, 1), strict=True):
        frames = joined([part[k] for part in parts])
        write_store(path, frames)
        print(f"{path}: {len(frames)} frames of {', '.join(PRETRAINED_MOLECULES)}")
    return 0


def joined(parts):
    """One `Frames` of several molecules; frame ids become 1000 × molecule + id."""
    renumbered = [
        dataclasses.replace(part, frame_ids=part.frame_ids + 1000 * k)
        for k, part in enumerate(parts)
    ]
    frames = concatenate(renumbered)
    frames.attrs.update(
        name="rmd17-chno",
        molecules=",".join(PRETRAINED_MOLECULES),
        source=",".join(part.attrs["source"] for part in parts),
        source_sha256=",".join(part.attrs["source_sha256"] for part in parts),
    )
    return frames


if __name__ == "__main__":
    sys.exit(main())
