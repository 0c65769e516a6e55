"""Read labelled structures from rMD17/sGDML npz, ``ase.io`` formats and our HDF5 store.

Every reader returns `Frames` in eV and Å. Units are converted once, here,
with the factors of :mod:`mlpot.data.units`; the units of the source are kept
in ``Frames.attrs``.
"""

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from mlpot.data import checks, units
from mlpot.data.files import PathLike, sha256sum
from mlpot.data.frames import Frames
from mlpot.data.store import read_store

NATIVE_FORMATS = ("rmd17", "sgdml", "hdf5")
LABEL_SETS = ("default", "original")
# MD17-family files are in kcal/mol and Å unless they say otherwise.
_DEFAULT_ENERGY_UNIT = {"rmd17": "kcal/mol", "sgdml": "kcal/mol"}
_RMD17_LEVEL_OF_THEORY = {
    "default": "PBE/def2-SVP (rMD17, Christensen & von Lilienfeld 2020)",
    "original": "PBE+vdW-TS (original MD17, Chmiela et al. 2017)",
}
_RMD17_KEYS = {
    "default": ("energies", "forces"),
    "original": ("old_energies", "old_forces"),
}


def read_frames(
    path: PathLike,
    format: Optional[str] = None,
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    force_unit: Optional[str] = None,
    labels: str = "default",
    check_units: bool = True,
) -> Frames:
    """Read a file of labelled structures into `Frames` (eV, eV/Å, Å).

    Parameters
    ----------
    path : str or path-like
        rMD17 npz (``nuclear_charges, coords, energies, forces``), sGDML npz
        (``R, z, E, F``), an mlpot HDF5 store (``.h5``/``.hdf5``) or any file
        ``ase.io.read`` understands that carries energies and forces.
    format : str, optional
        ``"rmd17"``, ``"sgdml"``, ``"hdf5"`` or an ``ase.io`` format name
        (e.g. ``"extxyz"``). Guessed from the file when omitted.
    energy_unit : str, optional
        Unit of the energies in the file, e.g. ``"kcal/mol"``, ``"eV"``,
        ``"Hartree"``. Default: kcal/mol for rMD17 and sGDML files (or the
        ``e_unit`` an sGDML file records), eV for other formats.
    length_unit : str, optional
        Unit of positions and cell, default Å (or an sGDML file's ``r_unit``).
    force_unit : str, optional
        Unit of the forces, written ``"<energy>/<length>"``; default
        ``energy_unit/length_unit``.
    labels : {"default", "original"}
        For rMD17 files, ``"original"`` selects the original MD17 labels
        (``old_energies``, ``old_forces``) instead of the recomputed ones.
    check_units : bool
        Run the unit plausibility checks of :func:`mlpot.data.checks.check_units`.

    Returns
    -------
    Frames
        ``attrs`` holds ``source`` (file name), ``source_sha256``,
        ``source_format``, ``source_energy_unit``, ``source_length_unit``,
        ``source_force_unit`` and, when known, ``level_of_theory`` and ``name``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Unknown format, missing energies or forces, inconsistent array
        shapes, NaN or infinite values.
    mlpot.data.checks.UnitConsistencyError
        Energies or forces implausible for the declared units.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no such file: {path}; check the path, or fetch a known data set "
            "with `mlpot-data download NAME` (`mlpot-data download --list`)"
        )
    format = detect_format(path) if format is None else _check_format(format)
    if labels not in LABEL_SETS:
        raise ValueError(f"labels={labels!r} is not one of {LABEL_SETS}")
    if labels == "original" and format != "rmd17":
        raise ValueError(
            f"labels='original' selects the original MD17 labels of rMD17 files, "
            f"but {path} is read as {format!r}, which has one set of labels; "
            "drop labels='original'"
        )
    if format == "hdf5":
        if any(unit is not None for unit in (energy_unit, length_unit, force_unit)):
            raise ValueError(
                f"{path} is an mlpot store, which always holds eV and Å; "
                "drop energy_unit, length_unit and force_unit"
            )
        return read_store(path)
    if format == "rmd17":
        arrays = _read_rmd17(path, labels)
    elif format == "sgdml":
        arrays = _read_sgdml(path)
    else:
        arrays = _read_ase(path, format)
    recorded = arrays.pop("units")
    energy_unit = (
        energy_unit or recorded.get("energy") or _DEFAULT_ENERGY_UNIT.get(format, "eV")
    )
    length_unit = length_unit or recorded.get("length") or "Angstrom"
    frames = _convert(arrays, energy_unit, length_unit, force_unit)
    frames.attrs.update(
        source=path.name, source_sha256=sha256sum(path), source_format=format
    )
    checks.check_finite(frames, str(path))
    if check_units:
        checks.check_units(frames, str(path))
    return frames


def detect_format(path: PathLike) -> str:
    """Guess the format of a data file from its name and content.

    Parameters
    ----------
    path : str or path-like
        An existing file.

    Returns
    -------
    str
        ``"rmd17"``, ``"sgdml"``, ``"hdf5"`` or an ``ase.io`` format name.
    """
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return "hdf5"
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            names = set(data.files)
        if {"nuclear_charges", "coords"} <= names:
            return "rmd17"
        if {"R", "z"} <= names:
            return "sgdml"
        raise ValueError(
            f"unknown npz layout in {path} (arrays: {sorted(names)}); rMD17 files "
            "hold 'nuclear_charges' and 'coords', sGDML files 'R' and 'z'. Rename "
            "the arrays, or convert the file to extended XYZ"
        )
    try:
        guessed = filetype(str(path))
    except UnknownFileTypeError:
        guessed = None
    if guessed not in ioformats or not ioformats[guessed].can_read:
        raise ValueError(
            f"unknown format of {path}; pass format= one of {NATIVE_FORMATS} or an "
            "ase.io format name such as 'extxyz'"
        )
    return guessed


def _check_format(format: str) -> str:
    from ase.io.formats import ioformats

    if format in NATIVE_FORMATS or (format in ioformats and ioformats[format].can_read):
        return format
    raise ValueError(
        f"unknown format {format!r}; use one of {NATIVE_FORMATS} or an ase.io "
        "format name such as 'extxyz' (see `ase info --formats`)"
    )


def _read_rmd17(path: Path, labels: str) -> Dict:
    energy_key, forces_key = _RMD17_KEYS[labels]
    names = {
        "numbers": "nuclear_charges",
        "positions": "coords",
        "energy": energy_key,
        "forces": forces_key,
    }
    with np.load(path, allow_pickle=False) as data:
        arrays = _molecule_arrays(path, data, names)
    arrays["attrs"] = {
        "level_of_theory": _RMD17_LEVEL_OF_THEORY[labels],
        "labels": labels,
    }
    if path.stem.startswith("rmd17_"):
        arrays["attrs"]["name"] = path.stem.split("_")[1]
    arrays["units"] = {}
    return arrays


def _read_sgdml(path: Path) -> Dict:
    names = {"numbers": "z", "positions": "R", "energy": "E", "forces": "F"}
    with np.load(path, allow_pickle=False) as data:
        arrays = _molecule_arrays(path, data, names)
        text = {
            key: _text(data[key])
            for key in ("name", "theory", "e_unit", "r_unit")
            if key in data.files
        }
    arrays["attrs"] = {}
    if "name" in text:
        arrays["attrs"]["name"] = text["name"]
    if "theory" in text:
        arrays["attrs"]["level_of_theory"] = text["theory"]
    arrays["units"] = {"energy": text.get("e_unit"), "length": text.get("r_unit")}
    return arrays


def _text(value: np.ndarray) -> str:
    value = value.item()
    return value.decode() if isinstance(value, bytes) else str(value)


_ROLE_NAMES = {
    "numbers": "atomic numbers",
    "positions": "positions",
    "energy": "energies",
    "forces": "forces",
}


def _molecule_arrays(path: Path, data, names: Dict[str, str]) -> Dict:
    """Packed arrays from an npz of F frames of one N-atom molecule.

    ``names`` maps each role (numbers, positions, energy, forces) to the
    array's name in the file. Presence and shapes are checked.
    """
    missing = {role: name for role, name in names.items() if name not in data.files}
    if missing:
        what = " and ".join(_ROLE_NAMES[role] for role in missing)
        raise ValueError(
            f"missing {what} in {path}: no array {list(missing.values())} (arrays "
            f"present: {sorted(data.files)}); mlpot trains on energy and force "
            "labels, so use a file that has both"
        )
    values = {role: data[name] for role, name in names.items()}
    n_atoms = values["numbers"].size
    n_frames = len(values["positions"]) if values["positions"].ndim else 0
    expected = {
        "numbers": (values["numbers"].shape, (n_atoms,)),
        "positions": (values["positions"].shape, (n_frames, n_atoms, 3)),
        "energy": (values["energy"].reshape(-1).shape, (n_frames,)),
        "forces": (values["forces"].shape, (n_frames, n_atoms, 3)),
    }
    for role, (shape, wanted) in expected.items():
        if shape != wanted:
            raise ValueError(
                f"inconsistent array shapes in {path}: {names[role]} has shape "
                f"{shape} but {wanted} is expected for {n_frames} frames of "
                f"{n_atoms} atoms ({names['numbers']} "
                f"{values['numbers'].shape}, {names['positions']} "
                f"{values['positions'].shape}); the file is truncated or its "
                "arrays do not belong together: re-download or regenerate it"
            )
    return {
        "positions": values["positions"].reshape(-1, 3),
        "numbers": np.tile(values["numbers"], n_frames),
        "n_atoms": np.full(n_frames, n_atoms),
        "energy": values["energy"].reshape(-1),
        "forces": values["forces"].reshape(-1, 3),
    }


def _read_ase(path: Path, format: str) -> Dict:
    import ase.io

    try:
        images = ase.io.read(path, index=":", format=format)
    except Exception as error:
        # ase.io raises all kinds of errors on files of another format.
        raise ValueError(
            f"ase.io could not read {path} as {format!r} ({type(error).__name__}: "
            f"{error}); check the file, or pass the right format="
        ) from error
    energy, forces = [], []
    for k, atoms in enumerate(images):
        results = atoms.calc.results if atoms.calc is not None else {}
        for name, found in (("energy", energy), ("forces", forces)):
            if name not in results:
                raise ValueError(
                    f"missing {'energies' if name == 'energy' else name} in {path}: "
                    f"frame {k} has no '{name}' result (info keys: "
                    f"{sorted(atoms.info)}, per-atom arrays: {sorted(atoms.arrays)}); "
                    f"mlpot reads the '{name}' that ase.io attaches to each frame, so "
                    f"name the {name} column/key '{name}' in the file"
                )
            found.append(results[name])
    periodic = any(atoms.pbc.any() for atoms in images)
    return {
        "positions": np.concatenate([atoms.positions for atoms in images]),
        "numbers": np.concatenate([atoms.numbers for atoms in images]),
        "n_atoms": np.array([len(atoms) for atoms in images]),
        "energy": np.array(energy, dtype=np.float64),
        "forces": np.concatenate(forces),
        "cell": np.array([atoms.cell.array for atoms in images]) if periodic else None,
        "pbc": np.array([atoms.pbc for atoms in images]) if periodic else None,
        "attrs": {},
        "units": {},
    }


def _convert(arrays: Dict, energy_unit: str, length_unit: str, force_unit) -> Frames:
    energy_name, energy_factor = units.energy_unit(energy_unit)
    length_name, length_factor = units.length_unit(length_unit)
    force_name, force_factor = units.force_unit(
        force_unit or f"{energy_name}/{length_name}"
    )
    cell = arrays.get("cell")
    attrs = dict(arrays["attrs"])
    attrs.update(
        source_energy_unit=energy_name,
        source_length_unit=length_name,
        source_force_unit=force_name,
    )
    return Frames(
        positions=arrays["positions"] * length_factor,
        numbers=arrays["numbers"],
        n_atoms=arrays["n_atoms"],
        energy=arrays["energy"] * energy_factor,
        forces=arrays["forces"] * force_factor,
        cell=None if cell is None else cell * length_factor,
        pbc=arrays.get("pbc"),
        attrs=attrs,
    )
