"""Sums over groups by index (edges onto atoms, atoms onto structures)."""

import torch


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of ``values`` (M, ...) into ``size`` rows by ``index`` (M,).

    Returns a tensor of shape (size, ...) with the dtype of ``values``.
    """
    out = values.new_zeros((size,) + tuple(values.shape[1:]))
    return out.index_add_(0, index, values)
