"""Constant buffers that every cast takes from a float64 master copy.

Clebsch-Gordan couplings are constants of a layer's orders, derived from
e3nn. Cast to float32 and back, they would keep float32 rounding, which
breaks a float64 model's rotation symmetry at about 1e-8 from l = 2 on. A
:class:`ExactConstants` module keeps the float64 values and, after every
``.to()``, ``.float()``, ``.double()`` or ``.cuda()``, refills the buffers
from them in the buffers' new dtype and device. The buffers are not
stored in checkpoints: they are rebuilt with the layer, and a stored copy is
ignored on load.
"""

from typing import Dict

import torch
from torch import nn


class ExactConstants(nn.Module):
    """A module whose constant buffers are always cast from float64 values."""

    def register_constant(self, name: str, value: torch.Tensor) -> None:
        """Register ``value`` (float64) as the non-persistent buffer ``name``."""
        if value.dtype != torch.float64:
            raise TypeError(f"constant {name!r} must be float64, got {value.dtype}")
        exact: Dict[str, torch.Tensor] = self.__dict__.setdefault("_exact", {})
        exact[name] = value
        self.register_buffer(name, value.clone(), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Older checkpoints store some constants, rounded to their training dtype.
        for name in self.__dict__.get("_exact", {}):
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for name, value in self.__dict__.get("_exact", {}).items():
            cast = getattr(self, name)
            setattr(self, name, value.to(device=cast.device, dtype=cast.dtype))
        return self
