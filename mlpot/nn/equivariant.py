"""Equivariant message passing (NequIP-style) on e3nn's harmonics and couplings.

Spherical harmonics and Clebsch-Gordan (Wigner 3j) coefficients come from e3nn.

Features of every atom hold ``C`` channels of each rotation order l = 0..lmax
with parity (-1)^l (irreps ``Cx0e + Cx1o + Cx2e + ...``). They are stored
m-major, shape (N, D, C) with D = (lmax + 1)², row ``l² + m`` holding
component m of order l in e3nn's basis, so that channel mixing is a plain
matrix product on the last axis and each operation below is a handful of
batched tensor operations rather than one small kernel per irrep.
"""

import math
from typing import List, Tuple

import torch
from e3nn import o3
from e3nn.math import normalize2mom
from e3nn.nn import FullyConnectedNet
from torch import nn

from mlpot.nn.exact_constants import ExactConstants
from mlpot.nn.scatter import scatter_sum
from mlpot.nn.symmetric_contraction import SymmetricContraction


def order_rows(lmax: int) -> List[slice]:
    """Rows of each order l in the m-major layout: ``slice(l², (l+1)²)``, l <= lmax."""
    return [slice(l * l, (l + 1) * (l + 1)) for l in range(lmax + 1)]


def tensor_product_paths(
    lmax_in: int, lmax_edge: int, lmax_out: int
) -> List[Tuple[int, int, int]]:
    """Parity-allowed paths (l_in, l_edge, l_out), grouped by l_out.

    Features have parity (-1)^l, so a path is allowed when
    l_in + l_edge + l_out is even and the triangle inequality holds.
    """
    return [
        (l1, l2, l3)
        for l3 in range(lmax_out + 1)
        for l1 in range(lmax_in + 1)
        for l2 in range(lmax_edge + 1)
        if abs(l1 - l2) <= l3 <= l1 + l2 and (l1 + l2 + l3) % 2 == 0
    ]


class EquivariantLinear(nn.Module):
    """Channel mixing per rotation order (no bias: it commutes with rotations).

    Maps features (N, (lmax+1)², C_in) to (N, (lmax+1)², C_out) with one
    weight matrix per order l, initialised N(0, 1) and scaled by 1/sqrt(C_in)
    (e3nn's normalisation).
    """

    def __init__(self, lmax: int, channels_in: int, channels_out: int):
        super().__init__()
        self.rows = order_rows(lmax)
        self.norm = channels_in**-0.5
        self.weight = nn.Parameter(torch.randn(lmax + 1, channels_in, channels_out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Mixed features, shape (N, (lmax+1)², C_out)."""
        parts = [h[:, rows] @ self.weight[l] for l, rows in enumerate(self.rows)]
        return torch.cat(parts, dim=1) * self.norm


class SpeciesLinear(nn.Module):
    """Channel mixing with one weight matrix per chemical species and order l.

    The self-connection of NequIP (a tensor product with the one-hot species):
    maps (N, (lmax_in+1)², C_in) to per-order outputs with ``channels_out[l]``
    channels, for the orders l = 0..len(channels_out)-1 (all of which must be
    present in the input).
    """

    def __init__(self, num_species: int, channels_in: int, channels_out: List[int]):
        super().__init__()
        self.num_species = num_species
        self.rows = order_rows(len(channels_out) - 1)
        self.channels_out = list(channels_out)
        self.norm = channels_in**-0.5
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(channels_in, num_species * c))
            for c in channels_out
        )

    def forward(self, h: torch.Tensor, species: torch.Tensor) -> List[torch.Tensor]:
        """Per-order outputs, the l-th of shape (N, 2l+1, channels_out[l])."""
        atoms = torch.arange(h.shape[0], device=h.device)
        out = []
        for rows, weight, c in zip(
            self.rows, self.weights, self.channels_out, strict=True
        ):
            mixed = (h[:, rows] @ weight).view(h.shape[0], -1, self.num_species, c)
            out.append(mixed[atoms, :, species] * self.norm)
        return out


class EdgeTensorProduct(ExactConstants):
    """Channel-wise ('uvu') tensor product of neighbour features with edge harmonics.

    For every allowed path (l_in, l_edge, l_out) and every channel c, the
    message is ``w_path,c(r_ij) · (x_j,c^(l_in) ⊗ Y^(l_edge)(r̂_ij))^(l_out)``,
    with e3nn's Wigner 3j symbols times sqrt(2 l_out + 1) (e3nn's "component"
    normalisation). Each path keeps its own copy of the channels; the outputs
    of all paths are stacked by l_out, shape (E, Σ_paths (2 l_out + 1), C).
    """

    def __init__(self, lmax_in: int, lmax_edge: int, lmax_out: int):
        super().__init__()
        self.paths = tensor_product_paths(lmax_in, lmax_edge, lmax_out)
        dim_in, dim_edge = (lmax_in + 1) ** 2, (lmax_edge + 1) ** 2
        rows_out = [
            sum(2 * p[2] + 1 for p in self.paths[:k])
            for k in range(len(self.paths) + 1)
        ]
        self.dim_out = rows_out[-1]
        coupling = torch.zeros(dim_edge, self.dim_out, dim_in, dtype=torch.float64)
        path_of_row = torch.zeros(self.dim_out, dtype=torch.int64)
        for k, (l1, l2, l3) in enumerate(self.paths):
            w3j = o3.wigner_3j(l1, l2, l3, dtype=torch.float64) * math.sqrt(
                2 * l3 + 1
            )  # (2l1+1, 2l2+1, 2l3+1)
            out_rows = slice(rows_out[k], rows_out[k + 1])
            coupling[l2 * l2 : (l2 + 1) ** 2, out_rows, l1 * l1 : (l1 + 1) ** 2] = (
                w3j.permute(1, 2, 0)
            )
            path_of_row[out_rows] = k
        self.register_constant("coupling", coupling.reshape(dim_edge, -1))
        self.register_buffer("path_of_row", path_of_row, persistent=False)
        self.dim_in = dim_in
        self.paths_per_order = [
            sum(1 for p in self.paths if p[2] == l) for l in range(lmax_out + 1)
        ]

    @property
    def num_paths(self) -> int:
        return len(self.paths)

    def forward(self, x_neighbour, edge_harmonics, path_weights):
        """Messages, shape (E, dim_out, C).

        Parameters
        ----------
        x_neighbour : Tensor, shape (E, (lmax_in+1)², C)
        edge_harmonics : Tensor, shape (E, (lmax_edge+1)²)
        path_weights : Tensor, shape (E, num_paths, C)
        """
        num_edges = edge_harmonics.shape[0]
        operator = (edge_harmonics @ self.coupling).view(
            num_edges, self.dim_out, self.dim_in
        )
        messages = torch.bmm(operator, x_neighbour)
        return messages * path_weights.index_select(1, self.path_of_row)


class GatedNonlinearity(nn.Module):
    """SiLU on scalars, sigmoid gates on orders l > 0 (NequIP's gate), normalised.

    Takes per-order inputs: order 0 with ``C + lmax·C`` channels (scalars then
    one block of gates per l > 0), order l > 0 with ``C`` channels; returns
    features (N, (lmax+1)², C).
    """

    def __init__(self, lmax: int, channels: int):
        super().__init__()
        self.lmax = lmax
        self.channels = channels
        self.silu = normalize2mom(torch.nn.functional.silu)
        self.sigmoid = normalize2mom(torch.sigmoid)

    def forward(self, orders: List[torch.Tensor]) -> torch.Tensor:
        """Gated features from per-order pre-activations."""
        c = self.channels
        scalars = orders[0]
        out = [self.silu(scalars[..., :c])]
        if self.lmax > 0:
            gates = self.sigmoid(scalars[..., c:])
            out.extend(
                orders[l] * gates[..., (l - 1) * c : l * c]
                for l in range(1, self.lmax + 1)
            )
        return torch.cat(out, dim=1)


class EquivariantInteraction(nn.Module):
    """One interaction layer: convolution with edge harmonics, self-connection, gate.

    ``h_i' = gate(W_out Σ_j TP(W_in h_j, Y(r̂_ij); R(|r_ij|)) / sqrt(avg_num_neighbors)
    + SC(h_i, species_i)) [+ h_i]``

    With ``correlation`` > 1 (MACE's many-body messages) the neighbour sum
    A_i = W_A Σ_j TP(...) / sqrt(avg_num_neighbors), kept up to order
    ``lmax_edge``, goes through a
    :class:`~mlpot.nn.symmetric_contraction.SymmetricContraction` (products
    of A_i with itself up to ``correlation`` factors) before ``W_out``.

    Parameters
    ----------
    lmax_in, lmax_out : int
        Highest rotation order of the input and output features.
    lmax_edge : int
        Highest order of the edge spherical harmonics.
    num_features : int
        Channels C per order.
    num_basis : int
        Width of the radial embedding.
    num_species : int
        Number of chemical species (for the species-dependent self-connection).
    avg_num_neighbors : float
        Typical number of neighbours, used to normalise the neighbour sum.
    radial_hidden, radial_layers : int
        Width and depth of the MLP that maps the radial embedding to path weights.
    correlation : int
        Largest number of factors in the products of the neighbour sum; 1
        (the default) is NequIP's layer.
    """

    def __init__(
        self,
        lmax_in: int,
        lmax_out: int,
        lmax_edge: int,
        num_features: int,
        num_basis: int,
        num_species: int,
        avg_num_neighbors: float,
        radial_hidden: int = 64,
        radial_layers: int = 2,
        correlation: int = 1,
    ):
        super().__init__()
        c = num_features
        self.lmax_out = lmax_out
        self.neighbour_norm = float(avg_num_neighbors) ** -0.5
        self.linear_in = EquivariantLinear(lmax_in, c, c)
        # The products need every order of the neighbour sum, not only the output's.
        lmax_sum = lmax_out if correlation == 1 else max(lmax_out, lmax_edge)
        self.tensor_product = EdgeTensorProduct(lmax_in, lmax_edge, lmax_sum)
        self.radial_size = self.tensor_product.num_paths * c
        self.radial_mlp = FullyConnectedNet(
            [num_basis]
            + [radial_hidden] * radial_layers
            + [self.tensor_product.num_paths * c],
            torch.nn.functional.silu,
        )
        channels_pre = [c + lmax_out * c] + [c] * lmax_out
        channels_mixed = channels_pre if correlation == 1 else [c] * (lmax_sum + 1)
        self.linear_out = nn.ParameterList(
            nn.Parameter(torch.randn(k * c, out))
            for k, out in zip(
                self.tensor_product.paths_per_order, channels_mixed, strict=True
            )
        )
        self.product = None
        if correlation > 1:
            self.product = SymmetricContraction(
                lmax_sum, lmax_out, correlation, c, num_species
            )
            self.linear_product = nn.ParameterList(
                nn.Parameter(torch.randn(c, out)) for out in channels_pre
            )
        self.linear_out_norm = [
            (k * c) ** -0.5 for k in self.tensor_product.paths_per_order
        ]
        # Orders the input lacks (l > lmax_in) have no self-connection.
        self.self_connection = SpeciesLinear(
            num_species, c, channels_pre[: min(lmax_in, lmax_out) + 1]
        )
        self.nonlinearity = GatedNonlinearity(lmax_out, c)
        self.residual = lmax_in == lmax_out

    def _mix_paths(self, aggregated: torch.Tensor) -> List[torch.Tensor]:
        """Per-order channel mixing of the stacked path outputs (N, dim_out, C)."""
        n, _, c = aggregated.shape
        out, row = [], 0
        for l, (k, weight) in enumerate(
            zip(self.tensor_product.paths_per_order, self.linear_out, strict=True)
        ):
            size = k * (2 * l + 1)
            block = aggregated[:, row : row + size].view(n, k, 2 * l + 1, c)
            block = block.transpose(1, 2).reshape(n, 2 * l + 1, k * c)
            out.append(block @ weight * self.linear_out_norm[l])
            row += size
        return out

    def forward(
        self,
        h,
        species,
        edge_harmonics,
        radial_embedding,
        edge_index,
        radial_weights=None,
    ):
        """Update node features.

        Parameters
        ----------
        h : Tensor, shape (N, (lmax_in+1)², C)
        species : Tensor, shape (N,)
            Species index of each atom.
        edge_harmonics : Tensor, shape (E, (lmax_edge+1)²)
        radial_embedding : Tensor, shape (E, num_basis)
            Radial basis times the smooth cutoff; zero at and beyond r_max.
            Not used when ``radial_weights`` is given.
        edge_index : Tensor, shape (2, E)
            Rows: centre i, neighbour j.
        radial_weights : Tensor, shape (E, num_paths · C), optional
            Output of the radial MLP when it was computed elsewhere (e.g. by
            a :class:`~mlpot.nn.radial_table.RadialTable`).

        Returns
        -------
        Tensor, shape (N, (lmax_out+1)², C)
        """
        x = self.linear_in(h)
        if radial_weights is None:
            radial_weights = self.radial_mlp(radial_embedding)
        aggregated = self.neighbour_sum(
            x, edge_harmonics, radial_weights, edge_index, h.shape[0]
        )
        return self.update(h, species, aggregated)

    def neighbour_sum(self, x, edge_harmonics, radial_weights, edge_index, num_atoms):
        """Σ_j TP(x_j, Y(r̂_ij); R(r_ij)) / sqrt(avg_num_neighbors), (N, dim_out, C).

        Parameters
        ----------
        x : Tensor, shape (N, (lmax_in+1)², C)
            Features after ``linear_in``.
        edge_harmonics : Tensor, shape (E, (lmax_edge+1)²)
        radial_weights : Tensor, shape (E, num_paths · C)
        edge_index : Tensor, shape (2, E)
        num_atoms : int
            Rows of the result: centres ``edge_index[0]`` are below it.
        """
        centre, neighbour = edge_index[0], edge_index[1]
        weights = radial_weights.view(-1, self.tensor_product.num_paths, x.shape[-1])
        messages = self.tensor_product(x[neighbour], edge_harmonics, weights)
        return scatter_sum(messages, centre, num_atoms) * self.neighbour_norm

    def forward_in_chunks(
        self, h, species, edge_harmonics, lengths, edge_index, radial_fn, chunks
    ):
        """The layer with the neighbour sum taken over slices of centre atoms.

        Each slice's messages are computed under activation checkpointing
        (`torch.utils.checkpoint`): only its inputs are kept for the backward
        pass, where the slice is computed again, so the memory of the edges
        (messages, radial weights) is that of one slice, not of all edges.
        Results equal :meth:`forward`'s to rounding.

        Parameters
        ----------
        h, species, edge_harmonics, edge_index
            As for :meth:`forward`; the edges sorted by centre.
        lengths : Tensor, shape (E,)
            Edge lengths in Å.
        radial_fn : callable
            Lengths (e,) -> radial weights (e, num_paths · C) of this layer.
        chunks : list of (int, int, int, int)
            ``(first_atom, end_atom, first_edge, end_edge)`` of each slice:
            the edges of centres ``first_atom <= i < end_atom``.
        """
        from torch.utils.checkpoint import checkpoint

        x = self.linear_in(h)

        def slice_sum(x, harmonics, lengths, centre, neighbour, count):
            weights = radial_fn(lengths)
            index = torch.stack([centre, neighbour])
            return self.neighbour_sum(x, harmonics, weights, index, count)

        parts = []
        for first_atom, end_atom, first_edge, end_edge in chunks:
            edges = slice(first_edge, end_edge)
            parts.append(
                checkpoint(
                    slice_sum,
                    x,
                    edge_harmonics[edges],
                    lengths[edges],
                    edge_index[0, edges] - first_atom,
                    edge_index[1, edges],
                    end_atom - first_atom,
                    use_reentrant=False,
                )
            )
        return self.update(h, species, torch.cat(parts))

    def update(self, h, species, aggregated):
        """The layer's output from its input ``h`` and neighbour sum (N, dim_out, C)."""
        orders = self._mix_paths(aggregated)
        if self.product is not None:
            products = self.product(torch.cat(orders, dim=1), species)
            norm = products[0].shape[-1] ** -0.5
            orders = [
                block @ weight * norm
                for block, weight in zip(products, self.linear_product, strict=True)
            ]
        for l, skip in enumerate(self.self_connection(h, species)):
            orders[l] = orders[l] + skip
        out = self.nonlinearity(orders)
        if self.residual:
            out = out + h
        return out
