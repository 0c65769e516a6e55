"""Building blocks of the potentials; modules take explicit tensors."""
