"""Per-element reference energies (E0s) of a run, from the ``data.E0s`` setting.

The E0s become the model's per-species energy shift: every atom's energy is
its E0 plus what the network learns. They come from isolated-atom energies
(a mapping, or a file of isolated atoms, recognised as MACE does by
``config_type=IsolatedAtom`` or by having one atom), from the mean energy per
atom (``"average"``), or from a least-squares fit on the training
compositions (``"fit"``, the default).
"""

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from mlpot.data import Frames
from mlpot.data.units import energy_unit as energy_unit_factor
from mlpot.train.normalisation import fit_atomic_energies

MODES = ("fit", "average")


def portable_e0s(setting: Any, energy_key: Optional[str] = None) -> Any:
    """``data.E0s`` as a run records it: a file of isolated atoms becomes the
    mapping element → energy it holds, so that the run's config needs no file
    of this machine; other settings stay as they are."""
    if isinstance(setting, str) and setting not in MODES:
        energies = isolated_atom_energies(Path(setting), energy_key)
        return {chemical_symbols[z]: energy for z, energy in sorted(energies.items())}
    return setting


def e0s_origin(source: str) -> str:
    """Where reference energies came from, in words, from their recorded ``source``.

    ``source`` is ``"fit"``, ``"average"``, ``"mapping"`` or the file they
    were read from, as :func:`resolve_e0s` records it.
    """
    return {
        "fit": "a least-squares fit on the training compositions",
        "average": "the training data's mean energy per atom",
        "mapping": "isolated-atom energies given in data.E0s",
    }.get(source, f"isolated-atom energies from {source}")


def resolve_e0s(
    setting: Any,
    species: Sequence[int],
    frames: Frames,
    energy_unit: Optional[str] = None,
    energy_key: Optional[str] = None,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """The E0 of each species in eV, and how they were obtained.

    Parameters
    ----------
    setting : None, str or mapping
        ``data.E0s``: None or ``"fit"``, ``"average"``, a mapping element →
        energy, or the path of a file of isolated atoms.
    species : sequence of int
        The model's species, in its order.
    frames : Frames
        The training frames (eV), for ``"fit"`` and ``"average"``.
    energy_unit : str, optional
        Unit of a mapping's or file's energies (``data.energy_unit``); eV
        when not given.
    energy_key : str, optional
        ``atoms.info`` key of the energies in an isolated-atoms file.

    Returns
    -------
    values : ndarray, shape (S,)
        E0 in eV per species.
    record : dict
        JSON-able: ``source`` (``"fit"``, ``"average"``, ``"mapping"`` or the
        file name), ``isolated_atoms`` (whether these are isolated-atom
        energies) and ``eV`` (element symbol → E0).
    """
    species = [int(z) for z in species]
    factor = energy_unit_factor(energy_unit or "eV")[1]
    if setting is None or setting == "fit":
        values, source, isolated = fit_atomic_energies(frames, species), "fit", False
    elif setting == "average":
        per_atom = frames.energy.sum() / frames.n_atoms.sum()
        values, source, isolated = np.full(len(species), per_atom), "average", False
    elif isinstance(setting, dict):
        given = {_atomic_number(key): float(value) for key, value in setting.items()}
        values = _pick(given, species, "data.E0s") * factor
        source, isolated = "mapping", True
    elif isinstance(setting, str):
        given = isolated_atom_energies(Path(setting), energy_key)
        values = _pick(given, species, f"the isolated atoms of {setting}") * factor
        source, isolated = Path(setting).name, True
    else:
        raise ValueError(
            f"data.E0s must be 'fit', 'average', a mapping element → energy or the "
            f"path of a file of isolated atoms, got {setting!r}"
        )
    record = {
        "source": source,
        "isolated_atoms": isolated,
        "eV": {
            chemical_symbols[z]: float(v) for z, v in zip(species, values, strict=True)
        },
    }
    return np.asarray(values, dtype=np.float64), record


def _atomic_number(key) -> int:
    if isinstance(key, int) and 0 < key < len(chemical_symbols):
        return key
    if isinstance(key, str) and key in atomic_numbers:
        return atomic_numbers[key]
    raise ValueError(
        f"data.E0s has the key {key!r}, which is neither an element symbol nor an "
        "atomic number"
    )


def _pick(given: Dict[int, float], species, where: str) -> np.ndarray:
    missing = [chemical_symbols[z] for z in species if z not in given]
    if missing:
        raise ValueError(
            f"{where} gives no energy for {', '.join(missing)}, which the training "
            "data contain; give an isolated-atom energy for every element"
        )
    return np.array([given[z] for z in species], dtype=np.float64)


def isolated_atom_energies(path: Path, energy_key: Optional[str]) -> Dict[int, float]:
    """Energy of each element's isolated atom in a file, in the file's unit.

    Frames of one atom, or with ``config_type=IsolatedAtom``, as MACE reads
    them; the energy from ``atoms.info[energy_key]`` or ase's result.
    """
    import ase.io

    if not path.is_file():
        raise FileNotFoundError(
            f"data.E0s names {path}, which does not exist; give the file of isolated "
            "atoms, a mapping element → energy, 'fit' or 'average'"
        )
    energies = {}
    for k, atoms in enumerate(ase.io.read(path, index=":")):
        if len(atoms) != 1 and atoms.info.get("config_type") != "IsolatedAtom":
            continue
        if len(atoms) != 1:
            raise ValueError(
                f"frame {k} of {path} is marked IsolatedAtom but has {len(atoms)} atoms"
            )
        if energy_key is not None and energy_key in atoms.info:
            energy = float(atoms.info[energy_key])
        elif atoms.calc is not None and "energy" in atoms.calc.results:
            energy = float(atoms.calc.results["energy"])
        else:
            raise ValueError(
                f"frame {k} of {path} (an isolated {atoms.get_chemical_symbols()[0]}) "
                f"has no energy{f' under {energy_key!r}' if energy_key else ''}"
            )
        energies[int(atoms.numbers[0])] = energy
    if not energies:
        raise ValueError(
            f"{path} holds no isolated atoms (frames of one atom, or with "
            "config_type=IsolatedAtom)"
        )
    return energies
