"""`CartesianPotential`: a deliberately non-equivariant contrast to the other families.

It is the invariant continuous-filter model with one change: the filter of
every edge also sees the edge vector r_ij itself (its Cartesian components),
not only its length. The energy is therefore translation and permutation
invariant and the forces are conservative, but neither is rotation or
inversion invariant; training with random rotations
(``train.augment_rotations``) can only teach the symmetry approximately.
"""

import torch

from mlpot.model.invariant import InvariantPotential


class CartesianPotential(InvariantPotential):
    """Continuous-filter potential whose filters read raw Cartesian edge vectors.

    The filter input of edge ij is the Bessel radial embedding (num_basis,)
    concatenated with ``r_ij / r_max * u(r_ij)`` (3,), where ``u`` is the
    smooth cutoff envelope, so every input and every force still vanish
    smoothly at r_max.

    Parameters
    ----------
    config : ModelConfig
        Hyperparameters; ``config.name`` must be ``"cartesian"``.
    """

    family = "cartesian"
    extra_edge_inputs = 3

    def edge_inputs(self, vectors, radial, envelope) -> torch.Tensor:
        """Radial embedding and scaled edge vector, shape (E, num_basis + 3)."""
        directions = vectors * (envelope / self.r_max).unsqueeze(-1)
        return torch.cat([radial, directions], dim=-1)
