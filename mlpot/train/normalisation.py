"""Per-species reference energies and the energy scale, fitted before training."""

import warnings
from typing import Sequence, Tuple

import numpy as np

from mlpot.data import Frames


class DegenerateReferenceWarning(UserWarning):
    """The training compositions do not determine every element's reference energy."""


def composition(frames: Frames, species: Sequence[int]) -> np.ndarray:
    """Count of each species in each frame.

    Parameters
    ----------
    frames : Frames
        Structures to count.
    species : sequence of int
        Atomic numbers, in the model's species order; must cover every atom.

    Returns
    -------
    ndarray, shape (F, S), float64
    """
    species = np.asarray(species)
    missing = np.setdiff1d(frames.numbers, species)
    if len(missing):
        raise ValueError(
            f"atomic numbers {missing.tolist()} are not among the species "
            f"{species.tolist()}"
        )
    order = np.argsort(species)
    column = order[np.searchsorted(species, frames.numbers, sorter=order)]
    frame = np.repeat(np.arange(len(frames)), frames.n_atoms)
    counts = np.zeros((len(frames), len(species)))
    np.add.at(counts, (frame, column), 1.0)
    return counts


def fit_atomic_energies(frames: Frames, species: Sequence[int]) -> np.ndarray:
    """Per-species reference energies by least squares on the composition.

    Solves ``composition @ e ≈ energy``. When the compositions do not pin
    every species down (one molecule, as in MD17), the solution closest to
    the mean energy per atom for every species is taken: the mean is
    subtracted, and the minimum-norm least-squares correction added.

    Parameters
    ----------
    frames : Frames
        Training frames with energies in eV.
    species : sequence of int
        Atomic numbers, in the model's species order.

    Returns
    -------
    ndarray, shape (S,), float64
        Reference energy of each species in eV.
    """
    counts = composition(frames, species)
    rank = np.linalg.matrix_rank(counts)
    if rank < len(species):
        warnings.warn(
            f"the per-species reference energies are fitted on {rank} independent "
            f"composition(s) for {len(species)} elements, so they cannot tell the "
            "elements apart: each gets about the mean energy per atom. Energies of "
            "structures of the training compositions are unaffected, but a lone "
            "atom or another molecule gets no meaningful energy",
            DegenerateReferenceWarning,
            stacklevel=2,
        )
    mean_per_atom = frames.energy.sum() / frames.n_atoms.sum()
    residual = frames.energy - counts.sum(axis=1) * mean_per_atom
    correction, *_ = np.linalg.lstsq(counts, residual, rcond=None)
    return mean_per_atom + correction


def force_rms(frames: Frames) -> float:
    """Root mean square of the force components in eV/Å (NequIP's energy scale)."""
    rms = float(np.sqrt(np.mean(frames.forces**2)))
    if not rms > 0:
        raise ValueError(
            "the training forces are all zero, so they cannot set the energy scale; "
            "train on frames away from equilibrium"
        )
    return rms


def energy_rms(frames: Frames, species, atomic_energies) -> float:
    """Energy scale of energy-only data, in eV: the RMS per-atom energy residual.

    The root mean square over frames of (E - Σ E0) / N, used as the energy
    scale for frames without forces, whose force RMS (the scale otherwise)
    is unknown.
    """
    residual = frames.energy - composition(frames, species) @ atomic_energies
    rms = float(np.sqrt(np.mean((residual / frames.n_atoms) ** 2)))
    if not rms > 0:
        raise ValueError(
            "the training energies are all equal to their reference energies, so "
            "they cannot set the energy scale"
        )
    return rms


def fit_normalisation(
    model, frames: Frames, atomic_energies=None
) -> Tuple[np.ndarray, float]:
    """Fit reference energies and energy scale on ``frames`` and set them on ``model``.

    Parameters
    ----------
    model : mlpot.model.Potential
        Its ``config.species`` orders the reference energies.
    frames : Frames
        Training frames (eV, eV/Å).
    atomic_energies : array_like, shape (S,), optional
        Reference energies in eV to use instead of a fit (e.g. isolated-atom
        energies, `mlpot.train.reference_energies`).

    Returns
    -------
    atomic_energy_shift : ndarray, shape (S,)
        Reference energies in eV.
    energy_scale : float
        RMS of the training force components, used as the energy scale in eV
        (for energy-only frames, :func:`energy_rms`).
    """
    if atomic_energies is None:
        shift = fit_atomic_energies(frames, model.config.species)
    else:
        shift = np.asarray(atomic_energies, dtype=np.float64)
    if frames.forces is not None:
        scale = force_rms(frames)
    else:
        scale = energy_rms(frames, model.config.species, shift)
    model.set_normalisation(shift, scale)
    return shift, scale
