"""Compiled, exported potentials: an AOTInductor package and the object that runs it.

`export_model` traces the one force path (`mlpot.model.forces.energy_and_forces`)
of a potential, with its radial table, into a graph of ATen operations
(``make_fx``, which writes the backward pass out as ordinary operations), exports
that graph with ``torch.export`` (atoms and edges as dynamic dimensions), and
compiles it ahead of time with AOTInductor (``aoti_compile_and_package``). The
package, a ``.pt2`` zip archive, also holds ``extra/mlpot.json``: the model's
species, cutoff, receptive field, dtype and origin. `CompiledPotential` opens it
and evaluates energies, per-atom energies, forces and stress with the same
interface the calculator uses for an eager model.

The program takes one structure: positions (N, 3), atomic numbers (N,), edges
(2, E), edge shifts (E, 3) and a cell (1, 3, 3), and always returns stress
(free molecules are given the unit cell and no shifts, and their stress is
not reported). Structures of fewer than two atoms or two edges are evaluated
with two padding atoms placed out of each other's and everyone's reach (the
exported dimensions start at two: torch specialises sizes 0 and 1).
"""

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from mlpot import keys
from mlpot._version import __version__
from mlpot.dtypes import as_torch_dtype
from mlpot.fileio import atomic_path
from mlpot.graph import AtomicGraph

EXPORT_FORMAT_VERSION = 1
# Under the archive's root folder, in the place torch's pt2 format keeps extra files.
METADATA_MEMBER = "extra/mlpot.json"
MAX_ATOMS = 10_000_000
MAX_EDGES = 2_000_000_000


class ExportError(ValueError):
    """An exported file that cannot be used, or a model that cannot be exported."""


class ForceProgram(nn.Module):
    """What is exported: one structure's energy, per-atom energies, forces and stress.

    Parameters
    ----------
    model : mlpot.model.Potential
        In eval mode, in the dtype of the export.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, positions, numbers, edge_index, edge_shift, cell, local):
        """Evaluate one structure.

        Parameters
        ----------
        positions : Tensor, shape (N, 3)
            Å.
        numbers : Tensor, shape (N,)
            Atomic numbers (int64), all known to the model.
        edge_index : Tensor, shape (2, E)
            Rows: centre i, neighbour j.
        edge_shift : Tensor, shape (E, 3)
            Cell shifts of the edges (zeros for a free molecule).
        cell : Tensor, shape (1, 3, 3)
            Lattice vectors as rows, Å (the unit cell for a free molecule).
        local : Tensor, shape (N,)
            bool: atoms whose energy counts (all but an engine's ghosts).

        Returns
        -------
        tuple of Tensor
            Energy (1,) eV, per-atom energies (N,) eV, forces (N, 3) eV/Å,
            stress (1, 3, 3) eV/Å³ (meaningful only for a periodic cell).
        """
        from mlpot.model.forces import energy_and_forces

        graph = {
            keys.POSITIONS: positions,
            keys.NUMBERS: numbers,
            keys.BATCH: torch.zeros_like(numbers),
            keys.NUM_ATOMS: torch.zeros(1, dtype=torch.int64, device=numbers.device),
            keys.EDGE_INDEX: edge_index,
            keys.EDGE_SHIFT: edge_shift,
            keys.CELL: cell,
            keys.LOCAL: local,
        }
        out = energy_and_forces(self.model, graph, compute_stress=True)
        return out[keys.ENERGY], out[keys.ENERGIES], out[keys.FORCES], out[keys.STRESS]


def export_model(
    model,
    path,
    dtype="float64",
    radial_table: bool = True,
    overwrite: bool = False,
) -> Path:
    """Compile a potential ahead of time into an AOTInductor package.

    Parameters
    ----------
    model : str, Path or mlpot.model.Potential
        A checkpoint or a model (not changed).
    path : str or Path
        Output file; ``.pt2`` is the usual suffix.
    dtype : str or torch.dtype
        Precision of the compiled program (``"float64"`` or ``"float32"``).
    radial_table : bool
        Compile the radial networks as their Hermite tables (see
        `mlpot.model.Potential.tabulate_radial`), as the calculator runs them.
    overwrite : bool
        Replace an existing file at ``path``; otherwise it is refused.

    Returns
    -------
    Path
        ``path``, written atomically.
    """
    import copy

    from mlpot.model.base import Potential
    from mlpot.model.io import model_from_checkpoint, read_checkpoint

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists; choose another output or pass overwrite=True "
            "(--overwrite) to replace it"
        )
    dtype = as_torch_dtype(dtype)
    origin: Dict[str, object] = {}
    if isinstance(model, (str, Path)):
        payload = read_checkpoint(model)
        origin = {"checkpoint": str(model), "digest": payload.get("digest")}
        model = model_from_checkpoint(payload, model, torch.device("cpu"), dtype)
    elif isinstance(model, Potential):
        model = copy.deepcopy(model).to(device="cpu", dtype=dtype)
    else:
        raise TypeError(
            f"export_model needs a checkpoint path or an mlpot Potential, "
            f"got {type(model).__name__}"
        )
    model = model.eval()
    if radial_table and model.can_tabulate_radial:
        model.tabulate_radial()
    metadata = {
        "format_version": EXPORT_FORMAT_VERSION,
        "family": model.family,
        "species": [int(z) for z in model.config.species],
        "r_max": model.r_max,
        "num_layers": int(model.config.num_layers),
        "receptive_field": model.r_max * int(model.config.num_layers),
        "dtype": str(dtype).replace("torch.", ""),
        "radial_table": bool(model.radial_table is not None),
        "domain": getattr(model, "metadata", {}).get("domain"),
        "origin": origin,
        "mlpot_version": __version__,
        "torch_version": torch.__version__,
    }
    program = _export_program(model, dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with tempfile.TemporaryDirectory() as work:
            package = Path(work) / "model.pt2"
            torch._inductor.aoti_compile_and_package(program, package_path=str(package))
            with zipfile.ZipFile(package, "a") as archive:
                root = archive.namelist()[0].split("/")[0]
                archive.writestr(
                    f"{root}/{METADATA_MEMBER}", json.dumps(metadata, indent=1)
                )
            os.replace(package, tmp)
    return path


def _export_program(model, dtype):
    """The `torch.export.ExportedProgram` of `ForceProgram` on ``model``."""
    from ase.build import molecule
    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    from mlpot.graph import from_atoms

    example = molecule("CH3CH2OH")
    example.numbers[:] = np.resize(model.config.species, len(example))
    args = _program_inputs(from_atoms(example, model.r_max, dtype=dtype), dtype)
    program = ForceProgram(model)
    with model.traced_for_export():
        traced = make_fx(program, tracing_mode="symbolic", _allow_non_fake_inputs=True)(
            *args
        )
    atoms = Dim("atoms", min=2, max=MAX_ATOMS)
    edges = Dim("edges", min=2, max=MAX_EDGES)
    shapes = ({0: atoms}, {0: atoms}, {1: edges}, {0: edges}, None, {0: atoms})
    return torch.export.export(traced, args, dynamic_shapes=shapes, strict=False)


def _program_inputs(graph: AtomicGraph, dtype):
    """The six inputs of `ForceProgram` for a one-structure graph."""
    edge_index = graph[keys.EDGE_INDEX]
    shift = graph.get(keys.EDGE_SHIFT)
    if shift is None:
        shift = torch.zeros(edge_index.shape[1], 3, dtype=dtype)
    cell = graph.get(keys.CELL)
    if cell is None:
        cell = torch.eye(3, dtype=dtype).unsqueeze(0)
    local = graph.get(keys.LOCAL)
    if local is None:
        local = torch.ones(graph[keys.NUMBERS].shape[0], dtype=torch.bool)
    return (
        graph[keys.POSITIONS].to(dtype),
        graph[keys.NUMBERS],
        edge_index,
        shift.to(dtype),
        cell.to(dtype),
        local,
    )


def read_export_metadata(path) -> dict:
    """The metadata of an exported file, checked.

    Raises
    ------
    ExportError
        The file is not an mlpot export, or was written by a newer mlpot.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; export a model with mlpot-export"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            member = _metadata_member(archive)
            if member is None:
                raise KeyError(f"no {METADATA_MEMBER} in the archive")
            metadata = json.loads(archive.read(member))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ExportError(
            f"{path} is not a model exported by mlpot-export ({error}); export "
            "the checkpoint with: mlpot-export CKPT -o OUT.pt2"
        ) from None
    version = metadata.get("format_version") if isinstance(metadata, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise ExportError(
            f"{path} has no valid format_version (got {version!r}); export the "
            "checkpoint again with mlpot-export"
        )
    if version > EXPORT_FORMAT_VERSION:
        raise ExportError(
            f"{path} is an export of format {version}, newer than this mlpot "
            f"({__version__}) reads (<= {EXPORT_FORMAT_VERSION}); upgrade mlpot, "
            "or export the checkpoint again with this version"
        )
    return metadata


def is_export(path) -> bool:
    """Whether ``path`` is a file holding an mlpot export (by content)."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return _metadata_member(archive) is not None


def _metadata_member(archive: zipfile.ZipFile) -> Optional[str]:
    """The name of the metadata member of an archive (KeyError-safe: None if none)."""
    for name in archive.namelist():
        if name.count("/") == 2 and name.endswith("/" + METADATA_MEMBER):
            return name
    return None


class CompiledPotential:
    """An exported potential, run by AOTInductor, for `mlpot.MLPotCalculator`.

    It has the parts of `mlpot.model.Potential` the calculator and the force
    path use: ``r_max``, ``family``, ``config.species``, ``metadata``,
    `check_species` and `energy_and_forces`. It cannot be trained.

    Parameters
    ----------
    path : str or Path
        An ``.pt2`` file written by `export_model`.
    """

    is_compiled = True
    training = False

    def __init__(self, path):
        from types import SimpleNamespace

        from mlpot.model.base import Potential

        self.path = Path(path)
        meta = read_export_metadata(self.path)
        self.export_metadata = meta
        self.family = meta["family"]
        self.r_max = float(meta["r_max"])
        self.receptive_field = float(meta["receptive_field"])
        self.dtype = as_torch_dtype(meta["dtype"])
        self.config = SimpleNamespace(
            species=list(meta["species"]), num_layers=meta["num_layers"]
        )
        self.metadata = {"domain": meta.get("domain")}
        self._check = Potential.check_species.__get__(self)
        self._runner = torch._inductor.aoti_load_package(str(self.path))

    def check_species(self, numbers) -> None:
        """Raise `mlpot.model.base.UnknownSpeciesError` for unknown elements."""
        self._check(numbers)

    def to(self, device=None, dtype=None) -> "CompiledPotential":
        """``self``; a compiled program keeps the dtype and device it was built for."""
        if dtype is not None and as_torch_dtype(dtype) != self.dtype:
            raise ExportError(
                f"{self.path} was compiled in {self.export_metadata['dtype']}; "
                f"export it again with --dtype {str(dtype).replace('torch.', '')} "
                f"or evaluate it in {self.export_metadata['dtype']}"
            )
        if device is not None and torch.device(device).type != "cpu":
            raise ExportError(
                f"{self.path} was compiled for the CPU; export it on {device}"
            )
        return self

    def eval(self) -> "CompiledPotential":
        return self

    def energy_and_forces(self, graph: AtomicGraph, compute_stress: bool = False):
        """Energy, per-atom energies, forces and stress of a batch, as the eager path.

        Structures of a batch are evaluated one after another.

        Returns
        -------
        dict
            ``energy`` (B,), ``energies`` (N,), ``forces`` (N, 3) and, when
            asked, ``stress`` (B, 3, 3) (periodic cells only).
        """
        if compute_stress and keys.CELL not in graph:
            raise ValueError(
                "stress needs a periodic cell; set atoms.cell and atoms.pbc"
            )
        parts = [self._one(part) for part in _structures(graph)]
        out = {
            keys.ENERGY: torch.cat([p[0] for p in parts]),
            keys.ENERGIES: torch.cat([p[1] for p in parts]),
            keys.FORCES: torch.cat([p[2] for p in parts]),
        }
        if compute_stress:
            out[keys.STRESS] = torch.cat([p[3] for p in parts])
        return out

    def _one(self, graph: AtomicGraph):
        # keys.LOCAL is passed through, so an engine's ghosts work here too.
        args = _program_inputs(graph, self.dtype)
        n_atoms, n_edges = args[0].shape[0], args[2].shape[1]
        if n_atoms >= 2 and n_edges >= 2:
            energy, energies, forces, stress = self._runner(*args)
            return energy, energies, forces, stress
        padded = _padded(args, self.r_max, self.config.species[0])
        energy, energies, forces, stress = self._runner(*padded)
        # The padding atoms are not local: their energies are not in ``energy``.
        return energy, energies[:n_atoms], forces[:n_atoms], stress


def _structures(graph: AtomicGraph):
    """The one-structure graphs of a batch."""
    counts = graph[keys.NUM_ATOMS]
    if counts.shape[0] == 1:
        yield graph
        return
    batch = graph[keys.BATCH]
    edge_index = graph[keys.EDGE_INDEX]
    edge_batch = batch[edge_index[0]]
    start = 0
    for b, count in enumerate(counts.tolist()):
        on = edge_batch == b
        part = {
            keys.POSITIONS: graph[keys.POSITIONS][start : start + count],
            keys.NUMBERS: graph[keys.NUMBERS][start : start + count],
            keys.NUM_ATOMS: counts[b : b + 1],
            keys.EDGE_INDEX: edge_index[:, on] - start,
        }
        if keys.LOCAL in graph:
            part[keys.LOCAL] = graph[keys.LOCAL][start : start + count]
        if keys.CELL in graph:
            part[keys.CELL] = graph[keys.CELL][b : b + 1]
            part[keys.EDGE_SHIFT] = graph[keys.EDGE_SHIFT][on]
        start += count
        yield part


def _padded(args, r_max: float, filler: int):
    """Inputs with two padding atoms (element ``filler``), 2 r_max apart and from all.

    They are not local, so their energies do not count; nothing is in their reach.
    """
    positions, numbers, edge_index, shift, cell, local = args
    n = positions.shape[0]
    reach = float(positions.abs().max()) if n else 0.0
    far = reach + 4.0 * r_max
    extra = torch.tensor(
        [[far, far, far], [far + 2.0 * r_max, far, far]], dtype=positions.dtype
    )
    return (
        torch.cat([positions, extra]),
        torch.cat([numbers, torch.full((2,), filler, dtype=numbers.dtype)]),
        torch.cat([edge_index, torch.tensor([[n, n + 1], [n + 1, n]])], dim=1),
        torch.cat([shift, torch.zeros(2, 3, dtype=shift.dtype)]),
        cell,
        torch.cat([local, torch.zeros(2, dtype=torch.bool)]),
    )


def compiled_cache_path(checkpoint, dtype) -> Path:
    """Where `load_calculator(..., compiled=True)` keeps the export of a checkpoint.

    ``$MLPOT_CACHE`` or ``~/.cache/mlpot``, under ``compiled/``, named by the
    checkpoint's content, the dtype and the mlpot and torch versions.
    """
    digest = hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("MLPOT_CACHE", Path.home() / ".cache" / "mlpot"))
    name = f"{digest}-{str(as_torch_dtype(dtype)).replace('torch.', '')}"
    return root / "compiled" / f"{name}-mlpot{__version__}-torch{torch.__version__}.pt2"


def compiled_potential(checkpoint, dtype="float64", cache: Optional[Path] = None):
    """The compiled form of a checkpoint, exported on first use and then reused.

    Parameters
    ----------
    checkpoint : str or Path
    dtype : str or torch.dtype
    cache : Path, optional
        File of the export; default `compiled_cache_path`.

    Returns
    -------
    CompiledPotential
    """
    target = (
        Path(cache) if cache is not None else compiled_cache_path(checkpoint, dtype)
    )
    if not target.is_file():
        export_model(checkpoint, target, dtype=dtype)
    return CompiledPotential(target)
