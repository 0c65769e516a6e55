"""The native HDF5 store of `Frames`: one file, eV and Å, provenance in attributes.

Layout (``A`` atoms in all ``F`` frames)::

    positions (A, 3) float64, Å      numbers (A,) int64      n_atoms (F,) int64
    frame_ids (F,) int64             energy (F,) float64, eV (optional)
    forces (A, 3) float64, eV/Å (optional)
    cell (F, 3, 3) float64, Å and pbc (F, 3) bool (optional)

Root attributes: ``format = "mlpot-frames"``, ``format_version``, the units
(``energy_unit``, ``length_unit``, ``force_unit``) and every entry of
``Frames.attrs`` (source file, its sha256, source units, level of theory...).
Datasets are chunked, gzip-compressed and resizable along their first axis.
Every write goes to a temporary file that is renamed over the destination
only when complete; an append extends the datasets of a copy of the store.
"""

import shutil
from contextlib import contextmanager
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
                store.create_dataset(name, **_dataset_arguments(name, values))
    return path


def _dataset_arguments(name: str, values: np.ndarray) -> dict:
    """``create_dataset`` arguments: resizable along frames or atoms, compressed."""
    resizable = {"maxshape": (None, *values.shape[1:]), "chunks": True}
    if name == "config_type":  # variable-length strings take no compression filter
        return {
            "data": values.astype(object),
            "dtype": h5py.string_dtype(),
            **resizable,
        }
    return {"data": values, "compression": "gzip", "shuffle": True, **resizable}


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
    with _opened_store(path) as store:
        arrays = {name: store[name][()] for name in _ARRAYS if name in store}
        if "config_type" in arrays:
            arrays["config_type"] = store["config_type"].asstr()[()]
        attrs = _stored_attrs(store)
    return Frames(**arrays, attrs=attrs)


def append_store(path: PathLike, frames: Frames) -> Path:
    """Add frames to the end of a store, creating it if needed; atomic.

    The store is copied to a temporary file, the copy's datasets are extended
    with the new frames, and the copy is renamed over the store, so an
    interrupted append leaves the previous store intact and the caller can
    resume from ``read_store(path).frame_ids``. A store whose datasets cannot
    be extended (a store of fixed size, or new frames that bring a cell or
    ``config_type`` the store does not have) is rewritten whole instead.

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
    checks.check_finite(frames, "the frames to append")
    with _opened_store(path) as store:
        stored_ids = store["frame_ids"][()]
        stored_attrs = _stored_attrs(store)
        names = [name for name in _ARRAYS if name in store]
        resizable = all(store[name].maxshape[0] is None for name in names)
    repeated = np.intersect1d(stored_ids, frames.frame_ids)
    if len(repeated):
        raise ValueError(
            f"frame ids {repeated[:10].tolist()} are already in {path}; append only "
            "new frames (skip those whose ids are in read_store(path).frame_ids)"
        )
    for key in _MUST_MATCH_ON_APPEND:
        old, new = stored_attrs.get(key), frames.attrs.get(key)
        if old is not None and new is not None and old != new:
            raise ValueError(
                f"cannot append frames with {key}={new!r} to {path}, which holds "
                f"{key}={old!r}; write them to a separate store"
            )
    carried = [name for name in _ARRAYS if getattr(frames, name) is not None]
    if not resizable or carried != names:
        combined = concatenate([read_store(path), frames])
        combined.attrs = {**frames.attrs, **stored_attrs}
        return write_store(path, combined)
    new_attrs = _storable_attrs(
        {k: v for k, v in frames.attrs.items() if k not in stored_attrs}
    )
    with atomic_path(path) as temporary:
        shutil.copyfile(path, temporary)
        with h5py.File(temporary, "r+") as store:
            for name in names:
                values = _dataset_arguments(name, getattr(frames, name))["data"]
                dataset = store[name]
                start = dataset.shape[0]
                dataset.resize(start + len(values), axis=0)
                dataset[start:] = values
            store.attrs.update(new_attrs)
    return path


@contextmanager
def _opened_store(path: PathLike):
    """The store open for reading, its format and version checked.

    Errors h5py raises while the store is open or read (a truncated or
    damaged file) become one ValueError that names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no such file: {path}; check the path, or create a store with "
            "`mlpot-data convert IN OUT.h5`"
        )
    try:
        with h5py.File(path, "r") as store:
            _check_format(store, path)
            yield store
    except (OSError, KeyError) as error:  # h5py's errors for damaged files
        raise ValueError(
            f"{path} could not be read as an HDF5 store ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); the file is "
            "truncated or damaged: write it again (e.g. `mlpot-data convert`)"
        ) from None


def _check_format(store, path: Path) -> None:
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


def _stored_attrs(store) -> dict:
    return {
        key: value.item() if isinstance(value, np.generic) else value
        for key, value in store.attrs.items()
        if key not in _RESERVED
    }


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
