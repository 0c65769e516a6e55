"""`CartesianPotential`: a deliberately non-equivariant contrast to the other families.

It is the invariant continuous-filter model with one change: the filter of
every edge also sees the edge vector r_ij itself (its Cartesian components),
not only its length. The energy is therefore translation and permutation
invariant and the forces are conservative, but neither is rotation or
inversion invariant; training with random rotations
(``train.augment_rotations``) can only teach the symmetry approximately.
"""

import torch
from torch import nn

from mlpot import keys
from mlpot.model.base import Potential
from mlpot.model.config import ModelConfig
from mlpot.nn.invariant import ContinuousFilterInteraction


class CartesianPotential(Potential):
    """Continuous-filter potential whose filters read raw Cartesian edge vectors.

    The filter input of edge ij is the Bessel radial embedding (num_basis,)
    concatenated with ``r_ij / r_max * u(r_ij)`` (3,), where ``u`` is the
    smooth cutoff envelope, so every input and every force still vanish
    smoothly at r_max.

    Parameters
    ----------
    config : ModelConfig
        Hyperparameters; ``config.name`` must be ``"cartesian"``.
    """

    family = "cartesian"

    def __init__(self, config: ModelConfig):
        super().__init__(config, num_readout_inputs=config.num_features)
        self.embedding = nn.Embedding(self.num_species, config.num_features)
        self.layers = nn.ModuleList(
            ContinuousFilterInteraction(
                config.num_features,
                config.num_basis + 3,
                config.avg_num_neighbors,
                config.radial_hidden,
            )
            for _ in range(config.num_layers)
        )

    def features(self, graph, species=None) -> torch.Tensor:
        """Node features after the last layer, shape (N, num_features)."""
        if species is None:
            species = self.species_of(graph[keys.NUMBERS])
        vectors, lengths = self.edge_vectors(graph)
        radial, envelope = self.radial_embedding(lengths)
        directions = vectors * (envelope / self.r_max).unsqueeze(-1)
        edge_inputs = torch.cat([radial, directions], dim=-1)
        h = self.embedding(species)
        for layer in self.layers:
            h = layer(h, edge_inputs, envelope, graph[keys.EDGE_INDEX])
        return h
