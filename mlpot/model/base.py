"""`Potential`: what both model families share (species, edges, readout, scaling)."""

from typing import Tuple

import numpy as np
import torch
from ase.data import chemical_symbols
from torch import nn

from mlpot import keys
from mlpot.graph import AtomicGraph
from mlpot.model.config import ModelConfig
from mlpot.nn.radial import BesselBasis, PolynomialCutoff
from mlpot.nn.scatter import scatter_sum


class UnknownSpeciesError(ValueError):
    """A structure contains an element the model was not trained on."""


class Potential(nn.Module):
    """Base of the potentials: ``model(graph) -> energy (B,)`` in eV.

    Subclasses implement :meth:`features`, the per-atom scalar features of the
    last layer (N, F). This class maps them to per-atom energies
    ``E_i = scale * readout(features_i) + shift[species_i]`` and sums them per
    structure. The per-species shift stays float64 when the model is cast to
    float32, and energies are accumulated in float64.
    """

    family = ""

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
        """Species index (N,) of atomic numbers (N,)."""
        species = self.species_index[numbers]
        if bool((species < 0).any()):
            self.check_species(numbers.cpu().numpy())
        return species

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

    def features(self, graph: AtomicGraph, species=None) -> torch.Tensor:
        """Per-atom invariant features of the last layer, shape (N, F).

        ``species`` (N,) is the species index of each atom, computed from
        ``graph["numbers"]`` when not given.
        """
        raise NotImplementedError

    def atomic_energies(self, graph: AtomicGraph) -> torch.Tensor:
        """Per-atom energies in eV, shape (N,), float64."""
        species = self.species_of(graph[keys.NUMBERS])
        raw = (
            self.readout(self.features(graph, species)).squeeze(-1) * self.energy_scale
        )
        return raw.to(torch.float64) + self.atomic_energy_shift[species]

    def sum_per_structure(
        self, atomic: torch.Tensor, graph: AtomicGraph
    ) -> torch.Tensor:
        """Sum per-atom values (N,) into per-structure totals (B,)."""
        return scatter_sum(atomic, graph[keys.BATCH], graph[keys.NUM_ATOMS].shape[0])

    def forward(self, graph: AtomicGraph) -> torch.Tensor:
        """Total energy per structure in eV, shape (B,), float64."""
        return self.sum_per_structure(self.atomic_energies(graph), graph)
