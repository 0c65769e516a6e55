"""Analysis tools: symmetry checks, geometry, torsions, latent spaces."""

from mlpot.analysis.geometry import (
    angle_triples,
    bond_angles,
    bond_lengths,
    bonded_pairs,
    dihedral_angles,
    group_by_elements,
)
from mlpot.analysis.scan import (
    ProfileSummary,
    TorsionScan,
    profile_summary,
    relaxed_scan,
    rigid_scan,
    set_torsion,
)
from mlpot.analysis.torsion import (
    KCAL_PER_MOL,
    basin_populations,
    ethane_torsion,
    ethane_torsion_quadruples,
    fold_angles,
    free_energy_profile,
    nearest_basin,
    rotating_group,
    torsion_coordinate,
    torsion_quadruple,
)

__all__ = [
    "KCAL_PER_MOL",
    "ProfileSummary",
    "TorsionScan",
    "angle_triples",
    "basin_populations",
    "bond_angles",
    "bond_lengths",
    "bonded_pairs",
    "dihedral_angles",
    "ethane_torsion",
    "ethane_torsion_quadruples",
    "fold_angles",
    "free_energy_profile",
    "group_by_elements",
    "nearest_basin",
    "profile_summary",
    "relaxed_scan",
    "rigid_scan",
    "rotating_group",
    "set_torsion",
    "torsion_coordinate",
    "torsion_quadruple",
]
