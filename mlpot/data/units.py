"""Unit names and their conversion factors to eV and Å, taken from ``ase.units``."""

from typing import Dict, Tuple

from ase import units

# Canonical name -> size in eV.
ENERGY_UNITS: Dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "kcal/mol": units.kcal / units.mol,
    "kJ/mol": units.kJ / units.mol,
    "Hartree": units.Hartree,
    "Rydberg": units.Ry,
}
# Canonical name -> size in Å.
LENGTH_UNITS: Dict[str, float] = {
    "Angstrom": 1.0,
    "Bohr": units.Bohr,
    "nm": units.nm,
}
_ALIASES = {
    "ev": "eV",
    "mev": "meV",
    "kcal/mol": "kcal/mol",
    "kj/mol": "kJ/mol",
    "hartree": "Hartree",
    "ha": "Hartree",
    "eh": "Hartree",
    "rydberg": "Rydberg",
    "ry": "Rydberg",
    "angstrom": "Angstrom",
    "ang": "Angstrom",
    "a": "Angstrom",
    "å": "Angstrom",
    "bohr": "Bohr",
    "nm": "nm",
}


def _canonical(name: str, table: Dict[str, float], kind: str) -> str:
    canonical = _ALIASES.get(str(name).strip().lower())
    if canonical not in table:
        raise ValueError(f"unknown {kind} unit {name!r}; use one of {sorted(table)}")
    return canonical


def energy_unit(name: str) -> Tuple[str, float]:
    """Canonical name and size in eV of an energy unit.

    Parameters
    ----------
    name : str
        Unit name, case-insensitive, e.g. ``"kcal/mol"``, ``"eV"``, ``"Ha"``.

    Returns
    -------
    canonical : str
        The name as recorded in ``Frames.attrs``, e.g. ``"kcal/mol"``.
    factor : float
        eV per unit: energy_in_eV = value * factor.
    """
    canonical = _canonical(name, ENERGY_UNITS, "energy")
    return canonical, ENERGY_UNITS[canonical]


def length_unit(name: str) -> Tuple[str, float]:
    """Canonical name and size in Å of a length unit.

    Parameters
    ----------
    name : str
        Unit name, case-insensitive, e.g. ``"Angstrom"``, ``"Bohr"``.

    Returns
    -------
    canonical : str
        The name as recorded in ``Frames.attrs``.
    factor : float
        Å per unit: length_in_Å = value * factor.
    """
    canonical = _canonical(name, LENGTH_UNITS, "length")
    return canonical, LENGTH_UNITS[canonical]


def force_unit(name: str) -> Tuple[str, float]:
    """Canonical name and size in eV/Å of a force unit written ``"<energy>/<length>"``.

    Parameters
    ----------
    name : str
        E.g. ``"kcal/mol/Angstrom"``, ``"eV/Angstrom"``, ``"Hartree/Bohr"``.

    Returns
    -------
    canonical : str
        The name as recorded in ``Frames.attrs``.
    factor : float
        eV/Å per unit: force_in_eV_per_Å = value * factor.
    """
    energy_part, _, length_part = str(name).strip().rpartition("/")
    if not energy_part:
        raise ValueError(
            f"force unit {name!r} must be written '<energy>/<length>', "
            "e.g. 'kcal/mol/Angstrom' or 'eV/Angstrom'"
        )
    energy_name, energy_factor = energy_unit(energy_part)
    length_name, length_factor = length_unit(length_part)
    return f"{energy_name}/{length_name}", energy_factor / length_factor
