"""The native HDF5 store of `Frames`: one file, eV and Å, provenance in attributes.

Layout (``A`` atoms in all ``F`` frames)::

    positions (A, 3) float64, Å      numbers (A,) int64      n_atoms (F,) int64
    frame_ids (F,) int64             energy (F,) float64, eV (optional)
    forces (A, 3) float64, eV/Å (optional)
    cell (F, 3, 3) float64, Å and pbc (F, 3) bool (optional)

Root attributes: ``format = "mlpot-frames"``, ``format_version``, the units
(``energy_unit``, ``length_unit``, ``force_unit``) and every entry of
``Frames.attrs`` (source file, its sha256, source units, level of theory...).
Datasets are chunked and gzip-compressed. Every write goes to a temporary
file that is renamed over the destination only when complete.
"""

from pathlib import Path

import h5py
import numpy as np

from mlpot.data import checks
from mlpot.data.files import PathLike
from mlpot.data.frames import Frames, concatenate
from mlpot.fileio import atomic_path

STORE_FORMAT = "mlpot-frames"
STORE_VERSION = 1
STORE_UNITS = {
    "energy_unit": "eV",
    "length_unit": "Angstrom",
    "force_unit": "eV/Angstrom",
}
_RESERVED = {"format", "format_version", *STORE_UNITS}
_ARRAYS = (
    "positions",
    "numbers",
    "n_atoms",
    "frame_ids",
    "energy",
    "forces",
    "cell",
    "pbc",
    "config_type",
)
# Appending frames computed at another level of theory would silently mix labels.
_MUST_MATCH_ON_APPEND = ("level_of_theory",)


def write_store(path: PathLike, frames: Frames) -> Path:
    """Write `Frames` to an HDF5 store, replacing ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        Destination, conventionally ``*.h5``. Missing folders are created.
    frames : Frames
        Positions in Å, energies in eV, forces in eV/Å. ``frames.attrs``
        values must be str, int, float or bool.

    Returns
    -------
    Path
        ``path``.
    """
    checks.check_finite(frames, "the frames to store")
    attrs = _storable_attrs(frames.attrs)
    path = Path(path)
    with atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as store:
            store.attrs.update(format=STORE_FORMAT, format_version=STORE_VERSION)
            store.attrs.update(STORE_UNITS)
            store.attrs.update(attrs)
            for name in _ARRAYS:
                values = getattr(frames, name)
                if values is None:
                    continue
                if name == "config_type":
                    store.create_dataset(
                        name, data=values.astype(object), dtype=h5py.string_dtype()
                    )
                    continue
                store.create_dataset(
                    name, data=values, chunks=True, compression="gzip", shuffle=True
                )
    return path


def read_store(path: PathLike) -> Frames:
    """Read an HDF5 store written by `write_store`.

    Parameters
    ----------
    path : str or path-like
        The store.

    Returns
    -------
    Frames
        In eV and Å, with the stored provenance in ``attrs``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no such file: {path}; check the path, or create a store with "
            "`mlpot-data convert IN OUT.h5`"
        )
    try:
        return _read_store(path)
    except (OSError, KeyError) as error:  # h5py's errors for damaged files
        raise ValueError(
            f"{path} could not be read as an HDF5 store ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); the file is "
            "truncated or damaged: write it again (e.g. `mlpot-data convert`)"
        ) from None


def _read_store(path: Path) -> Frames:
    with h5py.File(path, "r") as store:
        if store.attrs.get("format") != STORE_FORMAT:
            raise ValueError(
                f"{path} is an HDF5 file but not an mlpot store (no format="
                f"'{STORE_FORMAT}' attribute); convert the source data with "
                "`mlpot-data convert IN OUT.h5`"
            )
        if "format_version" not in store.attrs:
            raise ValueError(
                f"{path} has no format_version attribute, so it was not written "
                "by mlpot (or was edited); convert the source data again with "
                "`mlpot-data convert IN OUT.h5`"
            )
        version = int(store.attrs["format_version"])
        if version > STORE_VERSION:
            raise ValueError(
                f"{path} is a version {version} store, newer than this mlpot "
                f"reads (version {STORE_VERSION}); upgrade mlpot"
            )
        arrays = {name: store[name][()] for name in _ARRAYS if name in store}
        if "config_type" in arrays:
            arrays["config_type"] = store["config_type"].asstr()[()]
        attrs = {
            key: value.item() if isinstance(value, np.generic) else value
            for key, value in store.attrs.items()
            if key not in _RESERVED
        }
    return Frames(**arrays, attrs=attrs)


def append_store(path: PathLike, frames: Frames) -> Path:
    """Add frames to the end of a store, creating it if needed; atomic.

    The whole new store is written to a temporary file and renamed, so an
    interrupted append leaves the previous store intact and the caller can
    resume from ``read_store(path).frame_ids``.

    Parameters
    ----------
    path : str or path-like
        The store.
    frames : Frames
        New frames (eV, Å) with frame ids not yet in the store, and labels
        of the same kinds (energy, forces) as the stored frames.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if not path.exists():
        return write_store(path, frames)
    stored = read_store(path)
    repeated = np.intersect1d(stored.frame_ids, frames.frame_ids)
    if len(repeated):
        raise ValueError(
            f"frame ids {repeated[:10].tolist()} are already in {path}; append only "
            "new frames (skip those whose ids are in read_store(path).frame_ids)"
        )
    for key in _MUST_MATCH_ON_APPEND:
        old, new = stored.attrs.get(key), frames.attrs.get(key)
        if old is not None and new is not None and old != new:
            raise ValueError(
                f"cannot append frames with {key}={new!r} to {path}, which holds "
                f"{key}={old!r}; write them to a separate store"
            )
    combined = concatenate([stored, frames])
    combined.attrs = {**frames.attrs, **stored.attrs}
    return write_store(path, combined)


def _storable_attrs(attrs):
    storable = {}
    for key, value in attrs.items():
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, (str, int, float, bool)):
            raise ValueError(
                f"Frames.attrs[{key!r}] is a {type(value).__name__}; store "
                "attributes must be str, int, float or bool: encode it as a "
                "string (e.g. json.dumps) first"
            )
        if key in _RESERVED:
            raise ValueError(
                f"Frames.attrs[{key!r}] would overwrite a store attribute; "
                f"rename it (reserved: {sorted(_RESERVED)})"
            )
        storable[key] = value
    return storable
