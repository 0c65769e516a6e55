"""How well a committee's spread predicts its error: rank correlation and calibration.

For each atom of each frame, a committee predicts a force spread σ (the norm
of its per-component standard deviations over members, eV/Å) and makes a
force error ε = |F_mean − F_ref| (eV/Å). A useful spread orders the errors
(Spearman rank correlation between σ and ε) and, after one scale factor
fitted on validation frames, matches their size: in bins of σ, the RMS of ε
follows s·σ (a calibration curve on the diagonal).
"""

from typing import Dict, Sequence

import numpy as np
from scipy.stats import spearmanr


def rank_correlation(spread, error) -> float:
    """Spearman rank correlation between predicted spread and true error."""
    spread, error = np.ravel(spread), np.ravel(error)
    if len(spread) < 3 or np.ptp(spread) == 0 or np.ptp(error) == 0:
        return float("nan")
    return float(spearmanr(spread, error).statistic)


def calibration_scale(spread, error) -> float:
    """The factor s that makes s·σ a calibrated error estimate on these data.

    The least-squares fit of ε² ≈ (s·σ)², i.e. s² = Σσ²ε² / Σσ⁴: with
    per-component errors of standard deviation s times the members' per
    component, E[ε²] = s²σ². Fit it on validation frames.
    """
    spread, error = np.ravel(spread), np.ravel(error)
    denominator = float(np.sum(spread**4))
    if denominator == 0:
        raise ValueError("the spread is zero everywhere; the members are identical")
    return float(np.sqrt(np.sum(spread**2 * error**2) / denominator))


def calibration_curve(spread, error, bins: int = 10) -> Dict[str, list]:
    """RMS error against mean spread, in bins of equal count of spread.

    Returns
    -------
    dict
        ``spread`` (mean σ per bin), ``rms_error`` (RMS ε per bin) and
        ``count`` (points per bin), lists of length ``bins`` at most.
    """
    spread, error = np.ravel(spread), np.ravel(error)
    order = np.argsort(spread)
    curve = {"spread": [], "rms_error": [], "count": []}
    for chunk in np.array_split(order, min(bins, len(order))):
        if len(chunk):
            curve["spread"].append(float(spread[chunk].mean()))
            curve["rms_error"].append(float(np.sqrt(np.mean(error[chunk] ** 2))))
            curve["count"].append(int(len(chunk)))
    return curve


def calibration_figure(path, sets: Dict[str, Dict[str, list]], scale: float = 1.0):
    """Calibration curves of several frame sets, with the diagonal, as a log-log PNG.

    Parameters
    ----------
    path : str or Path
        Output image.
    sets : dict
        Name of a frame set → :func:`calibration_curve`.
    scale : float
        The calibration factor applied to the spread axis.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    from mlpot.fileio import atomic_path

    figure = Figure(figsize=(5, 4.5), layout="constrained")
    axis = figure.subplots()
    values = []
    for name, curve in sets.items():
        x = scale * np.asarray(curve["spread"])
        axis.plot(x, curve["rms_error"], "o-", label=name)
        values += [*x, *curve["rms_error"]]
    positive = [v for v in values if v > 0]
    if positive:  # spreads and errors span decades in and out of distribution
        low, high = min(positive), max(positive)
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_yscale("log")
        for side in (axis.xaxis, axis.yaxis):  # labels at decades only
            side.set_minor_formatter(NullFormatter())
    axis.set_xlabel(f"predicted force spread × {scale:.3g} (eV/Å)")
    axis.set_ylabel("RMS force error (eV/Å)")
    axis.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=150)
    return path


def member_forces(calculator, frames, indices: Sequence[int] = None):
    """Every member's forces and the reference forces on labelled frames.

    Parameters
    ----------
    calculator : mlpot.calculator.CommitteeCalculator
    frames : mlpot.data.Frames
        With forces (eV/Å).
    indices : sequence of int, optional
        Frames to use; default all.

    Returns
    -------
    members : ndarray, shape (M, atoms, 3)
        Forces of each of the M members in eV/Å, for every atom of the frames
        used.
    reference : ndarray, shape (atoms, 3)
        The frames' forces in eV/Å.
    """
    indices = range(len(frames)) if indices is None else indices
    members, reference = [], []
    for k in indices:
        atoms = frames.to_atoms(int(k))
        atoms.calc = calculator
        atoms.get_forces()
        members.append(calculator.results["member_forces"])
        reference.append(frames.forces[frames.atom_slice(int(k))])
    return np.concatenate(members, axis=1), np.concatenate(reference)


def spread_and_error_of(members, reference):
    """Per-atom spread σ and error ε of the members' mean, in eV/Å.

    ``members`` (M, atoms, 3) and ``reference`` (atoms, 3) as `member_forces`
    returns them; σ is the norm of the per-component population standard
    deviations, as `CommitteeCalculator` reports it.
    """
    members = np.asarray(members)
    spread = np.linalg.norm(members.std(axis=0), axis=-1)
    error = np.linalg.norm(members.mean(axis=0) - reference, axis=-1)
    return spread, error


def spread_and_error(calculator, frames, indices: Sequence[int] = None):
    """Per-atom force spread σ and error ε (eV/Å), shape (atoms,), of a committee
    on labelled frames: `spread_and_error_of` of `member_forces` (same arguments)."""
    return spread_and_error_of(*member_forces(calculator, frames, indices))


def rank_correlation_by_size(members, reference) -> Dict[int, float]:
    """Rank correlation of spread and error for committees of the first k members.

    How much a larger committee would add: if the correlation has levelled off
    by k = M, more members would order the errors no better.

    Returns
    -------
    dict
        ``{k: rank correlation}`` for k = 2 … M.
    """
    return {
        k: rank_correlation(*spread_and_error_of(members[:k], reference))
        for k in range(2, len(members) + 1)
    }
