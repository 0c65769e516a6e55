"""Datasets: readers, the HDF5 store, splits and downloads."""

from mlpot.data.frames import Frames

__all__ = ["Frames"]
