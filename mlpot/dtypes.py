"""The floating-point precisions a model runs in, by name."""

import torch

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def as_torch_dtype(dtype) -> torch.dtype:
    """``"float64"``, ``"float32"`` or the torch dtype itself; anything else is refused.

    Half precision (float16, bfloat16) is refused: forces from autograd of a
    half-precision energy are off by tenths of an eV/Å.

    Raises
    ------
    ValueError
        ``dtype`` is not float64 or float32.
    """
    for name, torch_dtype in TORCH_DTYPES.items():
        if dtype == name or dtype is torch_dtype:
            return torch_dtype
    raise ValueError(
        f"dtype must be 'float64' or 'float32' (or torch.float64, torch.float32), "
        f"got {dtype!r}"
    )
