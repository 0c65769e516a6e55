"""`Potential`: what both model families share (species, edges, readout, scaling)."""

import contextlib
import copy
from typing import List, Optional, Tuple

import numpy as np
import torch
from ase.data import chemical_symbols
from torch import nn

from mlpot import keys
from mlpot.graph import AtomicGraph
from mlpot.model.config import ModelConfig
from mlpot.nn.radial import BesselBasis, PolynomialCutoff
from mlpot.nn.radial_table import RadialTable
from mlpot.nn.scatter import scatter_sum


class UnknownSpeciesError(ValueError):
    """A structure contains an element the model was not trained on."""


MAX_RADIAL_TABLE_SPACING = 0.02


class Potential(nn.Module):
    """Base of the potentials: ``model(graph) -> energy (B,)`` in eV.

    Subclasses implement :meth:`features`, the per-atom scalar features of the
    last layer (N, F). This class maps them to per-atom energies
    ``E_i = scale * readout(features_i) + shift[species_i]`` and sums them per
    structure. The per-species shift stays float64 when the model is cast to
    float32, and energies are accumulated in float64.
    """

    family = ""
    # True while the model is traced for export (see `traced_for_export`).
    _tracing = False

    def __init__(self, config: ModelConfig, num_readout_inputs: int):
        super().__init__()
        self.config = config
        table = torch.full((119,), -1, dtype=torch.int64)
        table[torch.tensor(config.species)] = torch.arange(len(config.species))
        self.register_buffer("species_index", table, persistent=False)
        self.register_buffer(
            "atomic_energy_shift", torch.zeros(len(config.species), dtype=torch.float64)
        )
        self.register_buffer("energy_scale", torch.ones(()))
        self.radial_basis = BesselBasis(config.r_max, config.num_basis)
        self.cutoff = PolynomialCutoff(config.r_max, config.cutoff_p)
        self.readout = nn.Sequential(
            nn.Linear(num_readout_inputs, config.readout_hidden),
            nn.SiLU(),
            nn.Linear(config.readout_hidden, 1),
        )
        # Built on request by `tabulate_radial`; never part of the state_dict.
        self.radial_table: Optional[RadialTable] = None
        self._radial_table_versions: Optional[list] = None

    @property
    def num_species(self) -> int:
        return len(self.config.species)

    @property
    def r_max(self) -> float:
        return float(self.config.r_max)

    def _apply(self, fn, recurse=True):
        shift = self.atomic_energy_shift
        super()._apply(fn, recurse)
        self.atomic_energy_shift = shift.to(
            device=self.atomic_energy_shift.device, dtype=torch.float64
        )
        return self

    def set_normalisation(self, atomic_energy_shift, energy_scale: float):
        """Set per-species reference energies (S,) in eV and the energy scale in eV."""
        shift = torch.as_tensor(atomic_energy_shift, dtype=torch.float64).reshape(-1)
        if shift.shape != self.atomic_energy_shift.shape:
            raise ValueError(
                f"expected {self.num_species} per-species shifts, got {shift.numel()}"
            )
        self.atomic_energy_shift.copy_(shift)
        self.energy_scale.fill_(float(energy_scale))

    def check_species(self, numbers) -> None:
        """Raise :class:`UnknownSpeciesError` for elements the model does not know."""
        numbers = np.asarray(numbers)
        known = np.asarray(self.config.species)
        is_known = np.zeros(119, dtype=bool)
        is_known[known] = True
        if numbers.size == 0 or (
            numbers.min() >= 0 and numbers.max() < 119 and is_known[numbers].all()
        ):
            return
        unknown = np.setdiff1d(np.unique(numbers), known)
        if len(unknown):
            names = ", ".join(
                chemical_symbols[z] if 0 < z < 119 else str(z) for z in unknown
            )
            trained = ", ".join(chemical_symbols[z] for z in known)
            raise UnknownSpeciesError(
                f"the structure contains {names}, which this model was not trained on "
                f"(it knows {trained}); use a model trained on these elements"
            )

    def species_of(self, numbers: torch.Tensor) -> torch.Tensor:
        """Species index (N,) of atomic numbers (N,).

        While traced for export the check is left to whoever calls the
        exported program (it depends on the data, which a traced graph cannot).
        """
        species = self.species_index[numbers]
        if not self._tracing and bool((species < 0).any()):
            self.check_species(numbers.cpu().numpy())
        return species

    @contextlib.contextmanager
    def traced_for_export(self):
        """Freeze the model's data-dependent checks while it is traced.

        Inside the block :meth:`species_of` does not check for unknown
        elements, and the radial table, if the model has one, is brought up
        to date first and then used as it is (not rebuilt when parameters
        change). The caller checks species before running the traced program.

        Yields
        ------
        Potential
            ``self``.
        """
        if self.can_tabulate_radial and self.radial_table is not None:
            self.active_radial_table()  # bring a stale table up to date first
        self._tracing = True
        try:
            yield self
        finally:
            self._tracing = False

    def edge_vectors(self, graph: AtomicGraph) -> Tuple[torch.Tensor, torch.Tensor]:
        """Edge vectors r_ij (E, 3) in Å and their lengths (E,)."""
        edge_index = graph[keys.EDGE_INDEX]
        pos = graph[keys.POSITIONS]
        vectors = pos[edge_index[1]] - pos[edge_index[0]]
        if keys.EDGE_SHIFT in graph:
            cell = graph[keys.CELL][graph[keys.BATCH][edge_index[0]]]
            vectors = vectors + torch.einsum("ei,eij->ej", graph[keys.EDGE_SHIFT], cell)
        return vectors, torch.linalg.norm(vectors, dim=-1)

    def radial_embedding(
        self, lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Bessel basis times cutoff (E, num_basis), and the cutoff envelope (E,)."""
        envelope = self.cutoff(lengths)
        return self.radial_basis(lengths) * envelope.unsqueeze(-1), envelope

    # --- radial tables -------------------------------------------------------

    @property
    def can_tabulate_radial(self) -> bool:
        """Whether this model has radial networks that depend on edge lengths only."""
        return False

    def radial_network_modules(self) -> List[nn.Module]:
        """The per-layer radial networks, in layer order.

        Each maps the radial embedding (E, num_basis) of :meth:`radial_embedding`
        to (E, M_k); ``self.layers[k].radial_size`` is M_k.
        """
        raise NotImplementedError

    def radial_output_sizes(self) -> List[int]:
        """Output widths M_k of the radial networks, one per layer (list of int)."""
        return [layer.radial_size for layer in self.layers]

    def radial_networks(self, lengths: torch.Tensor) -> torch.Tensor:
        """All radial network outputs, concatenated per layer, shape (E, M).

        Parameters
        ----------
        lengths : Tensor, shape (E,)
            Edge lengths in Å.

        Returns
        -------
        Tensor, shape (E, sum(radial_output_sizes()))
        """
        radial, _ = self.radial_embedding(lengths)
        return torch.cat([net(radial) for net in self.radial_network_modules()], dim=1)

    def _radial_parameters(self) -> List[torch.Tensor]:
        """Parameters the radial networks depend on (basis frequencies, MLPs)."""
        return list(self.radial_basis.parameters()) + [
            p for net in self.radial_network_modules() for p in net.parameters()
        ]

    def _radial_versions(self) -> list:
        return [(id(p), p._version, p.dtype) for p in self._radial_parameters()]

    def tabulate_radial(self, spacing: float = 0.0025) -> "Potential":
        """Replace the radial networks by a cubic Hermite table for inference.

        The table (see :class:`mlpot.nn.radial_table.RadialTable`) holds the
        networks' exact values and derivatives d/dr on a grid of ``spacing``
        Å over [0, r_max], computed in float64 and stored in the model's
        dtype. At the default spacing, float64 energies of the shipped models
        differ from the networks' by about 1e-9 eV and forces by about 1e-6
        eV/Å (the error falls as spacing⁴ for energies and spacing³ for
        forces). The tabulated potential is C¹ in each edge length, so forces
        stay continuous and are still exact gradients of its energy. The
        table is used in eval mode only
        (training always runs the networks), is not written to checkpoints,
        and is rebuilt by itself when the radial parameters change (an
        optimizer step, ``load_state_dict``, a dtype change).

        Parameters
        ----------
        spacing : float
            Grid spacing in Å, in (0, 0.02]: beyond that the table no longer
            follows the networks (at 0.5 Å and more, energies move by 0.1 eV
            to 1e9 eV).

        Returns
        -------
        Potential
            ``self``, tabulated.
        """
        if not 0 < spacing <= MAX_RADIAL_TABLE_SPACING:
            raise ValueError(
                f"radial_table_spacing must be in (0, {MAX_RADIAL_TABLE_SPACING}] Å "
                f"(default 0.0025), got {spacing!r}; a coarse table changes the "
                "energies, not only the speed"
            )
        if not self.can_tabulate_radial:
            raise ValueError(
                f"this {self.family} model has no radial networks that depend on "
                "edge lengths only, so there is nothing to tabulate"
            )
        parameter = next(self.parameters())
        reference = copy.deepcopy(self)
        reference.radial_table = None
        reference = reference.to(torch.float64)
        with torch.enable_grad():
            table = RadialTable.from_function(
                reference.radial_networks,
                self.r_max,
                spacing,
                dtype=parameter.dtype,
                device=parameter.device,
            )
        self.radial_table = table
        self._radial_table_spacing = float(spacing)
        self._radial_table_versions = self._radial_versions()
        return self

    def drop_radial_table(self) -> "Potential":
        """Go back to evaluating the radial networks.

        Returns
        -------
        Potential
            ``self``, without a table.
        """
        self.radial_table = None
        self._radial_table_versions = None
        return self

    def active_radial_table(self) -> Optional[RadialTable]:
        """The radial table to use now, or None to run the networks.

        A table whose radial parameters have changed since it was built (in
        place, by ``load_state_dict`` or a dtype change) is rebuilt first, so
        it never goes stale.

        Returns
        -------
        RadialTable or None
            None in training mode or when no table was built.
        """
        if self.radial_table is None or self.training:
            return None
        if self._tracing:
            return self.radial_table
        if self._radial_versions() != self._radial_table_versions:
            self.tabulate_radial(self._radial_table_spacing)
        return self.radial_table

    def features(self, graph: AtomicGraph, species=None) -> torch.Tensor:
        """Per-atom invariant features of the last layer, shape (N, F).

        ``species`` (N,) is the species index of each atom, computed from
        ``graph["numbers"]`` when not given.
        """
        raise NotImplementedError

    def atomic_energies(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies in eV, shape (N,), float64."""
        species = self.species_of(graph[keys.NUMBERS])
        raw = self.readout(self.features(graph, species)).squeeze(-1)
        if self.config.atom_reference:
            raw = raw - self.isolated_atom_readout()[species]
        raw = raw * self.energy_scale
        return raw.to(torch.float64) + self.atomic_energy_shift[species]

    def isolated_atom_readout(self) -> torch.Tensor:
        """The readout of each species' atom with no neighbours, shape (S,).

        With ``config.atom_reference`` it is subtracted from every atom's
        readout, so that a lone atom's energy is its per-species shift.
        """
        device = self.atomic_energy_shift.device
        numbers = torch.as_tensor(self.config.species, device=device)
        count = len(numbers)
        dtype = self.readout[0].weight.dtype
        alone = {
            keys.POSITIONS: torch.zeros(count, 3, dtype=dtype, device=device),
            keys.NUMBERS: numbers,
            keys.BATCH: torch.arange(count, device=device),
            keys.NUM_ATOMS: torch.ones(count, dtype=torch.int64, device=device),
            keys.EDGE_INDEX: torch.zeros(2, 0, dtype=torch.int64, device=device),
        }
        species = torch.arange(count, device=device)
        return self.readout(self.features(alone, species)).squeeze(-1)

    def sum_per_structure(
        self, atomic: torch.Tensor, graph: AtomicGraph
    ) -> torch.Tensor:
        """Sum per-atom values (N,) into per-structure totals (B,)."""
        return scatter_sum(atomic, graph[keys.BATCH], graph[keys.NUM_ATOMS].shape[0])

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Total energy per structure in eV, shape (B,), float64."""
        return self.sum_per_structure(self.atomic_energies(graph), graph)
