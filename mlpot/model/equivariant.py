"""`EquivariantPotential`: a NequIP-style E(3)-equivariant potential built on e3nn."""

import torch
from e3nn import o3
from torch import nn

from mlpot import keys
from mlpot.model.base import Potential
from mlpot.model.config import ModelConfig
from mlpot.nn.equivariant import EquivariantInteraction, hidden_irreps


class EquivariantPotential(Potential):
    """E(3)-equivariant message-passing potential (NequIP architecture).

    Species embedding → ``num_layers`` × :class:`~mlpot.nn.equivariant.EquivariantInteraction`
    on features ``num_features x (0e + 1o + 2e + ...)`` up to ``lmax`` → the
    scalar channels of the last layer → per-atom energy readout. The last layer
    outputs scalars only, which is all the readout uses.

    Parameters
    ----------
    config : ModelConfig
        Hyperparameters; ``config.name`` must be ``"equivariant"``.
    """

    family = "equivariant"

    def __init__(self, config: ModelConfig):
        super().__init__(config, num_readout_inputs=config.num_features)
        irreps_edge = o3.Irreps.spherical_harmonics(config.lmax)
        self.spherical_harmonics = o3.SphericalHarmonics(
            irreps_edge, normalize=True, normalization="component"
        )
        self.embedding = nn.Embedding(self.num_species, config.num_features)
        scalars = o3.Irreps(f"{config.num_features}x0e")
        hidden = hidden_irreps(config.num_features, config.lmax)
        irreps = [scalars] + [hidden] * (config.num_layers - 1) + [scalars]
        self.layers = nn.ModuleList(
            EquivariantInteraction(
                irreps_in=irreps[k],
                irreps_out=irreps[k + 1],
                irreps_edge=irreps_edge,
                num_basis=config.num_basis,
                num_species=self.num_species,
                avg_num_neighbors=config.avg_num_neighbors,
                radial_hidden=config.radial_hidden,
                radial_layers=config.radial_layers,
            )
            for k in range(config.num_layers)
        )

    def features(self, graph, species=None) -> torch.Tensor:
        """Scalar (0e) features of the last layer, shape (N, num_features)."""
        if species is None:
            species = self.species_of(graph[keys.NUMBERS])
        vectors, lengths = self.edge_vectors(graph)
        radial, _ = self.radial_embedding(lengths)
        harmonics = self.spherical_harmonics(vectors)
        one_hot = torch.nn.functional.one_hot(species, self.num_species).to(vectors.dtype)
        h = self.embedding(species)
        for layer in self.layers:
            h = layer(h, one_hot, harmonics, radial, graph[keys.EDGE_INDEX])
        return h
