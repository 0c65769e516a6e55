"""`InvariantPotential`: a distance-only message-passing baseline (SchNet-like)."""

import torch
from torch import nn

from mlpot import keys
from mlpot.model.base import Potential
from mlpot.model.config import ModelConfig
from mlpot.nn.invariant import INVARIANT_INTERACTIONS


class InvariantPotential(Potential):
    """Message-passing potential that sees only interatomic distances.

    With ``config.interaction = "cfconv"`` it is SchNet (continuous filters
    learned from a Bessel radial embedding); with ``"gcn"`` the edge weights are
    the fixed cutoff envelope, the plain distance-weighted GCN baseline.

    Parameters
    ----------
    config : ModelConfig
        Hyperparameters; ``config.name`` must be ``"invariant"``.
    """

    family = "invariant"
    # Edge features besides the radial embedding (see `edge_inputs`).
    extra_edge_inputs = 0

    def __init__(self, config: ModelConfig):
        super().__init__(config, num_readout_inputs=config.num_features)
        self.embedding = nn.Embedding(self.num_species, config.num_features)
        interaction = INVARIANT_INTERACTIONS[config.interaction]
        self.layers = nn.ModuleList(
            interaction(
                config.num_features,
                config.num_basis + self.extra_edge_inputs,
                config.avg_num_neighbors,
                config.radial_hidden,
            )
            for _ in range(config.num_layers)
        )

    @property
    def can_tabulate_radial(self) -> bool:
        """True for continuous filters that read the radial embedding only."""
        return self.config.interaction == "cfconv" and self.extra_edge_inputs == 0

    def radial_network_modules(self):
        """The layers' filter networks (embedding -> ``num_features`` filters)."""
        return [layer.filter for layer in self.layers]

    def features(self, graph, species=None) -> torch.Tensor:
        """Node features after the last layer, shape (N, num_features)."""
        if species is None:
            species = self.species_of(graph[keys.NUMBERS])
        vectors, lengths = self.edge_vectors(graph)
        table = self.active_radial_table() if self.can_tabulate_radial else None
        if table is not None:
            filters = table(lengths).split(self.radial_output_sizes(), dim=1)
            h = self.embedding(species)
            for layer, layer_filters in zip(self.layers, filters, strict=True):
                h = layer(h, None, None, graph[keys.EDGE_INDEX], filters=layer_filters)
            return h
        radial, envelope = self.radial_embedding(lengths)
        edge_inputs = self.edge_inputs(vectors, radial, envelope)
        h = self.embedding(species)
        for layer in self.layers:
            h = layer(h, edge_inputs, envelope, graph[keys.EDGE_INDEX])
        return h

    def edge_inputs(self, vectors, radial, envelope) -> torch.Tensor:
        """What the filters see of each edge: the radial embedding (E, num_basis)."""
        return radial
