"""The fast m-major equivariant layers agree with e3nn's reference implementations."""

import pytest
import torch
from e3nn import o3

from mlpot.nn.equivariant import EdgeTensorProduct, EquivariantLinear, order_rows


def to_e3nn_layout(x, orders):
    """(E, D, C) m-major -> (E, Σ C(2l+1)) e3nn layout; ``orders``: l of each block."""
    blocks, row = [], 0
    for l in orders:
        block = x[:, row : row + 2 * l + 1]
        blocks.append(block.transpose(1, 2).reshape(x.shape[0], -1))
        row += 2 * l + 1
    return torch.cat(blocks, dim=1)


@pytest.mark.parametrize(
    "lmax_in, lmax_edge, lmax_out", [(0, 1, 1), (1, 1, 1), (2, 2, 2), (2, 2, 0)]
)
def test_edge_tensor_product_matches_e3nn(lmax_in, lmax_edge, lmax_out):
    channels, num_edges = 3, 5
    ours = EdgeTensorProduct(lmax_in, lmax_edge, lmax_out).double()
    irreps_in = o3.Irreps([(channels, (l, (-1) ** l)) for l in range(lmax_in + 1)])
    irreps_edge = o3.Irreps.spherical_harmonics(lmax_edge)
    irreps_out = o3.Irreps([(channels, (l3, (-1) ** l3)) for _, _, l3 in ours.paths])
    instructions = [
        (l1, l2, k, "uvu", True) for k, (l1, l2, _) in enumerate(ours.paths)
    ]
    reference = o3.TensorProduct(
        irreps_in,
        irreps_edge,
        irreps_out,
        instructions,
        shared_weights=False,
        internal_weights=False,
    ).double()

    x = torch.randn(num_edges, (lmax_in + 1) ** 2, channels, dtype=torch.float64)
    harmonics = o3.spherical_harmonics(
        list(range(lmax_edge + 1)), torch.randn(num_edges, 3, dtype=torch.float64), True
    )
    weights = torch.randn(num_edges, len(ours.paths), channels, dtype=torch.float64)
    expected = reference(
        to_e3nn_layout(x, range(lmax_in + 1)), harmonics, weights.reshape(num_edges, -1)
    )
    got = to_e3nn_layout(ours(x, harmonics, weights), [p[2] for p in ours.paths])
    assert got.abs().max() > 1e-3
    torch.testing.assert_close(got, expected)


def test_linear_matches_e3nn():
    lmax, c_in, c_out = 2, 4, 3
    ours = EquivariantLinear(lmax, c_in, c_out).double()
    irreps = lambda c: o3.Irreps([(c, (l, (-1) ** l)) for l in range(lmax + 1)])  # noqa: E731
    reference = o3.Linear(irreps(c_in), irreps(c_out)).double()
    with torch.no_grad():
        reference.weight.copy_(torch.cat([w.reshape(-1) for w in ours.weight]))
    x = torch.randn(6, (lmax + 1) ** 2, c_in, dtype=torch.float64)
    torch.testing.assert_close(
        to_e3nn_layout(ours(x), range(lmax + 1)),
        reference(to_e3nn_layout(x, range(lmax + 1))),
    )


def test_order_rows():
    assert order_rows(2) == [slice(0, 1), slice(1, 4), slice(4, 9)]


@pytest.mark.parametrize("tabulated", [False, True])
@pytest.mark.parametrize("correlation", [1, 3])
def test_neighbour_sums_in_atom_slices_equal_the_whole(correlation, tabulated):
    # Large systems sum messages over slices of atoms under checkpointing.
    from ase.build import molecule
    from conftest import make_model

    from mlpot.engines.systems import molecular_box
    from mlpot.graph import from_atoms
    from mlpot.model.forces import energy_and_forces

    model = make_model("equivariant", correlation=correlation)
    if tabulated:
        model.tabulate_radial()
    graph = from_atoms(molecular_box(molecule("H2O"), 20, 1.0, seed=0), model.r_max)
    shuffled = torch.randperm(graph["edge_index"].shape[1])  # slices sort the edges
    graph["edge_index"] = graph["edge_index"][:, shuffled]
    graph["edge_shift"] = graph["edge_shift"][shuffled]
    model.edge_chunk = None
    whole = energy_and_forces(model, graph)
    model.edge_chunk = 100
    sliced = energy_and_forces(model, graph)
    assert graph["edge_index"].shape[1] > 10 * model.edge_chunk
    assert torch.allclose(sliced["energy"], whole["energy"], rtol=0, atol=1e-10)
    assert torch.allclose(sliced["forces"], whole["forces"], rtol=0, atol=1e-12)
