"""Analysis: symmetry, geometry, torsions, latent spaces, probes, learning curves."""

from mlpot.analysis.latent import project, structure_features
from mlpot.analysis.learning import energy_split, fit_power_law
from mlpot.analysis.probes import held_out_split, knn_r2, linear_probe_r2
from mlpot.analysis.variables import folded_torsion, geometry_variables
from mlpot.geometry.internal import (
    angle_triples,
    bond_angles,
    bond_lengths,
    bonded_pairs,
    dihedral_angles,
    group_by_elements,
)
from mlpot.geometry.scan import (
    ProfileSummary,
    TorsionScan,
    profile_summary,
    relaxed_scan,
    rigid_scan,
    set_torsion,
)
from mlpot.geometry.torsion import (
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
    "energy_split",
    "ethane_torsion",
    "ethane_torsion_quadruples",
    "fit_power_law",
    "fold_angles",
    "folded_torsion",
    "free_energy_profile",
    "geometry_variables",
    "group_by_elements",
    "held_out_split",
    "knn_r2",
    "linear_probe_r2",
    "nearest_basin",
    "profile_summary",
    "project",
    "relaxed_scan",
    "rigid_scan",
    "rotating_group",
    "set_torsion",
    "structure_features",
    "torsion_coordinate",
    "torsion_quadruple",
]
