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


def _check_store_units(path, energy_unit, length_unit, force_unit) -> None:
    """A store holds eV, Å and eV/Å: naming those units is fine, others are refused."""
    given = {
        "energy": (energy_unit, units.energy_unit),
        "length": (length_unit, units.length_unit),
        "force": (force_unit, units.force_unit),
    }
    for quantity, (unit, convert) in given.items():
        if unit is not None and convert(unit)[1] != 1.0:
            raise ValueError(
                f"{path} is an mlpot store, which always holds eV, Å and eV/Å, but "
                f"{quantity}_unit is {unit!r}; drop {quantity}_unit"
            )


def read_frames(
    path: PathLike,
    format: Optional[str] = None,
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    force_unit: Optional[str] = None,
    labels: str = "default",
    check_units: bool = True,
    energy_key: Optional[str] = None,
    forces_key: Optional[str] = None,
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
    energy_key, forces_key : str, optional
        For files read with ase.io: the ``atoms.info`` key of the energy and
        the ``atoms.arrays`` key of the forces (e.g. ``"REF_energy"`` and
        ``"REF_forces"``, as MACE's ``--energy_key`` and ``--forces_key``).
        Default: the ``energy`` and ``forces`` ase.io attaches as results.

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
    if (energy_key or forces_key) and format in ("hdf5", "rmd17", "sgdml"):
        raise ValueError(
            f"energy_key and forces_key choose labels of files read with ase.io "
            f"(e.g. extended XYZ); {path} is read as {format!r}, whose labels have "
            "fixed names: drop them"
        )
    if format == "hdf5":
        _check_store_units(path, energy_unit, length_unit, force_unit)
        frames = read_store(path)
        checks.check_finite(frames, str(path))
        if check_units:
            checks.check_units(frames, str(path))
        return frames
    if format == "rmd17":
        arrays = _read_rmd17(path, labels)
    elif format == "sgdml":
        arrays = _read_sgdml(path)
    else:
        arrays = _read_ase(path, format, energy_key, forces_key)
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


class _npz:
    """``np.load`` of an .npz without pickles, with errors that name the file."""

    def __init__(self, path: Path):
        self.path = path
        self.data = np.load(path, allow_pickle=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.data.close()

    @property
    def files(self):
        return self.data.files

    def __contains__(self, key):
        return key in self.data.files

    def __getitem__(self, key):
        try:
            return self.data[key]
        except ValueError as error:
            if "allow_pickle" not in str(error):
                raise
            raise ValueError(
                f"{self.path}: array '{key}' holds Python objects, which mlpot does "
                "not load (they could run code); store it as a numeric or string "
                "array (e.g. np.asarray(values, dtype=float)) and save the file again"
            ) from None


def _read_rmd17(path: Path, labels: str) -> Dict:
    energy_key, forces_key = _RMD17_KEYS[labels]
    names = {
        "numbers": "nuclear_charges",
        "positions": "coords",
        "energy": energy_key,
        "forces": forces_key,
    }
    with _npz(path) as data:
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
    with _npz(path) as data:
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


def _label(path: Path, k: int, atoms, name: str, key: Optional[str]):
    """The ``name`` label of frame ``k``: from ``key`` if given, else ase's result."""
    results = atoms.calc.results if atoms.calc is not None else {}
    store = atoms.info if name == "energy" else atoms.arrays
    if key is None and name in results:
        return results[name]
    if key is not None:
        if key in store:
            return store[key]
        if key in results:
            return results[key]
    option = f"{name}_key"
    hint = (
        f"ASE read its {name} as calculator results ({name!r}), so leave "
        f"{option} out (--{option.replace('_', '-')}, data.{option}): the default "
        "reads them"
        if key is not None and name in results
        else f"name the key that holds them with {option}= "
        f"(--{option.replace('_', '-')} on the command line, data.{option} in a "
        "training config)"
    )
    raise ValueError(
        f"missing {'energies' if name == 'energy' else name} in {path}: frame {k} "
        f"has no {key or name!r} (info keys: {sorted(atoms.info)}, per-atom arrays: "
        f"{sorted(atoms.arrays)}); {hint}"
    )


def _config_types(images):
    """Each frame's ``config_type`` tag, or None when no frame has one."""
    tags = [str(atoms.info.get("config_type", "")) for atoms in images]
    return np.array(tags) if any(tags) else None


# Per-atom arrays of ase.Atoms that are never forces.
NOT_FORCES = ("positions", "numbers", "momenta", "masses", "tags", "initial_charges")


def _optional_forces(path: Path, images, key: Optional[str]):
    """Every frame's forces, or None when no frame has any (energy-only data)."""
    if key in NOT_FORCES:
        raise ValueError(
            f"forces_key {key!r} names the atoms' {key}, not forces; name the "
            "per-atom array of the reference forces (e.g. REF_forces), or leave it "
            "out to read forces ASE read as calculator results"
        )
    if key is not None and any(key in atoms.info for atoms in images):
        raise ValueError(
            f"forces_key {key!r} in {path} is a per-frame value (atoms.info), not "
            "per-atom forces; is it the energy key? Name the per-atom array of the "
            f"forces (per-atom arrays: {sorted(images[0].arrays)})"
        )

    def has_forces(atoms):
        if key is not None:
            return key in atoms.arrays or (
                atoms.calc is not None and key in atoms.calc.results
            )
        return atoms.calc is not None and "forces" in atoms.calc.results

    present = [has_forces(atoms) for atoms in images]
    if not any(present):
        return None
    if not all(present):
        missing = [k for k, ok in enumerate(present) if not ok]
        raise ValueError(
            f"{path}: frames {missing[:10]} have no forces while others do; mlpot "
            "reads a file whose frames all carry forces, or none of them "
            "(energy-only); split the file"
        )
    return [_label(path, k, atoms, "forces", key) for k, atoms in enumerate(images)]


def _read_ase(
    path: Path, format: str, energy_key: Optional[str], forces_key: Optional[str]
) -> Dict:
    import ase.io

    try:
        images = ase.io.read(path, index=":", format=format)
    except Exception as error:
        # ase.io raises all kinds of errors on files of another format.
        raise ValueError(
            f"ase.io could not read {path} as {format!r} ({type(error).__name__}: "
            f"{error}); check the file, or pass the right format="
        ) from error
    energy = [
        _label(path, k, atoms, "energy", energy_key) for k, atoms in enumerate(images)
    ]
    forces = _optional_forces(path, images, forces_key)
    periodic = any(atoms.pbc.any() for atoms in images)
    return {
        "positions": np.concatenate([atoms.positions for atoms in images]),
        "numbers": np.concatenate([atoms.numbers for atoms in images]),
        "n_atoms": np.array([len(atoms) for atoms in images]),
        "energy": np.array(energy, dtype=np.float64),
        "forces": None if forces is None else np.concatenate(forces),
        "config_type": _config_types(images),
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
        forces=None if arrays["forces"] is None else arrays["forces"] * force_factor,
        cell=None if cell is None else cell * length_factor,
        pbc=arrays.get("pbc"),
        config_type=arrays.get("config_type"),
        attrs=attrs,
    )
