"""What a model has seen in training, and warnings when a structure leaves it.

A checkpoint written by ``mlpot-train`` records, in ``metadata["domain"]``,
the smallest interatomic distance of its training frames (Å) and the
chemical formulas of the training frames. A calculator warns, once per kind
of warning, when a structure has atoms closer than that distance (near-
coincident atoms give energies of -1e6 eV and worse, with no error) or a
formula no training frame had (a model of one molecule says nothing reliable
about another).
"""

import warnings
from typing import Dict, Iterable, Optional

import numpy as np


class OutOfDomainWarning(UserWarning):
    """A structure unlike any the model was trained on."""


def formula(numbers) -> str:
    """Hill formula of a set of atomic numbers, e.g. ``"C2H6O"``."""
    from ase.data import chemical_symbols
    from ase.formula import Formula

    symbols = [chemical_symbols[z] for z in np.asarray(numbers)]
    return Formula.from_list(symbols).format("hill")


def training_domain(frames, min_distance: Optional[float]) -> Dict:
    """The ``domain`` record of a training set.

    Parameters
    ----------
    frames : mlpot.data.Frames
        The training frames.
    min_distance : float or None
        The smallest interatomic distance among them within the cutoff, in Å
        (None when no two atoms are that close).
    """
    formulas = {frames.formula(k) for k in range(len(frames))}
    return {
        "min_distance_A": None if min_distance is None else float(min_distance),
        "formulas": sorted(formulas),
    }


class DomainGuard:
    """Warns when structures leave a model's training domain.

    A composition warns once. A pair closer than any in the training data (by
    more than 0.001 Å, rounding) warns, and warns again whenever a later
    structure comes 10 % closer than the closest one warned about, so a far
    worse structure is never silent.

    Parameters
    ----------
    domain : dict, optional
        ``metadata["domain"]`` of a checkpoint; None (models without a
        record) checks nothing.
    exact_lone_atoms : bool
        The model gives a lone atom exactly its isolated-atom energy (E0s
        given in training), so a single atom is not an unseen composition.
    """

    # Closer than the training data by less than this (Å) is rounding, not a warning.
    DISTANCE_TOLERANCE = 1e-3
    # A later structure warns again when its closest pair is this much closer
    # than the closest one warned about.
    CLOSER_AGAIN = 0.9

    def __init__(self, domain: Optional[Dict], exact_lone_atoms: bool = False):
        domain = domain or {}
        self.min_distance = domain.get("min_distance_A")
        self.formulas = set(domain.get("formulas") or ())
        self.exact_lone_atoms = exact_lone_atoms
        self._warned = set()
        self._closest_warned = None

    def check(self, numbers, distances: Iterable[float]) -> None:
        """Warn about ``numbers`` (N,) and the edge lengths ``distances`` (Å)."""
        distances = np.asarray(distances)
        if self.min_distance is not None and distances.size:
            closest = float(distances.min())
            further_in = (
                self._closest_warned is None
                or closest < self.CLOSER_AGAIN * self._closest_warned
            )
            if closest < self.min_distance - self.DISTANCE_TOLERANCE and further_in:
                self._closest_warned = closest
                warnings.warn(
                    f"two atoms are {closest:.3f} Å apart, closer than any pair in "
                    f"the training data ({self.min_distance:.3f} Å); the model's "
                    "energy and forces there are extrapolated and may be wrong by "
                    "orders of magnitude",
                    OutOfDomainWarning,
                    stacklevel=3,
                )
        lone_atom_exact = self.exact_lone_atoms and len(np.asarray(numbers)) == 1
        if self.formulas and not lone_atom_exact:
            seen = formula(numbers)
            if seen not in self.formulas:
                self.warn_once(
                    f"formula {seen}",
                    f"the structure is {seen}, a composition the model was not "
                    f"trained on (it saw {', '.join(sorted(self.formulas))}); its "
                    "energies are not reliable for it",
                )

    def warn_once(self, kind: str, message: str) -> None:
        """Warn with ``message`` unless a warning of ``kind`` was given already."""
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, OutOfDomainWarning, stacklevel=4)
