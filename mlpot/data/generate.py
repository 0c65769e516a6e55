"""Reference data: sample structures, label them with a reference method, store them.

`generate` drives a sampler (`LangevinSampler` or `TorsionSampler`) with the
calculator of a `ReferenceMethod` (GFN2-xTB through tblite by default, DFT
through PySCF as an option) and appends the labelled frames to an HDF5 store
in chunks. Rerunning the same call after an interruption, or with a larger
``n_frames``, continues the store and gives the same frames as one
uninterrupted run: every chunk starts from a stored frame (or the starting
structure) with a fresh calculator and a random generator seeded by
``(seed, index of the chunk's first frame)``.

Example
-------
::

    from ase.build import molecule
    from mlpot.data.generate import LangevinSampler, generate

    generate(molecule("C2H6"), LangevinSampler(temperature_K=500), 1000,
             "ethane-md.h5", method="gfn2-xtb", seed=1)
"""

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Union

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from tqdm.auto import tqdm

from mlpot._version import __version__
from mlpot.data.files import PathLike
from mlpot.data.frames import Frames
from mlpot.data.reference import ReferenceMethod, reference_method
from mlpot.data.store import append_store, read_store
from mlpot.geometry.scan import relaxed_scan, set_torsion
from mlpot.geometry.torsion import rotating_group
from mlpot.md import langevin

# Settings a resumed run must share with the stored frames to continue them.
_RESUME_KEYS = ("method", "sampler", "seed", "chunk_size", "initial_structure_sha256")


class LangevinSampler:
    """Frames from Langevin molecular dynamics (``ase.md.langevin.Langevin``).

    Each chunk of frames continues from the last stored frame with velocities
    drawn afresh from the Maxwell-Boltzmann distribution; this keeps the
    canonical ensemble and makes runs resumable. The centre of mass is held
    fixed (``ase.constraints.FixCom``); stored forces are unconstrained.

    Parameters
    ----------
    temperature_K : float
        Thermostat and initial-velocity temperature in K.
    timestep_fs : float
        MD time step in fs.
    interval : int
        MD steps between stored frames.
    friction_per_fs : float
        Langevin friction in 1/fs.
    """

    continues_trajectory = True

    def __init__(
        self,
        temperature_K: float = 300.0,
        timestep_fs: float = 0.5,
        interval: int = 10,
        friction_per_fs: float = 0.01,
    ):
        self.temperature_K = float(temperature_K)
        self.timestep_fs = float(timestep_fs)
        self.interval = int(interval)
        self.friction_per_fs = float(friction_per_fs)

    def settings(self) -> dict:
        """JSON-able settings, recorded in the store."""
        return {
            "sampler": "langevin",
            "temperature_K": self.temperature_K,
            "timestep_fs": self.timestep_fs,
            "interval": self.interval,
            "friction_per_fs": self.friction_per_fs,
        }

    def sample(
        self,
        start: Atoms,
        calculator: Callable[[], Calculator],
        first: int,
        count: int,
        rng: np.random.Generator,
    ) -> Iterator[Atoms]:
        """Yield ``count`` frames, ``interval`` MD steps apart, after ``start``.

        The yielded structure is the one being integrated, with results of a
        calculator made by ``calculator()``; copy what you keep. ``first`` (the
        index of the first frame) does not change MD frames.
        """
        atoms = start.copy()
        atoms.calc = calculator()
        dynamics = langevin(
            atoms, self.temperature_K, self.timestep_fs, self.friction_per_fs, rng
        )
        for _ in range(count):
            dynamics.run(self.interval)
            yield atoms


class TorsionSampler:
    """Frames spread over the whole circle of one torsion.

    Frame ``k`` has the dihedral at ``angles[k % len(angles)]``; with
    ``mode="relax"`` everything else is relaxed at that dihedral
    (`mlpot.geometry.torsion.relaxed_scan`), with ``mode="perturb"`` the
    starting structure is only turned rigidly. Each frame is then displaced
    by Gaussian noise of ``rattle`` Å per coordinate, so that the forces are
    informative. Every frame starts from the starting structure.

    Parameters
    ----------
    dihedral : (int, int, int, int)
        The dihedral a-b-c-d that is set (the c side of the b-c bond turns).
    angles : sequence of float, optional
        Dihedral angles in degrees, used in turn.
    n_angles : int
        Without ``angles``: that many angles evenly spread from 0°.
    mode : {"relax", "perturb"}
        Relax at each angle, or turn rigidly.
    rattle : float
        Standard deviation of the displacements in Å; the default 0.03 Å
        adds about as much energy to ethane (0.25 eV) as thermal motion at
        300 K.
    fmax : float
        Force threshold of the relaxations in eV/Å.
    """

    continues_trajectory = False

    def __init__(
        self,
        dihedral: Sequence[int],
        angles: Optional[Sequence[float]] = None,
        n_angles: int = 24,
        mode: str = "relax",
        rattle: float = 0.03,
        fmax: float = 0.01,
    ):
        if mode not in ("relax", "perturb"):
            raise ValueError(f"mode must be 'relax' or 'perturb', got {mode!r}")
        if len(dihedral) != 4:
            raise ValueError(f"dihedral needs four atom indices, got {list(dihedral)}")
        self.dihedral = [int(k) for k in dihedral]
        if angles is None:
            angles = np.arange(n_angles) * 360.0 / n_angles
        self.angles = [float(angle) for angle in angles]
        self.mode, self.rattle, self.fmax = mode, float(rattle), float(fmax)
        self._relaxed = {}

    def settings(self) -> dict:
        """JSON-able settings, recorded in the store."""
        return {
            "sampler": "torsion",
            "dihedral": self.dihedral,
            "angles": self.angles,
            "mode": self.mode,
            "rattle": self.rattle,
            "fmax": self.fmax,
        }

    def sample(
        self,
        start: Atoms,
        calculator: Callable[[], Calculator],
        first: int,
        count: int,
        rng: np.random.Generator,
    ) -> Iterator[Atoms]:
        """Yield frames ``first`` ... ``first + count - 1``, with ``calculator()``."""
        for index in range(first, first + count):
            atoms = self._at_angle(
                start, calculator, self.angles[index % len(self.angles)]
            )
            atoms.positions += rng.normal(0.0, self.rattle, atoms.positions.shape)
            atoms.calc = calculator()
            yield atoms

    def _at_angle(self, start: Atoms, calculator, angle: float) -> Atoms:
        if self.mode == "perturb":
            atoms = start.copy()
            set_torsion(atoms, self.dihedral, angle)
            return atoms
        key = (calculator, angle, start.positions.tobytes())
        if key not in self._relaxed:
            scan = relaxed_scan(
                start, calculator(), self.dihedral, [angle], fmax=self.fmax
            )
            self._relaxed[key] = scan.images[0].positions
        atoms = start.copy()
        atoms.positions = self._relaxed[key]
        return atoms


class BondStretchSampler:
    """Frames with one bond stretched or compressed beyond thermal motion.

    Frame ``k`` sets the ``b``-``c`` distance to ``factors[k % len(factors)]``
    times its length in the starting structure by moving the ``c`` side of
    the bond (`mlpot.geometry.torsion.rotating_group`) rigidly along it, then
    displaces every atom by Gaussian noise of ``rattle`` Å per coordinate.
    Such frames lie outside what MD at ordinary temperatures visits: they
    test where a potential stops being trustworthy (bond breaking, close
    contacts). Every frame starts from the starting structure.

    Parameters
    ----------
    bond : (int, int)
        The bond ``(b, c)`` (atom indices from 0); not in a ring.
    factors : sequence of float, optional
        Bond lengths as multiples of the starting length, used in turn.
    n_factors : int
        Without ``factors``: that many evenly spread over ``stretch``.
    stretch : (float, float)
        Without ``factors``: the smallest and largest multiple.
    rattle : float
        Standard deviation of the displacements in Å.
    """

    continues_trajectory = False

    def __init__(
        self,
        bond: Sequence[int],
        factors: Optional[Sequence[float]] = None,
        n_factors: int = 12,
        stretch: Sequence[float] = (0.85, 1.6),
        rattle: float = 0.03,
    ):
        if len(bond) != 2:
            raise ValueError(f"bond needs two atom indices, got {list(bond)}")
        if factors is None:
            low, high = (float(value) for value in stretch)
            factors = np.linspace(low, high, n_factors)
        if min(factors) <= 0.0:
            raise ValueError(f"bond length factors must be positive, got {factors}")
        self.bond = [int(k) for k in bond]
        self.factors = [float(factor) for factor in factors]
        self.rattle = float(rattle)

    def settings(self) -> dict:
        """JSON-able settings, recorded in the store."""
        return {
            "sampler": "stretch",
            "bond": self.bond,
            "factors": self.factors,
            "rattle": self.rattle,
        }

    def sample(
        self,
        start: Atoms,
        calculator: Callable[[], Calculator],
        first: int,
        count: int,
        rng: np.random.Generator,
    ) -> Iterator[Atoms]:
        """Yield frames ``first`` ... ``first + count - 1``, with ``calculator()``."""
        b, c = self.bond
        moving = [int(k) for k in rotating_group(start, self.bond)]
        length = start.get_distance(b, c)
        for index in range(first, first + count):
            atoms = start.copy()
            factor = self.factors[index % len(self.factors)]
            atoms.set_distance(b, c, factor * length, fix=0, indices=moving)
            atoms.positions += rng.normal(0.0, self.rattle, atoms.positions.shape)
            atoms.calc = calculator()
            yield atoms


Sampler = Union[LangevinSampler, TorsionSampler, BondStretchSampler]


def generate(
    atoms: Atoms,
    sampler: Sampler,
    n_frames: int,
    store_path: PathLike,
    method: Union[str, ReferenceMethod] = "gfn2-xtb",
    seed: int = 0,
    chunk_size: int = 50,
    progress: bool = True,
) -> Frames:
    """Sample structures, label them with a reference method, append them to a store.

    If ``store_path`` already holds frames from the same settings, only the
    missing ones are made (resume, or extend to a larger ``n_frames``).

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure, e.g. ``ase.build.molecule("C2H6")``.
    sampler : LangevinSampler, TorsionSampler or BondStretchSampler
        How structures are drawn.
    n_frames : int
        Frames the store should hold when done.
    store_path : str or path-like
        HDF5 store (``.h5``), created or continued.
    method : str or ReferenceMethod
        A name for `reference_method` (default GFN2-xTB through tblite) or
        a `ReferenceMethod` wrapping any ASE calculator.
    seed : int
        Seed of all random numbers.
    chunk_size : int
        Frames per append to the store: an interruption loses at most this
        many. Part of the settings: resume with the same value.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Frames
        Everything in the store, energies in eV and forces in eV/Å.

    Raises
    ------
    ValueError
        If the store holds frames made with other settings or atoms.
    """
    if n_frames < 1 or chunk_size < 1:
        raise ValueError(
            f"need n_frames >= 1 and chunk_size >= 1, got {n_frames} and {chunk_size}"
        )
    reference = (
        method if isinstance(method, ReferenceMethod) else reference_method(method)
    )
    path = Path(store_path)
    attrs = {
        "level_of_theory": reference.level_of_theory,
        "method": reference.description,
        "sampler": json.dumps(sampler.settings(), sort_keys=True),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "initial_structure_sha256": _structure_sha256(atoms),
        "generator": f"mlpot {__version__} (mlpot.data.generate)",
        "source_energy_unit": "eV",
        "source_length_unit": "Angstrom",
        "source_force_unit": "eV/Angstrom",
    }
    stored = _stored_frames(path, atoms, attrs)
    n_done = len(stored) if stored is not None else 0
    first = n_done - n_done % chunk_size
    previous = stored.positions[stored.atom_slice(first - 1)] if first else None
    with tqdm(
        total=max(n_frames, n_done),
        initial=n_done,
        unit="frame",
        desc=f"{reference.level_of_theory}, {sampler.settings()['sampler']}",
        disable=not progress,
    ) as bar:
        while first < n_frames:
            count = min(chunk_size, n_frames - first)
            start = atoms.copy()
            if sampler.continues_trajectory and previous is not None:
                start.positions = previous
            rng = np.random.default_rng([seed, first])
            new, ids = [], []
            images = sampler.sample(start, reference.calculator, first, count, rng)
            for index, image in enumerate(images, start=first):
                previous = image.positions.copy()
                if index >= n_done:
                    new.append(_labelled_frame(image))
                    ids.append(index)
                    bar.update()
            if new:
                append_store(path, _frames(new, ids, atoms, attrs))
            first += count
    return read_store(path)


def _structure_sha256(atoms: Atoms) -> str:
    digest = hashlib.sha256(
        np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes()
    )
    digest.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _stored_frames(path: Path, atoms: Atoms, attrs: dict) -> Optional[Frames]:
    """The frames already in ``path`` if they continue with these settings."""
    if not path.exists():
        return None
    stored = read_store(path)
    for key in _RESUME_KEYS:
        if stored.attrs.get(key) != attrs[key]:
            raise ValueError(
                f"{path} was generated with {key}={stored.attrs.get(key)!r}, not "
                f"{attrs[key]!r}; to continue it use its settings, otherwise "
                "write to a new store"
            )
    if not np.array_equal(stored.frame_ids, np.arange(len(stored))) or any(
        not np.array_equal(stored.numbers[stored.atom_slice(k)], atoms.numbers)
        for k in range(len(stored))
    ):
        raise ValueError(
            f"{path} holds frames that generate() did not write for these atoms; "
            "write to a new store"
        )
    return stored


def _labelled_frame(atoms: Atoms) -> dict:
    return {
        "positions": atoms.positions.copy(),
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(apply_constraint=False),
    }


def _frames(
    rows: List[dict], frame_ids: List[int], atoms: Atoms, attrs: dict
) -> Frames:
    n_atoms = len(atoms)
    periodic = bool(atoms.pbc.any())
    return Frames(
        positions=np.array([row["positions"] for row in rows]).reshape(-1, 3),
        numbers=np.tile(atoms.numbers, len(rows)),
        n_atoms=np.full(len(rows), n_atoms),
        energy=np.array([row["energy"] for row in rows]),
        forces=np.array([row["forces"] for row in rows]).reshape(-1, 3),
        cell=np.repeat(atoms.cell.array[None], len(rows), axis=0) if periodic else None,
        pbc=np.repeat(atoms.pbc[None], len(rows), axis=0) if periodic else None,
        frame_ids=np.asarray(frame_ids, dtype=np.int64),
        attrs=dict(attrs),
    )
