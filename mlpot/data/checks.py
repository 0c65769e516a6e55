"""Sanity checks on labelled frames: finite values and consistent units.

Three unit checks catch the usual mistakes with MD17-family data:

* magnitude: a total energy cannot exceed (in size) the all-electron energy of
  its atoms. Twice the Thomas-Fermi energy of the neutral atoms, which is
  already larger in size than the true one, bounds it safely. Energies in
  kcal/mol read as eV break this bound by a factor of about ten.
* energy/force consistency: for two nearby frames a and b of the same
  molecule, after removing rotation and translation,
  E_b - E_a ≈ -(F_a + F_b)/2 · (R_b - R_a) (trapezoid rule for the work).
  The least-squares ratio of the two sides is about 1 when energies and
  forces share a unit, and 23, 27, 96, ... when they do not.
"""

import itertools
from typing import Optional

import numpy as np

from mlpot.data.frames import Frames
from mlpot.data.splits import find_duplicates
from mlpot.data.units import ENERGY_UNITS

# Thomas-Fermi total energy of a neutral atom is -0.7687 Z^(7/3) Hartree.
_THOMAS_FERMI_HARTREE = 0.7687
_HARTREE_IN_EV = ENERGY_UNITS["Hartree"]

# The consistency ratio is trusted only when the pairs agree well with a line
# through zero; otherwise the frames are too far apart to judge (typical for
# a few random MD snapshots) and no verdict is given.
_MIN_PAIRS = 8
_MIN_CORRELATION = 0.9
# Random subsets (15 to 1000 frames) of the MD17-family files give ratios
# between 0.45 and 1.45, whole files 1.00 to 1.08; unit mix-ups give 23 or more.
_MAX_RATIO = 8.0
_MAX_FRAMES_COMPARED = 2000
_MAX_FORCE_EV_PER_A = 100.0
# Duplicate geometries whose labels differ by more than this disagree.
_LABEL_TOLERANCE = 1e-6


class UnitConsistencyError(ValueError):
    """The labels of a file do not fit the units they were declared in."""


def check_finite(frames: Frames, source: str = "frames") -> None:
    """Raise ``ValueError`` if positions, energies or forces hold NaN or inf.

    Parameters
    ----------
    frames : Frames
        Frames to check.
    source : str
        Name used in the message, e.g. the file path.
    """
    per_frame = {
        "positions": _bad_frames(frames, frames.positions),
        "energies": (
            None
            if frames.energy is None
            else np.flatnonzero(~np.isfinite(frames.energy))
        ),
        "forces": _bad_frames(frames, frames.forces),
    }
    for name, bad in per_frame.items():
        if bad is not None and len(bad):
            raise ValueError(
                f"{name} of {len(bad)} frame(s) in {source} are NaN or infinite "
                f"(frames {bad[:10].tolist()}); drop those frames from the file "
                "(e.g. failed reference calculations) or fix them before use"
            )


def _bad_frames(frames: Frames, per_atom: Optional[np.ndarray]):
    if per_atom is None:
        return None
    bad_atoms = ~np.isfinite(per_atom).all(axis=1)
    frame_of_atom = np.repeat(np.arange(len(frames)), frames.n_atoms)
    return np.unique(frame_of_atom[bad_atoms])


def energy_bound(frames: Frames) -> np.ndarray:
    """Largest plausible size of each frame's total energy, in eV.

    Parameters
    ----------
    frames : Frames
        Frames whose atomic numbers are used.

    Returns
    -------
    ndarray, shape (F,)
        Twice the summed Thomas-Fermi energies of the frame's atoms, in eV.
    """
    per_atom = 2 * _THOMAS_FERMI_HARTREE * frames.numbers ** (7 / 3) * _HARTREE_IN_EV
    frame_of_atom = np.repeat(np.arange(len(frames)), frames.n_atoms)
    return np.bincount(frame_of_atom, weights=per_atom, minlength=len(frames))


def energy_force_ratio(frames: Frames) -> Optional[float]:
    """Ratio of energy differences to force work between neighbouring frames.

    Frames with the same atoms in the same order are compared with their
    nearest neighbours (after optimal superposition); periodic frames are
    skipped. Groups larger than 2000 frames are subsampled (fixed seed).

    Parameters
    ----------
    frames : Frames
        Frames with energies (eV) and forces (eV/Å).

    Returns
    -------
    float or None
        About 1 when energies and forces use the same unit; ``None`` when the
        frames are too few or too far apart for a reliable estimate.
    """
    if frames.energy is None or frames.forces is None or len(frames) < 2:
        return None
    free = np.ones(len(frames), bool) if frames.pbc is None else ~frames.pbc.any(1)
    groups = {}
    for k in np.flatnonzero(free):
        groups.setdefault(frames.numbers[frames.atom_slice(k)].tobytes(), []).append(k)
    rng = np.random.default_rng(0)
    energy_steps, work = [], []
    for members in groups.values():
        if len(members) < 2:
            continue
        if len(members) > _MAX_FRAMES_COMPARED:
            members = np.sort(rng.choice(members, _MAX_FRAMES_COMPARED, replace=False))
        sub = frames.subset(members)
        shape = (len(sub), int(sub.n_atoms[0]), 3)
        steps, w = _neighbour_work(
            sub.positions.reshape(shape), sub.energy, sub.forces.reshape(shape)
        )
        energy_steps.append(steps)
        work.append(w)
    if not work:
        return None
    energy_steps, work = np.concatenate(energy_steps), np.concatenate(work)
    if len(work) < _MIN_PAIRS or not np.any(work):
        return None
    if np.corrcoef(energy_steps, work)[0, 1] < _MIN_CORRELATION:
        return None
    # The work is the estimate with the (trapezoid) error, so regress it on
    # the exact energy steps; the other way round biases the ratio low.
    return float(energy_steps @ energy_steps / (work @ energy_steps))


def _neighbour_work(positions, energy, forces, neighbours=3):
    """Energy steps and trapezoid-rule work for close pairs of frames.

    positions, forces: (M, N, 3); energy: (M,). Returns two (P,) arrays.
    """
    centred = positions - positions.mean(axis=1, keepdims=True)
    # Superpose every frame on the first one to find candidate neighbours
    # cheaply, then superpose each candidate pair exactly.
    on_first = centred @ _rotation(np.broadcast_to(centred[0], centred.shape), centred)
    flat = on_first.reshape(len(on_first), -1)
    squared = (flat**2).sum(1)
    distance = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(distance, np.inf)
    count = min(neighbours, len(flat) - 1)
    nearest = np.argpartition(distance, count - 1, axis=1)[:, :count]
    pairs = np.unique(
        np.sort(
            np.stack(
                [np.repeat(np.arange(len(flat)), nearest.shape[1]), nearest.ravel()],
                axis=1,
            ),
            axis=1,
        ),
        axis=0,
    )
    a, b = pairs.T
    rotation = _rotation(centred[a], centred[b])
    step = centred[b] @ rotation - centred[a]
    rmsd = np.sqrt((step**2).mean(axis=(1, 2)))
    # Exact duplicates carry no information; of the rest, only the closest
    # third is used, where the trapezoid rule is accurate.
    order = [p for p in np.argsort(rmsd) if rmsd[p] > 1e-8]
    keep = order[: len(order) // 3]
    a, b, step, rotation = a[keep], b[keep], step[keep], rotation[keep]
    work = -0.5 * ((forces[a] + forces[b] @ rotation) * step).sum(axis=(1, 2))
    return energy[b] - energy[a], work


def _rotation(target, mobile):
    """Rotations U (K, 3, 3) minimising |mobile @ U - target| (Kabsch), both centred."""
    covariance = np.einsum("kni,knj->kij", mobile, target)
    u, _, vt = np.linalg.svd(covariance)
    u[:, :, -1] *= np.sign(np.linalg.det(u @ vt))[:, None]
    return u @ vt


def check_units(frames: Frames, source: str = "frames") -> None:
    """Raise `UnitConsistencyError` if energies or forces contradict their units.

    Parameters
    ----------
    frames : Frames
        Frames converted to eV and Å; ``attrs`` name the source units.
    source : str
        Name used in the message, e.g. the file path.
    """
    energy_unit = frames.attrs.get("source_energy_unit", "eV")
    force_unit = frames.attrs.get("source_force_unit", "eV/Angstrom")
    fix = (
        "pass energy_unit=... (and force_unit=... if the forces use another "
        "unit) matching the file, or check_units=False to skip this check"
    )
    if frames.energy is not None:
        bound = energy_bound(frames)
        excess = np.abs(frames.energy) / bound
        worst = int(np.argmax(excess)) if len(excess) else 0
        if len(excess) and excess[worst] > 1:
            raise UnitConsistencyError(
                f"energies in {source} are too large to be in {energy_unit}: "
                f"frame {worst} has |E| = {abs(frames.energy[worst]):.6g} eV after "
                f"conversion, above {bound[worst]:.4g} eV, twice the "
                "all-electron (Thomas-Fermi) energy of its atoms. MD17-family files "
                f"use kcal/mol: pass energy_unit='kcal/mol' if that is the unit of "
                f"this file; otherwise {fix}"
            )
    ratio = energy_force_ratio(frames)
    if ratio is not None and not 1 / _MAX_RATIO < ratio < _MAX_RATIO:
        raise UnitConsistencyError(
            f"energies and forces in {source} disagree: between neighbouring "
            f"frames, energy differences are {ratio:.3g} times the work done by "
            f"the forces (about 1 when both are in the same unit). "
            f"{_explain_ratio(ratio)}Energies were read as {energy_unit} and "
            f"forces as {force_unit}; {fix}"
        )
    if frames.forces is not None and frames.forces.size:
        largest = float(np.abs(frames.forces).max())
        if largest > _MAX_FORCE_EV_PER_A:
            atom = int(np.abs(frames.forces).max(axis=1).argmax())
            frame = int(np.searchsorted(frames.offsets, atom, side="right") - 1)
            raise UnitConsistencyError(
                f"forces in {source} are too large to be in {force_unit}: frame "
                f"{frame} has a force component of {largest:.4g} eV/Å after "
                f"conversion, above the {_MAX_FORCE_EV_PER_A:g} eV/Å that no "
                "molecular data set reaches (forces in kcal/mol/Å read as eV/Å are "
                f"23 times too large); {fix}"
            )


def _explain_ratio(ratio: float) -> str:
    """Name the mix-up of energy units whose size ratio is closest to ``ratio``."""
    # Energies in unit `actual` read as unit `read_as` come out
    # size(read_as)/size(actual) times too large relative to the forces.
    distance, read_as, actual = min(
        (
            abs(np.log(ratio * ENERGY_UNITS[actual] / ENERGY_UNITS[read_as])),
            read_as,
            actual,
        )
        for read_as, actual in itertools.permutations(ENERGY_UNITS, 2)
    )
    if distance > np.log(2):
        return ""
    return (
        f"This is close to (1 {read_as})/(1 {actual}) = "
        f"{ENERGY_UNITS[read_as] / ENERGY_UNITS[actual]:.4g}, as if energies in "
        f"{actual} were read as {read_as}, or forces in {read_as}/length were read "
        f"as {actual}/length. "
    )


def check_duplicate_labels(frames: Frames, source: str = "frames") -> None:
    """Raise ``ValueError`` if frames with the same geometry carry different labels.

    Training on both labels of one geometry fits neither; the file is wrong
    (mixed levels of theory, or a failed calculation). Duplicates with equal
    labels are allowed: splits keep them together.

    Parameters
    ----------
    frames : Frames
        Frames with energies (eV) and forces (eV/Å).
    source : str
        Name used in the message, e.g. the file path.
    """
    conflicting = []
    for group in find_duplicates(frames):
        first = group[0]
        for other in group[1:]:
            energies_differ = frames.energy is not None and (
                abs(frames.energy[other] - frames.energy[first]) > _LABEL_TOLERANCE
            )
            forces_differ = frames.forces is not None and not np.allclose(
                frames.forces[frames.atom_slice(other)],
                frames.forces[frames.atom_slice(first)],
                rtol=0,
                atol=_LABEL_TOLERANCE,
            )
            if energies_differ or forces_differ:
                conflicting.append((int(first), int(other)))
    if conflicting:
        pairs = ", ".join(f"{a}/{b}" for a, b in conflicting[:10])
        raise ValueError(
            f"{len(conflicting)} frame(s) of {source} repeat the geometry of another "
            f"frame with different energy or forces (frames {pairs}); remove the "
            "wrong copies (e.g. frames of another level of theory) before training"
        )
