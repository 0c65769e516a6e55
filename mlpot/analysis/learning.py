"""Learning curves and the energy split for out-of-distribution tests."""

from typing import Tuple

import numpy as np


def fit_power_law(sizes, errors) -> Tuple[float, float]:
    """Fit ``error = prefactor * size**slope`` by least squares in log-log space.

    Parameters
    ----------
    sizes : array_like, shape (P,)
        Training-set sizes (frames), positive; repeated sizes (several seeds)
        are fine.
    errors : array_like, shape (P,)
        Test errors at those sizes, positive (any unit).

    Returns
    -------
    slope : float
        The exponent; negative when the error falls with more data.
    prefactor : float
        The error the fit gives at size 1, in the unit of ``errors``.
    """
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1)
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    if sizes.shape != errors.shape:
        raise ValueError(
            f"{len(sizes)} sizes but {len(errors)} errors; give one error per size"
        )
    if len(np.unique(sizes)) < 2:
        raise ValueError("a slope needs errors at two or more different sizes")
    if (sizes <= 0).any() or (errors <= 0).any():
        raise ValueError("sizes and errors must be positive for a log-log fit")
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
    return float(slope), float(np.exp(intercept))


def energy_split(energies, fraction: float) -> Tuple[np.ndarray, np.ndarray]:
    """Split frames into the lowest ``fraction`` of energies and the rest.

    For an out-of-distribution test: train (and validate) on the low-energy
    frames, test on the high-energy ones. Ties are broken by frame order.

    Parameters
    ----------
    energies : array_like, shape (F,)
        Energy of each frame (any unit).
    fraction : float
        Fraction of the frames in the low-energy part, in (0, 1).

    Returns
    -------
    low, high : ndarray of int
        Sorted frame indices; ``low`` has ``floor(fraction * F)`` frames, and
        every energy in ``low`` is at most every energy in ``high``.
    """
    energies = np.asarray(energies, dtype=np.float64).reshape(-1)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    n_low = int(np.floor(fraction * len(energies)))
    if n_low < 1 or n_low == len(energies):
        raise ValueError(
            f"a fraction {fraction} of {len(energies)} frames leaves one part "
            "empty; use more frames or another fraction"
        )
    order = np.argsort(energies, kind="stable")
    return np.sort(order[:n_low]), np.sort(order[n_low:])
