"""Write a recipe's training, validation and test frames as extended XYZ files.

The peers (NequIP, MACE) read extended XYZ; writing the frames that
``mlpot-train`` itself draws from the recipe (same seed, same split) makes all
three train on the same 950 + 50 frames and be scored on the same test file.
Energies are written in eV and forces in eV/Å (converted once, on reading).

Example
-------
::

    python benchmarks/peers/export_split.py training/ethanol-equivariant.yaml \\
        runs/peers/ethanol
"""

import argparse
import json
from pathlib import Path

import ase.io

from mlpot.fileio import atomic_path
from mlpot.train import load_config
from mlpot.train.data import load_run_data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "recipe", help="mlpot-train YAML whose data section and seed to use"
    )
    parser.add_argument(
        "out", help="folder for train.xyz, val.xyz, test.xyz, split.json"
    )
    args = parser.parse_args(argv)
    config = load_config(args.recipe)
    data = load_run_data(config.data, seed=config.train.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frames in (("train", data.train), ("val", data.val), ("test", data.test)):
        with atomic_path(out / f"{name}.xyz") as tmp:
            images = [frames.to_atoms(k) for k in range(len(frames))]
            ase.io.write(tmp, images, format="extxyz")
        print(f"{out / f'{name}.xyz'}: {len(frames)} frames")
    with atomic_path(out / "split.json") as tmp:
        tmp.write_text(json.dumps({"recipe": args.recipe, **data.split}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
