"""ASE calculators backed by mlpot potentials.

Results are in eV, eV/Å and eV/Å³ like every ASE calculator. Stress is
computed only for fully periodic cells; asking a free molecule for stress
raises ASE's ``PropertyNotImplementedError``.
"""

import copy
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from mlpot import keys
from mlpot.domain import DomainGuard
from mlpot.dtypes import as_torch_dtype
from mlpot.export import CompiledPotential, compiled_potential, is_export
from mlpot.graph import check_structure, collate, from_arrays
from mlpot.memory import reuse_large_allocations
from mlpot.model.base import Potential
from mlpot.model.committee import (
    Committee,
    committee_predictions,
    is_committee,
    load_committee,
)
from mlpot.model.forces import energy_and_forces
from mlpot.model.io import CheckpointError, model_from_checkpoint, read_checkpoint
from mlpot.neighbours import VerletNeighbourList, edge_lengths
from mlpot.threads import intra_op_threads, threads_for


class MLPotCalculator(Calculator):
    """ASE calculator for any mlpot potential.

    Parameters
    ----------
    model : str, Path or Potential
        A checkpoint path or a model instance.
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    dtype : str or torch.dtype
        ``"float64"`` (default, for MD and tests) or ``"float32"`` (faster;
        energies are still accumulated in float64).
    skin : float
        Verlet skin in Å: the neighbour list is reused until an atom moves
        more than ``skin / 2``. Results do not depend on it.
    radial_table : bool
        Replace the radial networks by cubic Hermite tables of their exact
        values and derivatives (see :meth:`mlpot.model.Potential.tabulate_radial`),
        built in the calculator's dtype: faster, and within about 1e-9 eV of
        the networks' energy and 1e-6 eV/Å of their forces. Models without
        length-only radial networks (the cartesian and gcn settings) always
        run their networks. With a table, a model instance passed in is
        copied, so the caller's model is left as it was; the calculator then
        evaluates the weights the model had when the calculator was made.
    radial_table_spacing : float
        Grid spacing of the tables in Å.
    compiled : bool
        Run the model compiled ahead of time (`mlpot.export`): a checkpoint is
        exported on first use into a cache (`mlpot.export.compiled_cache_path`)
        and the export is reused afterwards. A file written by ``mlpot-export``
        is always run compiled. Energies and forces equal the eager model's to
        about 1e-12 eV/Å in float64; the compiled program has the dtype it was
        exported in.
    num_threads : "auto", int or None
        Intra-op threads of each call (see :mod:`mlpot.threads`): ``"auto"``
        runs structures of fewer than 100 atoms on one thread, which is as
        fast as two on an idle machine and steady beside busy processes, and
        larger ones with the process's setting; an int fixes the number; None
        leaves torch's setting alone. The setting is restored after each call.
    **kwargs
        ``label``, ``directory``, ``restart``, ``ignore_bad_restart_file`` or
        ``atoms``, passed to :class:`ase.calculators.calculator.Calculator`;
        any other name is refused.

    Examples
    --------
    >>> atoms.calc = MLPotCalculator("models/ethanol-equivariant.ckpt")
    >>> atoms.get_forces()  # eV/Å  # doctest: +SKIP
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]
    nolabel = True
    family: Optional[str] = None

    def __init__(
        self,
        model,
        device="cpu",
        dtype="float64",
        skin=0.5,
        radial_table=True,
        radial_table_spacing=0.0025,
        num_threads="auto",
        compiled=False,
        _owned=False,
        **kwargs,
    ):
        _refuse_unknown_options(type(self).__name__, kwargs)
        super().__init__(**kwargs)
        reuse_large_allocations()
        self.dtype = as_torch_dtype(dtype)
        threads_for(1, num_threads)  # refuse a bad setting now, not at the first call
        self.num_threads = num_threads
        self.device = torch.device(device)
        if isinstance(model, (str, Path)) and (compiled or is_export(model)):
            model = (
                CompiledPotential(model)
                if is_export(model)
                else compiled_potential(model, self.dtype)
            )
        if isinstance(model, CompiledPotential):
            self._check_family(model.family, f"'{model.path}'")
            model = model.to(device=self.device, dtype=self.dtype)
        elif isinstance(model, (str, Path)):
            payload = read_checkpoint(model)
            self._check_family(payload["model_family"], f"'{model}'")
            model = model_from_checkpoint(payload, model, self.device, self.dtype)
        elif not isinstance(model, (Potential, Committee)):
            raise TypeError(
                "model must be a checkpoint path or an mlpot Potential, "
                f"got {type(model).__name__}"
            )
        else:
            self._check_family(model.family, "the model")
            parameter = next(model.parameters())
            tabulate = radial_table and model.can_tabulate_radial
            if not _owned and (
                tabulate
                or parameter.dtype != self.dtype
                or parameter.device != self.device
            ):
                model = copy.deepcopy(model)  # leave the caller's model as it was
            model = model.to(device=self.device, dtype=self.dtype).eval()
        if (
            not isinstance(model, CompiledPotential)
            and radial_table
            and model.can_tabulate_radial
        ):
            model.tabulate_radial(radial_table_spacing)
        self.model = model
        self.neighbours = VerletNeighbourList(model.r_max, skin)
        self.domain = DomainGuard(
            getattr(model, "metadata", {}).get("domain"),
            exact_lone_atoms=bool(
                getattr(getattr(model, "config", None), "atom_reference", False)
            ),
        )

    @classmethod
    def from_checkpoint(cls, path, device="cpu", dtype="float64", **kwargs):
        """Calculator for the model stored at ``path``."""
        return cls(path, device=device, dtype=dtype, **kwargs)

    def _check_family(self, family: str, what: str):
        if self.family is None or family == self.family:
            return
        right = CALCULATOR_FOR_FAMILY[family].__name__
        raise CheckpointError(
            f"{what} holds a model of the {family} family, but "
            f"{type(self).__name__} runs {self.family} models; "
            f"use {right} or mlpot.load_calculator"
        )

    def check_state(self, atoms, tol=1e-15):
        """Which of positions, numbers, cell and pbc changed since the last call.

        The model depends on nothing else, so unlike ASE's default this does
        not compare charges, magnetic moments or other per-atom arrays.

        Parameters
        ----------
        atoms : ase.Atoms
        tol : float
            Largest difference in Å still counted as unchanged.

        Returns
        -------
        list of str
            A subset of ``["positions", "numbers", "cell", "pbc"]``, or
            ASE's ``all_changes`` when there was no previous call.
        """
        previous = self.atoms
        if previous is None:
            return list(all_changes)
        changes = []
        if not _same(previous.positions, atoms.positions, tol):
            changes.append("positions")
        if not _same(previous.numbers, atoms.numbers, 0):
            changes.append("numbers")
        if not _same(previous.cell.array, atoms.cell.array, tol):
            changes.append("cell")
        if not _same(previous.pbc, atoms.pbc, 0):
            changes.append("pbc")
        ignored = self.ignored_changes
        return [c for c in changes if c not in ignored] if ignored else changes

    def _graph(self, atoms):
        positions, numbers = atoms.positions, atoms.numbers
        check_structure(positions, numbers)
        self.model.check_species(numbers)
        edges = self.neighbours.get(positions, numbers, atoms.cell.array, atoms.pbc)
        self.domain.check(numbers, self.neighbours.lengths)
        return from_arrays(
            positions,
            numbers,
            self.model.r_max,
            atoms.cell.array,
            atoms.pbc,
            edges=edges,
            dtype=self.dtype,
        )

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Compute energy, per-atom energies, forces and, for periodic cells, stress."""
        super().calculate(atoms, properties, system_changes)
        graph = self._graph(self.atoms)
        want_stress = "stress" in properties and bool(self.atoms.pbc.all())
        self.results = self._results(self._evaluate(graph, want_stress), want_stress)

    @staticmethod
    def _results(out, want_stress) -> dict:
        """ASE results (numpy, eV, eV/Å, Voigt stress) of one structure's ``out``."""
        energy = float(out[keys.ENERGY][0].detach())
        results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out[keys.ENERGIES].detach().cpu().numpy(),
            "forces": out[keys.FORCES].detach().cpu().to(torch.float64).numpy(),
        }
        if want_stress:
            stress = out[keys.STRESS][0].detach().cpu().to(torch.float64).numpy()
            results["stress"] = full_3x3_to_voigt_6_stress(stress)
        return results

    def _evaluate(self, graph, compute_stress=False):
        graph = {k: v.to(self.device) for k, v in graph.items()}
        n_atoms = int(graph[keys.NUMBERS].shape[0])
        with intra_op_threads(threads_for(n_atoms, self.num_threads)):
            return energy_and_forces(self.model, graph, compute_stress=compute_stress)

    def calculate_many(self, atoms_list) -> List[dict]:
        """Evaluate many structures in one batched model call.

        Parameters
        ----------
        atoms_list : sequence of ase.Atoms

        Returns
        -------
        list of dict
            Per structure: ``energy`` (eV), ``energies`` (N,) eV and
            ``forces`` (N, 3) eV/Å, and for a committee ``energy_std``,
            ``forces_std``, ``max_forces_std``, ``member_energies`` and
            ``member_forces`` (see `CommitteeCalculator`). The atoms' own calculators
            are not touched.
        """
        atoms_list = list(atoms_list)
        if not atoms_list:
            raise ValueError(
                "calculate_many got no structures; pass a non-empty list of ase.Atoms"
            )
        graphs = []
        for atoms in atoms_list:
            graph = from_arrays(
                atoms.positions,
                atoms.numbers,
                self.model.r_max,
                atoms.cell.array,
                atoms.pbc,
                dtype=self.dtype,
            )
            self.model.check_species(atoms.numbers)
            self.domain.check(atoms.numbers, _edge_lengths(graph))
            graphs.append(graph)
        out = self._evaluate(collate(graphs))
        splits = np.cumsum([len(a) for a in atoms_list])[:-1]
        energies = np.split(out[keys.ENERGIES].detach().cpu().numpy(), splits)
        forces = np.split(
            out[keys.FORCES].detach().cpu().to(torch.float64).numpy(), splits
        )
        results = [
            {"energy": float(e), "energies": ea, "forces": f}
            for e, ea, f in zip(
                out[keys.ENERGY].detach().tolist(), energies, forces, strict=True
            )
        ]
        if "forces_std" in out:  # a committee: the spread of each structure
            spreads = np.split(_numpy(out["forces_std"]), splits)
            member_energies = _numpy(out["member_energies"]).T
            member_forces = np.split(_numpy(out["member_forces"]), splits, axis=1)
            for result, energy_std, spread, energies, forces in zip(
                results,
                out["energy_std"].tolist(),
                spreads,
                member_energies,
                member_forces,
                strict=True,
            ):
                result.update(
                    energy_std=energy_std,
                    forces_std=spread,
                    max_forces_std=float(spread.max()) if spread.size else 0.0,
                    member_energies=energies,
                    member_forces=forces,
                )
        return results


# Keyword arguments of ase.calculators.calculator.Calculator itself.
ASE_CALCULATOR_OPTIONS = (
    "restart",
    "ignore_bad_restart_file",
    "label",
    "atoms",
    "directory",
)


def _refuse_unknown_options(name: str, options: dict) -> None:
    """Raise TypeError for keyword arguments neither mlpot nor ASE's base class knows.

    ASE's ``Calculator`` keeps unknown keywords as parameters, so a misspelt
    option would otherwise be accepted and ignored.
    """
    unknown = sorted(set(options) - set(ASE_CALCULATOR_OPTIONS))
    if unknown:
        import difflib
        import inspect

        known = [
            p
            for p in inspect.signature(MLPotCalculator.__init__).parameters
            if not p.startswith("_") and p not in ("self", "model", "kwargs")
        ]
        known += ["max_forces_std_warning"] + list(ASE_CALCULATOR_OPTIONS)
        hints = [
            f"{u!r}" + (f" (did you mean {m[0]!r}?)" if m else "")
            for u in unknown
            for m in [difflib.get_close_matches(u, known, n=1)]
        ]
        raise TypeError(
            f"{name} got unknown option(s) {', '.join(hints)}; it takes "
            f"{', '.join(sorted(known))}"
        )


def _edge_lengths(graph) -> np.ndarray:
    """Edge lengths in Å of a one-structure graph (`mlpot.neighbours.edge_lengths`)."""
    i, j = graph[keys.EDGE_INDEX].numpy()
    cell = graph[keys.CELL][0].double().numpy() if keys.CELL in graph else None
    shifts = graph[keys.EDGE_SHIFT].double().numpy() if cell is not None else None
    positions = graph[keys.POSITIONS].detach().double().numpy()
    return edge_lengths(positions, i, j, shifts, cell)


def _numpy(values: torch.Tensor) -> np.ndarray:
    """A detached float64 numpy copy of a result tensor."""
    return values.detach().cpu().to(torch.float64).numpy()


def _same(a, b, tol) -> bool:
    """Arrays of the same shape that differ by at most ``tol`` anywhere."""
    if a.shape != b.shape:
        return False
    if np.array_equal(a, b):
        return True
    return tol > 0 and bool(np.abs(a - b).max() <= tol)


class EquivCalculator(MLPotCalculator):
    """ASE calculator for an equivariant (NequIP-style) mlpot checkpoint.

    Refuses a checkpoint of the invariant family, naming the right class.
    See :class:`MLPotCalculator` for the parameters.
    """

    family = "equivariant"


class InvariantCalculator(MLPotCalculator):
    """ASE calculator for an invariant (distance-only) mlpot checkpoint.

    Refuses a checkpoint of the equivariant family, naming the right class.
    See :class:`MLPotCalculator` for the parameters.
    """

    family = "invariant"


class CommitteeCalculator(MLPotCalculator):
    """ASE calculator of a committee: the members' mean and their spread.

    ``energy``, ``free_energy``, ``energies``, ``forces`` and ``stress`` are
    the members' means (the mean forces are the exact forces of the mean
    energy). The spread, a population standard deviation over members, is in
    ``results`` and ``get_property``:

    - ``energy_std``: of the energy, in eV;
    - ``forces_std``: per atom, the norm of the per-component standard
      deviations of its force, shape (N,), in eV/Å;
    - ``max_forces_std``: the largest of them, in eV/Å;
    - ``member_energies``: every member's energy, shape (M,), in eV;
    - ``member_forces``: every member's forces, shape (M, N, 3), in eV/Å.

    Parameters
    ----------
    model : str, Path or Committee
        A committee folder (see :func:`mlpot.model.committee.save_committee`)
        or a :class:`~mlpot.model.committee.Committee`.
    max_forces_std_warning : float, optional
        Warn (once) when ``max_forces_std`` exceeds this many eV/Å: the
        structure is outside what the members agree on.
    device, dtype, **kwargs
        As for :class:`MLPotCalculator`.
    """

    implemented_properties = MLPotCalculator.implemented_properties + [
        "energy_std",
        "forces_std",
        "max_forces_std",
        "member_energies",
        "member_forces",
    ]

    def __init__(
        self,
        model,
        device="cpu",
        dtype="float64",
        max_forces_std_warning=None,
        **kwargs,
    ):
        owned = kwargs.pop("_owned", False)
        if max_forces_std_warning is not None and (
            isinstance(max_forces_std_warning, bool)
            or not isinstance(max_forces_std_warning, (int, float))
            or not max_forces_std_warning > 0
        ):
            raise ValueError(
                "max_forces_std_warning must be a positive number of eV/Å (or None "
                f"for no warning), got {max_forces_std_warning!r}"
            )
        if isinstance(model, (str, Path)):
            model = load_committee(model, device, as_torch_dtype(dtype))
            owned = True
        if not isinstance(model, Committee):
            raise TypeError(
                "CommitteeCalculator needs a committee folder or a Committee, got "
                f"{type(model).__name__}; use MLPotCalculator for one model"
            )
        super().__init__(model, device=device, dtype=dtype, _owned=owned, **kwargs)
        self.max_forces_std_warning = max_forces_std_warning

    def _evaluate(self, graph, compute_stress=False):
        graph = {k: v.to(self.device) for k, v in graph.items()}
        n_atoms = int(graph[keys.NUMBERS].shape[0])
        with intra_op_threads(threads_for(n_atoms, self.num_threads)):
            members = committee_predictions(self.model, graph, compute_stress)
        out = {key: values.mean(dim=0) for key, values in members.items()}
        forces_std = members[keys.FORCES].std(dim=0, unbiased=False).norm(dim=-1)
        out["energy_std"] = members[keys.ENERGY].std(dim=0, unbiased=False)
        out["forces_std"] = forces_std
        out["member_energies"] = members[keys.ENERGY]  # (M, structures)
        out["member_forces"] = members[keys.FORCES]  # (M, atoms, 3)
        return out

    def _results(self, out, want_stress) -> dict:
        results = super()._results(out, want_stress)
        forces_std = _numpy(out["forces_std"])
        results.update(
            energy_std=float(out["energy_std"][0]),
            forces_std=forces_std,
            max_forces_std=float(forces_std.max()) if forces_std.size else 0.0,
            member_energies=_numpy(out["member_energies"][:, 0]),
            member_forces=_numpy(out["member_forces"]),
        )
        limit = self.max_forces_std_warning
        if limit is not None and results["max_forces_std"] > limit:
            self.domain.warn_once(
                "spread",
                f"the committee members disagree by {results['max_forces_std']:.3g} "
                f"eV/Å on a force, above {limit:g} eV/Å: the structure is outside "
                "what the model has learned",
            )
        return results


CALCULATOR_FOR_FAMILY = {
    "equivariant": EquivCalculator,
    "invariant": InvariantCalculator,
    # The non-equivariant contrast model has no named calculator of its own.
    "cartesian": MLPotCalculator,
    "committee": CommitteeCalculator,
}


def load_calculator(path, device="cpu", dtype=None, **kwargs) -> MLPotCalculator:
    """Calculator of the class matching the model family of the checkpoint ``path``.

    The checkpoint is read once; the model is built from it in the
    calculator's dtype and handed to the calculator, which owns it. A
    committee folder gives a :class:`CommitteeCalculator`. A file written by
    ``mlpot-export`` runs compiled, and so does a checkpoint with
    ``compiled=True`` (exported on first use, see `MLPotCalculator`).
    ``dtype`` defaults to float64, or for an exported file to the dtype it
    was compiled in.
    """
    if dtype is None:
        dtype = CompiledPotential(path).dtype if is_export(path) else "float64"
    if is_committee(path):
        if kwargs.get("compiled"):
            raise ValueError(
                f"{path} is a committee; compiled=True runs single models only "
                "(export each member with mlpot-export)"
            )
        kwargs.pop("compiled", None)
        return CommitteeCalculator(path, device=device, dtype=dtype, **kwargs)
    if is_export(path) or kwargs.get("compiled"):
        kwargs.pop("compiled", None)
        model = (
            CompiledPotential(path)
            if is_export(path)
            else compiled_potential(path, as_torch_dtype(dtype))
        )
        calculator = CALCULATOR_FOR_FAMILY[model.family]
        return calculator(model, device=device, dtype=dtype, **kwargs)
    payload = read_checkpoint(path)
    calculator = CALCULATOR_FOR_FAMILY[payload["model_family"]]
    model = model_from_checkpoint(payload, path, device, as_torch_dtype(dtype))
    return calculator(model, device=device, dtype=dtype, _owned=True, **kwargs)
