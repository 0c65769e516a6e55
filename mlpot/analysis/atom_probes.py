"""Probes on per-atom latents: does an atom's own latent hold its own geometry?

Pooled (per-structure) latents mix every atom; a probe on them can fail
because pooling averages away what each atom knows. Here the latent of one
atom across frames is probed for the bonds and angles of that same atom:
each bond length i–j and each angle at i, for every heavy atom i.
"""

from typing import Dict, Sequence

import numpy as np
from ase.data import chemical_symbols

from mlpot.analysis.probes import held_out_split, linear_probe_r2
from mlpot.geometry.internal import (
    angle_triples,
    bond_angles,
    bond_lengths,
    bonded_pairs,
)


def own_geometry(frames, elements: Sequence[str] = ("C", "O")) -> Dict[str, tuple]:
    """The bonds and angles of each atom of ``elements``, over all frames.

    Parameters
    ----------
    frames : mlpot.data.Frames
        Frames of one molecule (same atoms in the same order).
    elements : sequence of str
        Element symbols of the atoms to describe.

    Returns
    -------
    dict
        Name (e.g. ``"C0: C0-O2 (Å)"``, ``"O2: C1-O2-H8 (deg)"``) →
        ``(atom index, values of shape (n_frames,))``.
    """
    first = frames.to_atoms(0)
    pairs = bonded_pairs(first)
    positions = frames.positions.reshape(len(frames), -1, 3)
    symbols = [chemical_symbols[z] for z in first.numbers]

    def label(indices):
        return "-".join(f"{symbols[k]}{k}" for k in indices)

    found = {}
    lengths = bond_lengths(positions, pairs)
    triples = angle_triples(pairs)
    angles = bond_angles(positions, triples) if len(triples) else None
    for atom, symbol in enumerate(symbols):
        if symbol not in elements:
            continue
        for column, pair in enumerate(pairs):
            if atom in pair:
                name = f"{symbol}{atom}: {label(pair)} (Å)"
                found[name] = (atom, lengths[:, column])
        for column, triple in enumerate(triples):
            if triple[1] == atom:
                name = f"{symbol}{atom}: {label(triple)} (deg)"
                found[name] = (atom, angles[:, column])
    return found


def atom_probe_r2(
    per_atom, frames, geometry: Dict[str, tuple], test_fraction=0.25, seed=0
) -> Dict[str, float]:
    """R² of linear probes from each atom's own latent to its own geometry.

    Parameters
    ----------
    per_atom : array_like, shape (atoms of all frames, F)
        Per-atom latents of ``frames``, in their packed atom order (e.g. from
        :func:`mlpot.analysis.latent.structure_features`).
    frames : mlpot.data.Frames
        Frames of one molecule.
    geometry : dict
        From :func:`own_geometry`.
    test_fraction, seed
        The held-out split of frames (:func:`held_out_split`).

    Returns
    -------
    dict
        Name → held-out R² of the probe.
    """
    per_atom = np.asarray(per_atom, dtype=np.float64)
    size = int(frames.n_atoms[0])
    latents = per_atom.reshape(len(frames), size, -1)
    train, test = held_out_split(len(frames), test_fraction, seed)
    return {
        name: linear_probe_r2(
            latents[train, atom], values[train], latents[test, atom], values[test]
        )
        for name, (atom, values) in geometry.items()
    }
