"""``mlpot-data``: inspect, convert, split and download data sets.

Examples
--------
::

    mlpot-data download rmd17-ethanol-train-01
    mlpot-data info ~/.cache/mlpot/rmd17_ethanol_train_01.npz
    mlpot-data convert ethanol.xyz ethanol.h5 --energy-unit kcal/mol
    mlpot-data split ethanol.h5 --train 950 --val 50 --seed 1 -o split.json
    mlpot-data generate ethane.h5 --frames 500 --sampler langevin --temperature 300
"""

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional

import numpy as np

from mlpot.cli.generate import add_generate_parser
from mlpot.data import (
    DATASETS,
    Frames,
    UnitConsistencyError,
    append_store,
    detect_format,
    download,
    find_duplicates,
    read_frames,
    read_store,
    save_split,
    split_indices,
    write_store,
)
from mlpot.data.readers import LABEL_SETS
from mlpot.data.splits import geometry_keys
from mlpot.fileio import atomic_path

STORE_SUFFIXES = (".h5", ".hdf5")


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-data``; returns the exit status (0 on success, 1 on error).

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as error:
        print(f"mlpot-data: error: {error}", file=sys.stderr)
        if isinstance(error, UnitConsistencyError):
            print(
                "mlpot-data: on the command line use --energy-unit, --force-unit "
                "or --no-unit-check",
                file=sys.stderr,
            )
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpot-data", description="Inspect, convert, split and download data sets."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="summarise a data file")
    info.add_argument("file")
    _add_reader_options(info)
    info.set_defaults(run=_info)

    convert = commands.add_parser(
        "convert", help="convert a data file to an HDF5 store"
    )
    convert.add_argument("input")
    convert.add_argument(
        "output",
        help="the file to write: an HDF5 store (.h5, .hdf5), or any format "
        "ase.io writes with energies and forces (.xyz for extended XYZ, .traj, ...)",
    )
    replace = convert.add_mutually_exclusive_group()
    replace.add_argument(
        "--append",
        action="store_true",
        help="add the frames to an existing store (numbered after its frames)",
    )
    replace.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT if it exists (without this, an existing file is kept)",
    )
    _add_reader_options(convert)
    convert.set_defaults(run=_convert)

    split = commands.add_parser(
        "split", help="draw seeded train/val/test indices, duplicates grouped"
    )
    split.add_argument("file")
    split.add_argument("--train", type=int, required=True, help="training frames")
    split.add_argument("--val", type=int, required=True, help="validation frames")
    split.add_argument("--test", type=int, default=0, help="test frames from FILE")
    split.add_argument(
        "--test-file",
        help="separate test set; its geometries are kept out of FILE's splits",
    )
    split.add_argument("--seed", type=int, default=0)
    split.add_argument(
        "-o", "--output", required=True, help="JSON file for the indices"
    )
    _add_reader_options(split)
    split.set_defaults(run=_split)

    fetch = commands.add_parser("download", help="download a known public data set")
    fetch.add_argument("name", nargs="?", help="data set name (see --list)")
    fetch.add_argument("--list", action="store_true", help="list the known data sets")
    fetch.add_argument("--cache-dir", help="default $MLPOT_DATA_DIR or ~/.cache/mlpot")
    fetch.add_argument(
        "--base-url",
        help="default $MLPOT_DATA_URL or https://raw.githubusercontent.com",
    )
    fetch.set_defaults(run=_download)
    add_generate_parser(commands)
    return parser


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", help="rmd17, sgdml, hdf5 or an ase.io format")
    parser.add_argument(
        "--energy-unit", help="e.g. kcal/mol (MD17-family default) or eV (others)"
    )
    parser.add_argument("--length-unit", help="default Angstrom")
    parser.add_argument("--force-unit", help="default <energy unit>/<length unit>")
    parser.add_argument(
        "--labels",
        choices=LABEL_SETS,
        default="default",
        help="rMD17: 'original' selects the original MD17 labels",
    )
    parser.add_argument(
        "--no-unit-check", action="store_true", help="skip the unit plausibility checks"
    )
    add_key_options(parser)


def add_key_options(parser: argparse.ArgumentParser) -> None:
    """``--energy-key`` and ``--forces-key`` for files read with ase.io."""
    parser.add_argument(
        "--energy-key",
        help="atoms.info key of the energies in an ase.io file (e.g. REF_energy)",
    )
    parser.add_argument(
        "--forces-key",
        help="atoms.arrays key of the forces in an ase.io file (e.g. REF_forces)",
    )


def _read(args, path) -> Frames:
    return read_frames(
        path,
        format=args.format,
        energy_unit=args.energy_unit,
        length_unit=args.length_unit,
        force_unit=args.force_unit,
        labels=args.labels,
        check_units=not args.no_unit_check,
        energy_key=args.energy_key,
        forces_key=args.forces_key,
    )


def _info(args) -> None:
    frames = _read(args, args.file)
    attrs = frames.attrs
    format = args.format or detect_format(args.file)
    rows = [("file", args.file), ("format", format)]
    if format == "hdf5" and "source" in attrs:
        rows.append(
            ("converted from", f"{attrs['source']} ({attrs.get('source_format')})")
        )
    rows += [
        ("source sha256", attrs.get("source_sha256", "unknown")),
        ("molecule", _molecules(frames, attrs.get("name"))),
        ("frames", str(len(frames))),
        ("level of theory", attrs.get("level_of_theory", "unknown")),
        (
            "source units",
            f"energy {attrs.get('source_energy_unit', 'eV')}, forces "
            f"{attrs.get('source_force_unit', 'eV/Angstrom')}, positions "
            f"{attrs.get('source_length_unit', 'Angstrom')}",
        ),
    ]
    if frames.energy is not None and len(frames):
        energy = frames.energy
        per_atom = energy / frames.n_atoms
        rows.append(
            (
                "energy [eV]",
                f"mean {energy.mean():.6g}  std {energy.std():.4g}  "
                f"min {energy.min():.6g}  max {energy.max():.6g}",
            )
        )
        rows.append(
            (
                "energy/atom [eV]",
                f"mean {per_atom.mean():.6g}  std {per_atom.std():.4g}",
            )
        )
    if frames.forces is not None and len(frames.forces):
        magnitude = np.linalg.norm(frames.forces, axis=1)
        rows.append(
            (
                "forces [eV/Å]",
                f"rms component {np.sqrt(np.mean(frames.forces**2)):.4g}  "
                f"max |F| {magnitude.max():.4g}",
            )
        )
    elif frames.forces is None:
        isolated = bool(len(frames)) and bool(np.all(frames.n_atoms == 1))
        rows.append(
            (
                "forces",
                "none: isolated atoms (their energies are E0s: data.E0s)"
                if isolated
                else "none: energy-only data (a scan, a reaction path)",
            )
        )
    if frames.config_type is not None:
        tags = Counter(tag or "(none)" for tag in frames.config_type)
        rows.append(
            ("config_type", ", ".join(f"{tag} x{n}" for tag, n in sorted(tags.items())))
        )
    duplicates = find_duplicates(frames)
    rows.append(
        (
            "duplicates",
            "none"
            if not duplicates
            else f"{len(duplicates)} group(s): "
            + ", ".join("/".join(map(str, group)) for group in duplicates[:10]),
        )
    )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def _molecules(frames: Frames, name: Optional[str]) -> str:
    counts = Counter(frames.formula(k) for k in range(len(frames)))
    if len(counts) == 1:
        formula = next(iter(counts))
        label = f"{formula} ({frames.n_atoms[0]} atoms)"
        return f"{name}, {label}" if name else label
    return ", ".join(f"{formula} x{count}" for formula, count in counts.most_common())


def _convert(args) -> None:
    output = Path(args.output)
    if output.is_dir():
        raise ValueError(f"'{output}' is a directory; name a file to write")
    is_store = output.suffix.lower() in STORE_SUFFIXES
    if output.exists() and not (args.append or args.overwrite):
        raise ValueError(
            f"'{output}' exists; pass --append to add the frames to it"
            + (" (HDF5 stores only)" if not is_store else "")
            + " or --overwrite to replace it"
        )
    if args.append and not is_store:
        raise ValueError(
            f"--append adds frames to HDF5 stores (.h5, .hdf5); '{output}' is not one"
        )
    frames = _read(args, args.input)
    if not is_store:
        write_with_ase(output, frames)
        print(f"wrote {len(frames)} frames to {output} (eV, Å, eV/Å)")
        return
    if args.append and Path(args.output).exists():
        stored = read_store(args.output)
        repeated = set(geometry_keys(stored)) & set(geometry_keys(frames))
        if repeated:
            raise ValueError(
                f"{len(repeated)} geometries of {args.input} are already in "
                f"{args.output}; append only new frames"
            )
        # Frames of another file are numbered after those in the store.
        frames.frame_ids = frames.frame_ids + int(stored.frame_ids.max()) + 1
    (append_store if args.append else write_store)(args.output, frames)
    print(f"wrote {len(frames)} frames to {args.output}")


def write_with_ase(path: Path, frames) -> None:
    """Write ``frames`` in the ase.io format of ``path``'s suffix, atomically.

    Energies and forces go in as each frame's results (eV, eV/Å), as
    ``ase.io.read`` gives them back.
    """
    from ase.io import write
    from ase.io.formats import filetype

    try:
        format = filetype(path, read=False)
    except Exception:
        raise ValueError(
            f"ase.io knows no format for '{path.name}'; name the output *.h5 for an "
            "HDF5 store or *.xyz for extended XYZ"
        ) from None
    images = [frames.to_atoms(k) for k in range(len(frames))]
    with atomic_path(path) as tmp:
        write(tmp, images, format=format)


def _split(args) -> None:
    frames = _read(args, args.file)
    held_out = _read(args, args.test_file) if args.test_file else None
    split = split_indices(
        frames, args.train, args.val, args.test, seed=args.seed, held_out=held_out
    )
    info = {
        "seed": args.seed,
        "n_frames": len(frames),
        "source": frames.attrs.get("source", args.file),
    }
    if "source_sha256" in frames.attrs:
        info["source_sha256"] = frames.attrs["source_sha256"]
    if held_out is not None:
        info["test_file"] = held_out.attrs.get("source", args.test_file)
    save_split(args.output, split, **info)
    sizes = ", ".join(f"{name} {len(indices)}" for name, indices in split.items())
    print(f"wrote split ({sizes}) to {args.output}")


def _download(args) -> None:
    if args.list:
        width = max(map(len, DATASETS))
        for name, known in sorted(DATASETS.items()):
            print(f"{name:<{width}}  {known.description}")
        return
    if not args.name:
        raise ValueError("name a data set to download, or pass --list to see them")
    path = download(args.name, cache_dir=args.cache_dir, base_url=args.base_url)
    print(path)
