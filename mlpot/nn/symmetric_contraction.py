"""Many-body features: MACE-style symmetric contraction of an atom's features.

For each channel c separately, the features A_c of an atom (orders l <=
lmax, parity (-1)^l, m-major rows as in `mlpot.nn.equivariant`) are multiplied
with themselves up to ``correlation`` times and coupled to each output order
L with e3nn's Wigner 3j symbols:

``B_c^L = Σ_ν Σ_k w_{ν,k,c}(species) · U_{ν,k}^L (A_c ⊗ … ⊗ A_c)``  (ν factors)

When A is a sum over neighbours of two-body messages (one interaction), a
product of ν factors holds (ν + 1)-body terms, so that two layers with
correlation 3 see 4-body and higher terms in the first layer alone.

The coupling tensors U_{ν,k}^L map the ν-fold product to order L with parity
(-1)^L. They are built by coupling one factor at a time with
`e3nn.o3.wigner_3j` (intermediate orders up to ``lmax``, either parity),
symmetrised over the ν factors (the product is symmetric, so only the
symmetric part counts), and reduced to an orthonormal basis of their span
(SVD), so that no two weights do the same thing.
"""

import collections
import itertools
import math
from typing import Dict, List, Tuple

import torch
from e3nn import o3
from torch import nn

from mlpot.nn.exact_constants import ExactConstants

# Singular values below this fraction of the largest mark dependent couplings.
RANK_TOLERANCE = 1e-6


def _selection(l: int, lmax: int) -> torch.Tensor:
    """Matrix (2l+1, (lmax+1)²) picking the rows of order l out of a feature."""
    out = torch.zeros(2 * l + 1, (lmax + 1) ** 2, dtype=torch.float64)
    out[:, l * l : (l + 1) ** 2] = torch.eye(2 * l + 1, dtype=torch.float64)
    return out


def coupling_candidates(lmax: int, correlation: int) -> Dict[Tuple[int, int], list]:
    """Every way of coupling ``correlation`` factors to each order and parity.

    Returns
    -------
    dict
        ``(L, parity)`` → list of tensors of shape (2L+1, D, …, D) with
        ``correlation`` axes of size D = (lmax+1)², one per factor.
    """
    found = {(l, (-1) ** l): [_selection(l, lmax)] for l in range(lmax + 1)}
    for _ in range(correlation - 1):
        grown: Dict[Tuple[int, int], list] = {}
        for (l1, p1), tensors in found.items():
            for l2 in range(lmax + 1):
                picked = _selection(l2, lmax)
                for l3 in range(abs(l1 - l2), min(l1 + l2, lmax) + 1):
                    w3j = o3.wigner_3j(l1, l2, l3, dtype=torch.float64)
                    for tensor in tensors:
                        coupled = torch.einsum(
                            "ijk,i...,jb->k...b", w3j, tensor, picked
                        )
                        grown.setdefault((l3, p1 * (-1) ** l2), []).append(coupled)
        found = grown
    return found


def symmetric_basis(lmax: int, correlation: int, L: int) -> torch.Tensor:
    """Orthonormal basis of the symmetric couplings of ``correlation`` factors to L.

    Returns
    -------
    Tensor, shape (K, 2L+1, D, …, D)
        K independent couplings (K may be 0), float64.
    """
    tensors = coupling_candidates(lmax, correlation).get((L, (-1) ** L), [])
    size = (lmax + 1) ** 2
    shape = (2 * L + 1,) + (size,) * correlation
    if not tensors:
        return torch.zeros((0,) + shape, dtype=torch.float64)
    axes = list(range(1, correlation + 1))
    permutations = list(itertools.permutations(axes))
    symmetric = [
        sum(t.permute(0, *order) for order in permutations) / len(permutations)
        for t in tensors
    ]
    stacked = torch.stack([t.reshape(-1) for t in symmetric])
    _, values, rows = torch.linalg.svd(stacked, full_matrices=False)
    rank = int((values > RANK_TOLERANCE * values.max()).sum()) if values.numel() else 0
    return rows[:rank].reshape((rank,) + shape)


def monomials(size: int, correlation: int) -> torch.Tensor:
    """Index tuples i1 <= … <= iν of the distinct entries of a symmetric product.

    Parameters
    ----------
    size : int
        Length D of each factor.
    correlation : int
        Number of factors ν.

    Returns
    -------
    Tensor, shape (P, ``correlation``), int64
        P = binomial(size + correlation - 1, correlation) rows.
    """
    rows = list(itertools.combinations_with_replacement(range(size), correlation))
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), correlation)


def on_monomials(basis: torch.Tensor, tuples: torch.Tensor) -> torch.Tensor:
    """A symmetric coupling as a matrix acting on the distinct monomials.

    For symmetric U, ``U(x, …, x) = Σ_p U[i_p] · mult_p · Π_j x[i_p,j]``, where
    mult_p counts the orderings of the index tuple i_p.

    Parameters
    ----------
    basis : Tensor, shape (K, M, D, …, D)
        Couplings symmetric in their ν last axes.
    tuples : Tensor, shape (P, ν)
        From :func:`monomials`.

    Returns
    -------
    Tensor, shape (P, K, M)
    """
    nu = tuples.shape[1]
    counts = [collections.Counter(row) for row in tuples.tolist()]
    multiplicity = torch.tensor(
        [
            math.factorial(nu) / math.prod(math.factorial(n) for n in c.values())
            for c in counts
        ],
        dtype=basis.dtype,
    )
    entries = basis[(slice(None), slice(None)) + tuple(tuples.T)]  # (K, M, P)
    return (entries * multiplicity).permute(2, 0, 1)


class SymmetricContraction(ExactConstants):
    """Channel-wise products of an atom's features, up to a correlation order.

    The couplings act on the distinct monomials of the features (165 rather
    than 729 entries of a threefold product at lmax 2), all orders in one
    matrix product, so that no (N, C, 2L+1, D, …, D) intermediate is formed.

    Parameters
    ----------
    lmax_in : int
        Highest order of the input features A, shape (N, (lmax_in+1)², C).
    lmax_out : int
        Highest output order L.
    correlation : int
        Largest number of factors ν (1 is a species-weighted copy of A).
    num_channels : int
        Channels C.
    num_species : int
        Chemical species; every weight depends on the atom's species.
    """

    def __init__(
        self,
        lmax_in: int,
        lmax_out: int,
        correlation: int,
        num_channels: int,
        num_species: int,
    ):
        super().__init__()
        if correlation < 1:
            raise ValueError(f"correlation must be at least 1, got {correlation}")
        self.correlation = correlation
        size = (lmax_in + 1) ** 2
        tuples = [monomials(size, nu) for nu in range(1, correlation + 1)]
        rows = [0] + list(itertools.accumulate(len(t) for t in tuples))
        self.weights = nn.ParameterList()
        self.blocks: List[Tuple[int, int, int]] = []  # per L: (K_L, column, weights)
        couplings, column = [], 0
        for L in range(lmax_out + 1):
            per_order = []
            for nu in range(1, correlation + 1):
                basis = symmetric_basis(lmax_in, nu, L)
                if len(basis) == 0:
                    continue
                block = torch.zeros(
                    rows[-1], len(basis), 2 * L + 1, dtype=torch.float64
                )
                block[rows[nu - 1] : rows[nu]] = on_monomials(basis, tuples[nu - 1])
                per_order.append(block)
                self.weights.append(
                    nn.Parameter(
                        torch.randn(num_species, len(basis), num_channels)
                        / math.sqrt(len(basis))
                    )
                )
            if not per_order:
                raise ValueError(
                    f"no product of features up to order {lmax_in} reaches output "
                    f"order {L}; lower lmax_out or raise lmax_in"
                )
            coupling = torch.cat(per_order, dim=1)  # (P, K_L, 2L+1)
            self.blocks.append((coupling.shape[1], column, len(per_order)))
            couplings.append(coupling.flatten(1))
            column += couplings[-1].shape[1]
        self.register_constant("coupling", torch.cat(couplings, dim=1))
        # selection[j] picks the j-th factor of every monomial from the features
        # with a constant 1 appended (row D), which stands in for the factors a
        # monomial of fewer than ``correlation`` factors lacks.
        selection = torch.zeros(correlation, size + 1, rows[-1], dtype=torch.float64)
        for nu, t in enumerate(tuples, start=1):
            columns = torch.arange(rows[nu - 1], rows[nu])
            for j in range(correlation):
                picked = t[:, j] if j < nu else torch.full_like(t[:, 0], size)
                selection[j, picked, columns] = 1.0
        self.register_buffer("selection", selection, persistent=False)

    def forward(
        self, features: torch.Tensor, species: torch.Tensor
    ) -> List[torch.Tensor]:
        """Per-order outputs, the L-th of shape (N, 2L+1, C).

        Parameters
        ----------
        features : Tensor, shape (N, (lmax_in+1)², C)
        species : Tensor, shape (N,)
            Species index of each atom.
        """
        one = features.new_ones(features.shape[0], features.shape[2], 1)
        factors = torch.cat([features.transpose(1, 2), one], dim=-1)  # (N, C, D+1)
        # Selections as matrix products: their gradients are matrix products
        # too, where indexing would scatter.
        product = factors @ self.selection[0]
        for j in range(1, self.correlation):
            product = product * (factors @ self.selection[j])  # (N, C, P)
        coupled = product @ self.coupling  # (N, C, Σ K_L·(2L+1))
        out, weight_index = [], 0
        for L, (k, column, used) in enumerate(self.blocks):
            weights = torch.cat(
                [self.weights[weight_index + i][species] for i in range(used)], dim=1
            )  # (N, K_L, C)
            weight_index += used
            block = coupled[..., column : column + k * (2 * L + 1)]
            block = block.reshape(*coupled.shape[:2], k, 2 * L + 1)
            out.append(torch.einsum("nckm,nkc->nmc", block, weights))
        return out
