"""Equivariant message passing (NequIP-style) on e3nn irreps."""

from typing import List, Tuple

import torch
from e3nn import o3
from e3nn.nn import Activation, FullyConnectedNet, Gate
from torch import nn

from mlpot.nn.scatter import scatter_sum


def hidden_irreps(num_features: int, lmax: int) -> o3.Irreps:
    """``num_features`` channels of each l = 0..lmax with parity (-1)^l, e.g. 32x0e+32x1o."""
    return o3.Irreps([(num_features, (l, (-1) ** l)) for l in range(lmax + 1)])


def channelwise_tensor_product(
    irreps_in: o3.Irreps, irreps_edge: o3.Irreps, irreps_target: o3.Irreps
) -> o3.TensorProduct:
    """Per-channel ('uvu') tensor product of node features with edge harmonics.

    Every path ``in ⊗ edge → out`` whose output irrep appears in
    ``irreps_target`` is kept, each with its own copy of the input channels;
    the path weights are supplied per edge at call time.
    """
    outputs: List[Tuple[int, o3.Irrep]] = []
    instructions = []
    for i_in, (mul, ir_in) in enumerate(irreps_in):
        for i_edge, (_, ir_edge) in enumerate(irreps_edge):
            for ir_out in ir_in * ir_edge:
                if ir_out in irreps_target:
                    instructions.append((i_in, i_edge, len(outputs), "uvu", True))
                    outputs.append((mul, ir_out))
    irreps_out, permutation, _ = o3.Irreps(outputs).sort()
    instructions = [(a, b, permutation[c], mode, train) for a, b, c, mode, train in instructions]
    return o3.TensorProduct(
        irreps_in,
        irreps_edge,
        irreps_out,
        instructions,
        shared_weights=False,
        internal_weights=False,
    )


def gated_nonlinearity(irreps_out: o3.Irreps) -> nn.Module:
    """SiLU on scalars and sigmoid gates on l > 0 features (NequIP's choice).

    The returned module has an ``irreps_in`` attribute: the irreps a linear
    layer must produce in front of it.
    """
    scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l > 0])
    if len(gated) == 0:
        return Activation(scalars, [torch.nn.functional.silu] * len(scalars))
    gates = o3.Irreps([(mul, "0e") for mul, _ in gated])
    return Gate(
        scalars,
        [torch.nn.functional.silu] * len(scalars),
        gates,
        [torch.sigmoid] * len(gates),
        gated,
    )


class EquivariantInteraction(nn.Module):
    """One interaction layer: convolution with edge harmonics, self-connection, gate.

    ``h_i' = gate(W_out Σ_j TP(W_in h_j, Y(r̂_ij); R(|r_ij|)) / sqrt(avg_num_neighbors)
    + SC(h_i, species_i)) [+ h_i]``

    Parameters
    ----------
    irreps_in, irreps_out : e3nn.o3.Irreps
        Node feature irreps before and after the layer.
    irreps_edge : e3nn.o3.Irreps
        Irreps of the edge spherical harmonics.
    num_basis : int
        Width of the radial embedding.
    num_species : int
        Number of chemical species (for the species-dependent self-connection).
    avg_num_neighbors : float
        Typical number of neighbours, used to normalise the neighbour sum.
    radial_hidden, radial_layers : int
        Width and depth of the MLP that maps the radial embedding to path weights.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        irreps_edge: o3.Irreps,
        num_basis: int,
        num_species: int,
        avg_num_neighbors: float,
        radial_hidden: int = 64,
        radial_layers: int = 2,
    ):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        self.neighbour_norm = float(avg_num_neighbors) ** -0.5
        self.linear_in = o3.Linear(self.irreps_in, self.irreps_in)
        self.tensor_product = channelwise_tensor_product(
            self.irreps_in, irreps_edge, self.irreps_out
        )
        self.radial_mlp = FullyConnectedNet(
            [num_basis] + [radial_hidden] * radial_layers + [self.tensor_product.weight_numel],
            torch.nn.functional.silu,
        )
        self.nonlinearity = gated_nonlinearity(self.irreps_out)
        irreps_pre = self.nonlinearity.irreps_in
        self.linear_out = o3.Linear(self.tensor_product.irreps_out, irreps_pre)
        self.self_connection = o3.FullyConnectedTensorProduct(
            self.irreps_in, o3.Irreps(f"{num_species}x0e"), irreps_pre
        )
        self.residual = self.irreps_in == self.irreps_out

    def forward(
        self,
        h: torch.Tensor,
        species_one_hot: torch.Tensor,
        edge_harmonics: torch.Tensor,
        radial_embedding: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """Update node features.

        Parameters
        ----------
        h : Tensor, shape (N, irreps_in.dim)
        species_one_hot : Tensor, shape (N, num_species)
        edge_harmonics : Tensor, shape (E, irreps_edge.dim)
        radial_embedding : Tensor, shape (E, num_basis)
            Radial basis times the smooth cutoff; zero at and beyond r_max.
        edge_index : Tensor, shape (2, E)
            Rows: centre i, neighbour j.

        Returns
        -------
        Tensor, shape (N, irreps_out.dim)
        """
        centre, neighbour = edge_index[0], edge_index[1]
        x = self.linear_in(h)
        weights = self.radial_mlp(radial_embedding)
        messages = self.tensor_product(x[neighbour], edge_harmonics, weights)
        aggregated = scatter_sum(messages, centre, h.shape[0]) * self.neighbour_norm
        out = self.linear_out(aggregated) + self.self_connection(h, species_one_hot)
        out = self.nonlinearity(out)
        if self.residual:
            out = out + h
        return out
