"""Radial basis and smooth cutoff of interatomic distances."""

import math

import torch
from torch import nn


class BesselBasis(nn.Module):
    r"""Bessel radial basis :math:`\sqrt{2/r_{max}}\,\sin(n\pi r/r_{max})/r`.

    Parameters
    ----------
    r_max : float
        Cutoff radius in Å.
    num_basis : int
        Number of basis functions n = 1..num_basis.
    trainable : bool
        Whether the frequencies n·π are learned (as in NequIP).

    Examples
    --------
    >>> basis = BesselBasis(r_max=5.0, num_basis=8)
    >>> basis(torch.tensor([1.0, 2.0])).shape
    torch.Size([2, 8])
    """

    def __init__(self, r_max: float, num_basis: int = 8, trainable: bool = True):
        super().__init__()
        if r_max <= 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        if num_basis < 1:
            raise ValueError(f"num_basis must be at least 1, got {num_basis}")
        self.r_max = float(r_max)
        self.prefactor = math.sqrt(2.0 / self.r_max)
        frequencies = (
            torch.arange(1, num_basis + 1, dtype=torch.get_default_dtype()) * math.pi
        )
        if trainable:
            self.frequencies = nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Basis values, shape (E, num_basis), for distances ``r`` (E,) in Å."""
        r = r.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * r / self.r_max) / r


class PolynomialCutoff(nn.Module):
    r"""Smooth envelope that goes to zero at ``r_max`` with vanishing derivatives.

    :math:`u(x) = 1 - \tfrac{(p+1)(p+2)}{2}x^p + p(p+2)x^{p+1}
    - \tfrac{p(p+1)}{2}x^{p+2}`
    with :math:`x = r/r_{max}`, and exactly zero for :math:`r \ge r_{max}`
    (Gasteiger et al., DimeNet, 2020).

    Parameters
    ----------
    r_max : float
        Cutoff radius in Å.
    p : int
        Smoothness exponent (6 as in NequIP).
    """

    def __init__(self, r_max: float, p: int = 6):
        super().__init__()
        if p < 2:
            raise ValueError(f"the cutoff exponent p must be at least 2, got {p}")
        self.r_max = float(r_max)
        self.p = float(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """Envelope values, shape (E,), for distances ``r`` (E,) in Å."""
        p = self.p
        x = r / self.r_max
        envelope = (
            1.0
            - 0.5 * (p + 1.0) * (p + 2.0) * x.pow(p)
            + p * (p + 2.0) * x.pow(p + 1.0)
            - 0.5 * p * (p + 1.0) * x.pow(p + 2.0)
        )
        return envelope * (x < 1.0)
