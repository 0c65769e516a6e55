import torch

from mlpot.nn.radial import BesselBasis, PolynomialCutoff


def test_bessel_basis_gradcheck():
    basis = BesselBasis(r_max=4.0, num_basis=5).double()
    r = torch.linspace(0.5, 3.9, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(basis, (r,))


def test_polynomial_cutoff_gradcheck_and_limits():
    cutoff = PolynomialCutoff(r_max=4.0, p=6)
    r = torch.linspace(0.1, 3.99, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(cutoff, (r,))
    values = cutoff(torch.tensor([0.0, 4.0, 4.5], dtype=torch.float64))
    assert values.tolist() == [1.0, 0.0, 0.0]
    # value and first two derivatives vanish at r_max
    r = torch.tensor([4.0 - 1e-4], dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(cutoff(r), r, create_graph=True)
    (d2,) = torch.autograd.grad(d1, r)
    assert abs(d1.item()) < 1e-6 and abs(d2.item()) < 1e-2
