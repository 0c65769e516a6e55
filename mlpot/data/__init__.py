"""Datasets: readers, the HDF5 store, splits and downloads.

Everything read comes out as `Frames` in eV and Å; the units of the source
are recorded in ``Frames.attrs``.
"""

from mlpot.data.checks import UnitConsistencyError, check_finite, check_units
from mlpot.data.download import (
    DATASETS,
    DownloadError,
    data_dir,
    download,
    download_file,
)
from mlpot.data.frames import Frames, concatenate
from mlpot.data.readers import detect_format, read_frames
from mlpot.data.splits import find_duplicates, load_split, save_split, split_indices
from mlpot.data.store import append_store, read_store, write_store

__all__ = [
    "DATASETS",
    "DownloadError",
    "Frames",
    "UnitConsistencyError",
    "append_store",
    "check_finite",
    "check_units",
    "concatenate",
    "data_dir",
    "detect_format",
    "download",
    "download_file",
    "find_duplicates",
    "load_split",
    "read_frames",
    "read_store",
    "save_split",
    "split_indices",
    "write_store",
]
