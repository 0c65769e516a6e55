"""Download known public data sets, pinned by commit and sha256, with resume.

Files come from the repositories the data was published in, at fixed commits
(see ``DATASETS``). A download goes to ``<file>.part`` in the cache folder and
continues from where it stopped (HTTP Range) when run again; the file gets its
final name only once its sha256 matches.

The base URL (default ``https://raw.githubusercontent.com``) can be changed
with ``base_url=`` or the ``MLPOT_DATA_URL`` environment variable, e.g. to a
mirror; the cache folder (default ``~/.cache/mlpot``) with ``cache_dir=`` or
``MLPOT_DATA_DIR``.
"""

import http.client
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from mlpot.data.files import PathLike, sha256sum

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
DEFAULT_CACHE_DIR = "~/.cache/mlpot"
BASE_URL_VARIABLE = "MLPOT_DATA_URL"
CACHE_DIR_VARIABLE = "MLPOT_DATA_DIR"


class DownloadError(OSError):
    """A file could not be fetched, or arrived with the wrong checksum."""


@dataclass(frozen=True)
class KnownFile:
    """A published data file: where it lives and what its bytes hash to.

    Attributes
    ----------
    path : str
        Location relative to the base URL (owner/repo/commit/path for GitHub).
    sha256 : str
        Hex SHA-256 of the file.
    description : str
        What the file holds and where it comes from.
    """

    path: str
    sha256: str
    description: str

    @property
    def filename(self) -> str:
        """Name of the file in the cache folder."""
        return self.path.rsplit("/", 1)[-1]


_RMD17_ROOT = "andersx/rmd17-npz/4f6bb0a186822c90d47cd98b7a27991fe0b3173b/rmd17-npz"
_RMD17_SHA256 = {
    "aspirin": {
        "train": "d460f0e43a1a9411b55cdcd9cdbeb9466ae62851ac91392516ab88e4ebc68143",
        "test": "a3c3b61e782d01e6dd649a126004903f7873e8e7ee5034135abfdb8873be711d",
    },
    "azobenzene": {
        "train": "7a2ce543773f6cb7a2cccecbc37fd479781e27ec2d0bb4e5f9ecff8e404e5857",
        "test": "e83c87fe541a95e7349684e47294821ada708a780b59c469d3792588213cfc05",
    },
    "benzene": {
        "train": "6e69deb5dc8663c2d2461cc50e522c74742acea7b4185da348fc08585a15cdc7",
        "test": "4aad4aa2f5ae6aa78d2d9f5da7cb285c97864cfbdf054b67de12a1429b249534",
    },
    "ethanol": {
        "train": "096946747b8d9dcfa042b44f8debbd3da387dfe1586b659e3be789cc4927316a",
        "test": "c3594a0f93d5992e02f9eb671392fb2e5021b3fa4f902417886966d1e4f64e1e",
    },
    "naphthalene": {
        "train": "940f41110785fb0d3fa5feac68800cf4c68bd05fd55d563d3adacf5247d7688a",
        "test": "80a19bca6aaa5cdf241007d6a7332e7b96a8e6ef362c1badcdb86a574ac3fe06",
    },
    "salicylic": {
        "train": "9f96d79ec7a66dec666dbba60307c083ede80ecc919e0c9513ad9accfe43b5c0",
        "test": "4a03f66c719d7684f39620b2bae6842613482a86cdd4e6f95115ae4d37f03cc0",
    },
    "toluene": {
        "train": "24d0642f897a1da1fdc4dbdd0a9c2a7f6082dd88e02954b12896a45a7a5fbac7",
        "test": "8a658b9bf1b7a5c1abaa03846ee6302725e02bdcd2ab720ef94da0be55625faa",
    },
}

DATASETS: Dict[str, KnownFile] = {
    f"rmd17-{molecule}-{split}-01": KnownFile(
        path=f"{_RMD17_ROOT}/rmd17_{molecule}_{split}_01.npz",
        sha256=sha256,
        description=(
            f"rMD17 {molecule}, {split} set of split 01: 1000 frames, PBE/def2-SVP "
            "(Christensen & von Lilienfeld 2020, CC0), kcal/mol"
        ),
    )
    for molecule, by_split in _RMD17_SHA256.items()
    for split, sha256 in by_split.items()
}
DATASETS["sgdml-ethanol-ccsdt-train"] = KnownFile(
    path=(
        "learningmatter-mit/NeuralForceField/07fec92f9f09b98677763e32d8d32719e2c6c78c/"
        "tutorials/data/ethanol_ccsd_t-train.npz"
    ),
    sha256="c94db6a0cfac60c5172c9a22dbc5276a3a6e725fcb2f3ecbde67f0081dca5be2",
    description=(
        "sGDML ethanol training set: 1000 frames, CCSD(T)/cc-pVTZ "
        "(Chmiela et al. 2018), kcal/mol"
    ),
)
DATASETS["rmd17-ethanol-xyz-100"] = KnownFile(
    path=(
        "metatensor/metatrain/e2af06720264c6853020864db416aa53f215f058/"
        "tests/resources/ethanol_reduced_100.xyz"
    ),
    sha256="f4905f4bd98110f0f02d9f51c5a48a6e3b36ce32a61917a4dd93691e3019a192",
    description=(
        "extended XYZ of rMD17 ethanol, first 100 training frames of split 01 "
        "(metatrain test resource, BSD-3), kcal/mol"
    ),
)


def data_dir(cache_dir: Optional[PathLike] = None) -> Path:
    """Folder where downloads are kept.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Explicit folder; otherwise ``$MLPOT_DATA_DIR``, otherwise
        ``~/.cache/mlpot``.

    Returns
    -------
    Path
    """
    chosen = cache_dir or os.environ.get(CACHE_DIR_VARIABLE) or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


def download(
    name: str,
    cache_dir: Optional[PathLike] = None,
    base_url: Optional[str] = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch a known data set into the cache folder, or find it there.

    Parameters
    ----------
    name : str
        A key of ``DATASETS``, e.g. ``"rmd17-ethanol-train-01"``.
    cache_dir : str or path-like, optional
        See `data_dir`.
    base_url : str, optional
        Replaces ``https://raw.githubusercontent.com`` (default from
        ``$MLPOT_DATA_URL``); the file is fetched from
        ``<base_url>/<KnownFile.path>``.
    timeout : float
        Seconds to wait for the server before giving up.

    Returns
    -------
    Path
        The verified file.
    """
    if name not in DATASETS:
        raise ValueError(
            f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))} "
            "(`mlpot-data download --list`)"
        )
    known = DATASETS[name]
    base = base_url or os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
    url = f"{base.rstrip('/')}/{known.path}"
    return download_file(
        url, data_dir(cache_dir) / known.filename, known.sha256, timeout
    )


def download_file(
    url: str, destination: PathLike, sha256: str, timeout: float = 60.0
) -> Path:
    """Fetch ``url`` to ``destination``, resuming a partial download, checking sha256.

    Parameters
    ----------
    url : str
        http(s) URL of the file.
    destination : str or path-like
        Final path. If it exists with the right checksum nothing is fetched.
    sha256 : str
        Expected hex SHA-256 of the file.
    timeout : float
        Seconds to wait for the server before giving up.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    DownloadError
        The server cannot be reached or refuses the file, or the bytes do not
        match ``sha256`` (the bad download is then deleted).
    """
    destination = Path(destination)
    if destination.is_file() and sha256sum(destination) == sha256:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    _fetch(url, partial, timeout, sha256)
    digest = sha256sum(partial)
    if digest != sha256:
        partial.unlink()
        raise DownloadError(
            f"checksum mismatch for {url}: expected sha256 {sha256}, got {digest}. "
            "The file was deleted; retry, and if it happens again the server (or "
            "base_url / MLPOT_DATA_URL) serves a different file"
        )
    os.replace(partial, destination)
    return destination


def _fetch(url: str, partial: Path, timeout: float, sha256: str) -> None:
    """Append the missing bytes of ``url`` to ``partial`` (or start it afresh)."""
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as response:
            # A server that ignores Range answers 200 with the whole file.
            resumed = response.status == 206 and _range_start(response) == offset
            with open(partial, "ab" if resumed else "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return  # nothing left to fetch: the partial file is complete
        raise DownloadError(
            f"{url} answered HTTP {error.code} {error.reason}; check the data set "
            "name and base_url / MLPOT_DATA_URL"
        ) from None
    except (
        urllib.error.URLError,
        ConnectionError,
        TimeoutError,
        http.client.HTTPException,
    ) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"cannot download {url} ({reason}); are you offline? Connect and run "
            "again (the partial download is resumed), use a mirror with base_url= "
            f"or {BASE_URL_VARIABLE}, or copy the file to "
            f"{partial.with_suffix('')} yourself (sha256 {sha256})"
        ) from None


def _range_start(response) -> Optional[int]:
    """First byte offset of a 206 response, from ``Content-Range: bytes a-b/n``."""
    content_range = response.headers.get("Content-Range", "")
    unit, _, span = content_range.partition(" ")
    start = span.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else None
