"""The symmetric contraction against a direct e3nn construction of the same products."""

import pytest
import torch
from e3nn import o3

from mlpot.nn.symmetric_contraction import SymmetricContraction, symmetric_basis

LMAX = 2
IRREPS = o3.Irreps("0e + 1o + 2e")  # one channel, the m-major rows of lmax 2


def e3nn_products(x, correlation, L):
    """e3nn couplings of ``correlation`` copies of x to (L, (-1)^L): (S, P, 2L+1)."""
    target = o3.Irrep(L, (-1) ** L)
    mid = [o3.Irrep(l, p) for l in range(LMAX + 1) for p in (1, -1)]
    value, irreps = x, IRREPS
    for step in range(correlation - 1):
        last = step == correlation - 2
        product = o3.FullTensorProduct(
            irreps, IRREPS, filter_ir_out=[target] if last else mid
        ).to(torch.float64)
        value, irreps = product(value, x), product.irreps_out
    blocks = [
        value[:, s].reshape(len(value), mul, ir.dim)
        for (mul, ir), s in zip(irreps, irreps.slices(), strict=True)
        if ir == target
    ]
    return torch.cat(blocks, dim=1)


def apply_basis(basis, x):
    """U_k(x, …, x) for every k and sample: (S, K, 2L+1)."""
    out = basis.unsqueeze(0).expand(len(x), *basis.shape)
    for _ in range(basis.dim() - 2):
        out = torch.einsum("skm...d,sd->skm...", out, x)
    return out


@pytest.mark.parametrize("correlation", [2, 3])
@pytest.mark.parametrize("L", [0, 1, 2])
def test_basis_spans_the_symmetric_e3nn_products(correlation, L):
    x = torch.randn(200, IRREPS.dim, dtype=torch.float64)
    ours = apply_basis(symmetric_basis(LMAX, correlation, L), x)
    theirs = e3nn_products(x, correlation, L)
    # As functions of x, e3nn's couplings span the same space as ours.
    as_columns = theirs.permute(0, 2, 1).reshape(-1, theirs.shape[1])
    rank = torch.linalg.matrix_rank(as_columns, rtol=1e-6)
    assert ours.shape[1] == rank > 0
    targets = ours.permute(0, 2, 1).reshape(-1, ours.shape[1])
    coefficients = torch.linalg.pinv(as_columns) @ targets  # rank-deficient
    residual = as_columns @ coefficients - targets
    assert residual.abs().max() < 1e-6 * targets.abs().max()


@pytest.mark.parametrize("correlation", [1, 2, 3])
def test_contraction_is_the_weighted_sum_of_its_couplings(correlation):
    """B_c^L = Σ_ν Σ_k w_{ν,k,c}(species) U_{ν,k}^L(A_c, …, A_c) from the basis."""
    contraction = SymmetricContraction(LMAX, LMAX, correlation, 3, 2).double()
    features = torch.randn(5, IRREPS.dim, 3, dtype=torch.float64)
    species = torch.tensor([0, 1, 1, 0, 1])
    weights = iter(contraction.weights)
    for L, out in enumerate(contraction(features, species)):
        expected = torch.zeros(5, 2 * L + 1, 3, dtype=torch.float64)
        for nu in range(1, correlation + 1):
            basis = symmetric_basis(LMAX, nu, L)
            if len(basis) == 0:
                continue
            w = next(weights)[species]  # (N, K, C)
            for c in range(3):
                couplings = apply_basis(basis, features[:, :, c])  # (N, K, 2L+1)
                expected[:, :, c] += torch.einsum("nkm,nk->nm", couplings, w[:, :, c])
        assert torch.allclose(out, expected, atol=1e-12)
    assert next(weights, None) is None


def test_contraction_is_equivariant_and_species_dependent():
    contraction = SymmetricContraction(LMAX, LMAX, 3, 4, num_species=2).double()
    features = torch.randn(6, IRREPS.dim, 4, dtype=torch.float64)
    species = torch.tensor([0, 1, 0, 1, 0, 1])
    rotation = o3.rand_matrix(dtype=torch.float64)
    turned = torch.einsum("ij,njc->nic", IRREPS.D_from_matrix(rotation), features)
    for L, (out, out_turned) in enumerate(
        zip(contraction(features, species), contraction(turned, species), strict=True)
    ):
        wigner = o3.Irrep(L, (-1) ** L).D_from_matrix(rotation)
        expected = torch.einsum("ij,njc->nic", wigner, out)
        assert (expected - out_turned).abs().max() < 1e-5 * out.abs().max()
    same_features = features[[0, 0]]
    scalars = contraction(same_features, torch.tensor([0, 1]))[0]
    assert not torch.allclose(scalars[0], scalars[1])


def test_correlation_must_be_positive():
    with pytest.raises(ValueError, match="correlation must be at least 1"):
        SymmetricContraction(1, 1, 0, 4, 2)
