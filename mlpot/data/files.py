"""File helpers: the path type accepted by the data functions, and checksums."""

import hashlib
import os
from typing import Union

PathLike = Union[str, os.PathLike]


def sha256sum(path: PathLike) -> str:
    """Hex SHA-256 digest of a file's bytes.

    Parameters
    ----------
    path : str or path-like
        File to hash; read in 1 MiB blocks.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
