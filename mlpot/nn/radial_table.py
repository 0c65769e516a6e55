"""Cubic Hermite tables of functions of the edge length, for fast inference.

The radial networks of both model families (the per-layer MLPs that turn the
Bessel × cutoff embedding into tensor-product weights or continuous filters)
depend on the edge length r only. :class:`RadialTable` replaces all of them
at once by one piecewise cubic Hermite interpolant on a uniform grid over
[0, r_max] that holds the networks' exact values and exact derivatives d/dr
at the grid points. Evaluating it is a handful of operations on (E,) tensors
and one ``embedding_bag`` for all layers, instead of several matrix products
per layer; the interpolant is differentiated by autograd, so forces remain
the exact gradient of the (tabulated) energy.

The interpolation error of a cubic Hermite spline is at most
``h⁴/384 · max|f''''|`` for grid spacing ``h`` (and O(h³) for its
derivative). The interpolant is C¹: values and first derivatives are
continuous across grid points.
"""

import math
from typing import Callable

import torch
from torch import nn

# Hermite basis h00, h10, h01, h11 as polynomials in t: rows t¹, t², t³
# (the t⁰ row is [1, 0, 0, 0] and is added as a bias).
_HERMITE = [[0.0, 1.0, 0.0, 0.0], [-3.0, -2.0, 3.0, -1.0], [2.0, 1.0, -2.0, 1.0]]


class RadialTable(nn.Module):
    """Cubic Hermite interpolant of a vector-valued function of the edge length.

    Holds ``f(r_k)`` and ``h·f'(r_k)`` at ``r_k = k·h``, k = 0..K, with
    ``h = r_max / K``; lengths at or beyond ``r_max`` get ``f(r_max)`` with a
    zero derivative (the tabulated functions vanish smoothly there). The
    table's tensors are non-persistent buffers: they follow ``.to()`` but are
    never written to a ``state_dict``.

    Parameters
    ----------
    values : Tensor, shape (K+1, M)
        ``f`` at the grid points, for M outputs.
    derivatives : Tensor, shape (K+1, M)
        ``df/dr`` at the grid points, in 1/Å times the unit of ``f``.
    r_max : float
        End of the grid in Å; the grid starts at 0.

    Examples
    --------
    >>> table = RadialTable.from_function(lambda r: torch.stack([r, r**2], -1), 5.0)
    >>> table(torch.tensor([1.5])).shape
    torch.Size([1, 2])
    """

    def __init__(self, values: torch.Tensor, derivatives: torch.Tensor, r_max: float):
        super().__init__()
        if values.ndim != 2 or values.shape != derivatives.shape:
            raise ValueError(
                "values and derivatives must both have shape (K+1, M), got "
                f"{tuple(values.shape)} and {tuple(derivatives.shape)}"
            )
        if values.shape[0] < 2:
            raise ValueError("a radial table needs at least two grid points")
        self.num_intervals = values.shape[0] - 1
        self.r_max = float(r_max)
        self.spacing = self.r_max / self.num_intervals
        self.inverse_spacing = self.num_intervals / self.r_max
        # Rows 2k and 2k+1 are f(r_k) and h·f'(r_k), so the four rows an
        # interval needs are contiguous.
        knots = torch.stack([values, derivatives * self.spacing], dim=1)
        self.register_buffer(
            "knots", knots.reshape(-1, values.shape[1]).contiguous(), persistent=False
        )
        hermite = torch.tensor(_HERMITE, dtype=values.dtype, device=values.device)
        self.register_buffer("hermite", hermite, persistent=False)
        self.register_buffer(
            "hermite_constant",
            torch.tensor(
                [1.0, 0.0, 0.0, 0.0], dtype=values.dtype, device=values.device
            ),
            persistent=False,
        )
        self.register_buffer(
            "row_offsets",
            torch.arange(4, device=values.device),
            persistent=False,
        )

    @property
    def num_outputs(self) -> int:
        """Number M of tabulated functions."""
        return self.knots.shape[1]

    @classmethod
    def from_function(
        cls,
        function: Callable[[torch.Tensor], torch.Tensor],
        r_max: float,
        spacing: float = 0.0025,
        dtype: torch.dtype = torch.float64,
        device=None,
    ) -> "RadialTable":
        """Tabulate ``function`` (E,) Å -> (E, M) on a grid of ``spacing`` Å.

        Values and derivatives are computed with ``function`` itself, the
        derivatives exactly by forward-mode autograd (``torch.func.jvp``),
        in float64, then stored in ``dtype``. At r = 0, where a Bessel basis
        is 0/0, the function is evaluated at ``1e-6·spacing`` instead.

        Parameters
        ----------
        function : callable
            Maps lengths (E,) in Å, float64, to values (E, M).
        r_max : float
            End of the grid in Å.
        spacing : float
            Largest grid spacing h in Å; the grid has ``ceil(r_max / h)``
            intervals of equal length.
        dtype : torch.dtype
            Floating point type of the stored table.
        device : torch.device, optional
            Where to build and keep the table.

        Returns
        -------
        RadialTable
        """
        if spacing <= 0:
            raise ValueError(f"spacing must be positive, got {spacing} Å")
        intervals = max(1, math.ceil(r_max / spacing - 1e-9))
        grid = torch.linspace(
            0.0, float(r_max), intervals + 1, dtype=torch.float64, device=device
        )
        grid[0] = 1e-6 * float(r_max) / intervals
        values, derivatives = torch.func.jvp(
            function, (grid,), (torch.ones_like(grid),)
        )
        values, derivatives = values.detach(), derivatives.detach()
        if values.ndim != 2:
            raise ValueError(
                f"the tabulated function must return (E, M), got {tuple(values.shape)}"
            )
        return cls(values.to(dtype), derivatives.to(dtype), r_max)

    def _apply(self, fn, recurse=True):
        self._column_knots = {}
        return super()._apply(fn, recurse)

    def column_knots(self, start: int, stop: int) -> torch.Tensor:
        """The knots of outputs ``start:stop`` only, contiguous (cached)."""
        cache = self.__dict__.setdefault("_column_knots", {})
        if (start, stop) not in cache:
            cache[(start, stop)] = self.knots[:, start:stop].contiguous()
        return cache[(start, stop)]

    def forward(self, lengths: torch.Tensor, columns=None) -> torch.Tensor:
        """Interpolated values, shape (E, M), for edge lengths (E,) in Å.

        Differentiable with respect to ``lengths`` (the derivative of the
        interpolant, continuous across grid points). ``columns``, a pair
        ``(start, stop)``, interpolates those outputs only.
        """
        knots = self.knots if columns is None else self.column_knots(*columns)
        scaled = lengths * self.inverse_spacing
        with torch.no_grad():
            interval = torch.floor(scaled).clamp_(0, self.num_intervals - 1)
            rows = (interval * 2).long().unsqueeze(1) + self.row_offsets
        t = (scaled - interval).clamp(max=1.0)  # beyond r_max: f(r_max), zero slope
        t2 = t * t
        weights = torch.addmm(
            self.hermite_constant, torch.stack([t, t2, t2 * t], dim=1), self.hermite
        )
        return nn.functional.embedding_bag(
            rows, knots, per_sample_weights=weights, mode="sum"
        )
