"""Invariant message passing that sees only interatomic distances."""

import torch
from e3nn.nn import FullyConnectedNet
from torch import nn

from mlpot.nn.scatter import scatter_sum


class ContinuousFilterInteraction(nn.Module):
    """SchNet-style interaction with a continuous radial filter.

    ``h_i' = h_i + U(Σ_j W(r_ij) ⊙ A h_j / sqrt(avg_num_neighbors))`` with a
    filter ``W`` learned from the radial embedding and an update MLP ``U``.

    Parameters
    ----------
    num_features : int
        Node feature width F.
    num_basis : int
        Width of the radial embedding.
    avg_num_neighbors : float
        Typical number of neighbours, used to normalise the neighbour sum.
    radial_hidden : int
        Hidden width of the filter MLP.
    """

    def __init__(self, num_features, num_basis, avg_num_neighbors, radial_hidden=64):
        super().__init__()
        self.neighbour_norm = float(avg_num_neighbors) ** -0.5
        self.radial_size = num_features
        self.linear_in = nn.Linear(num_features, num_features, bias=False)
        # No biases: the filter vanishes with the radial embedding at r_max.
        self.filter = FullyConnectedNet(
            [num_basis, radial_hidden, num_features], torch.nn.functional.silu
        )
        self.update = nn.Sequential(
            nn.Linear(num_features, num_features),
            nn.SiLU(),
            nn.Linear(num_features, num_features),
        )

    def forward(self, h, radial_embedding, envelope, edge_index, filters=None):
        """Update node features ``h`` (N, F).

        ``radial_embedding`` (E, num_basis) and ``envelope`` (E,) are zero at
        and beyond r_max; ``edge_index`` (2, E) has rows centre i, neighbour j.
        ``filters`` (E, F), when given, is the filter network's output computed
        elsewhere (e.g. by a radial table) and ``radial_embedding`` is unused.
        """
        centre, neighbour = edge_index[0], edge_index[1]
        if filters is None:
            filters = self.filter(radial_embedding)
        messages = self.linear_in(h)[neighbour] * filters
        aggregated = scatter_sum(messages, centre, h.shape[0]) * self.neighbour_norm
        return h + self.update(aggregated)


class DistanceWeightedGraphConvolution(nn.Module):
    """Plain graph convolution whose edge weights are a fixed function of distance.

    ``h_i' = h_i + SiLU(W (h_i + Σ_j u(r_ij) h_j / sqrt(avg_num_neighbors)))``
    where ``u`` is the smooth cutoff envelope: no learned filter, the classic
    distance-weighted GCN baseline.
    """

    def __init__(self, num_features, num_basis, avg_num_neighbors, radial_hidden=64):
        super().__init__()
        del num_basis, radial_hidden  # same signature as the filter interaction
        self.neighbour_norm = float(avg_num_neighbors) ** -0.5
        self.linear = nn.Linear(num_features, num_features)

    def forward(self, h, radial_embedding, envelope, edge_index):
        """Update node features ``h`` (N, F); arguments as in the filter interaction."""
        centre, neighbour = edge_index[0], edge_index[1]
        messages = h[neighbour] * envelope.unsqueeze(-1)
        aggregated = scatter_sum(messages, centre, h.shape[0]) * self.neighbour_norm
        return h + torch.nn.functional.silu(self.linear(h + aggregated))


INVARIANT_INTERACTIONS = {
    "cfconv": ContinuousFilterInteraction,
    "gcn": DistanceWeightedGraphConvolution,
}
