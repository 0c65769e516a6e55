"""`ModelConfig`: the hyperparameters of a potential."""

import difflib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List

MODEL_NAMES = ("equivariant", "invariant", "cartesian")
INVARIANT_INTERACTIONS = ("cfconv", "gcn")


def closest_key_hint(key: str, valid) -> str:
    """' Did you mean 'x'?' for the valid key closest to ``key``, or ''."""
    match = difflib.get_close_matches(key, list(valid), n=1)
    return f" Did you mean '{match[0]}'?" if match else ""


# Shorter than every covalent bond (H2: 0.74 Å): a smaller cutoff sees no
# neighbours.
MIN_R_MAX = 1.0


@dataclass
class ModelConfig:
    """Hyperparameters of a potential (names as in NequIP and MACE).

    Attributes
    ----------
    name : str
        Model family: ``"equivariant"``, ``"invariant"`` or ``"cartesian"``
        (the non-equivariant contrast, see `mlpot.model.cartesian`).
    species : list of int
        Atomic numbers the model knows, in the order of its species index.
    r_max : float
        Cutoff radius in Å.
    num_basis : int
        Number of Bessel radial basis functions.
    cutoff_p : int
        Exponent of the polynomial cutoff envelope.
    lmax : int
        Highest rotation order of the equivariant features (equivariant only).
    num_features : int
        Channels per irrep (equivariant) or feature width (invariant).
    num_layers : int
        Number of interaction layers.
    avg_num_neighbors : float
        Normalisation of neighbour sums; set from the training data.
    radial_hidden, radial_layers : int
        Width and depth of the radial MLPs.
    correlation : int
        Equivariant model only: each layer multiplies every atom's sum over
        neighbours with itself up to this many factors (MACE's symmetric
        contraction, correlation order), so one layer sees up to
        (correlation + 1)-body terms; 1 is NequIP's layer.
    readout_hidden : int
        Hidden width of the per-atom energy readout.
    interaction : str
        Invariant model only: ``"cfconv"`` (SchNet continuous filters) or
        ``"gcn"`` (plain distance-weighted graph convolution). The cartesian
        model always uses continuous filters.
    atom_reference : bool
        Measure each atom's learned energy from that of the same atom alone:
        an atom with no neighbour within ``r_max`` then has exactly its
        reference energy (E0, the per-species shift), and a molecule pulled
        apart tends smoothly to the sum of its atoms' E0s. Set by
        ``mlpot-train`` when ``data.E0s`` gives isolated-atom energies.
    """

    name: str = "equivariant"
    species: List[int] = field(default_factory=list)
    r_max: float = 5.0
    num_basis: int = 8
    cutoff_p: int = 6
    lmax: int = 2
    num_features: int = 32
    num_layers: int = 4
    avg_num_neighbors: float = 10.0
    radial_hidden: int = 64
    radial_layers: int = 2
    correlation: int = 1
    readout_hidden: int = 16
    interaction: str = "cfconv"
    atom_reference: bool = False

    def __post_init__(self):
        self.species = [int(z) for z in self.species]
        if self.name not in MODEL_NAMES:
            raise ValueError(
                f"unknown model name '{self.name}'; choose one of {MODEL_NAMES}"
            )
        if not self.species:
            raise ValueError(
                "species is empty; give the atomic numbers the model should know"
            )
        if len(set(self.species)) != len(self.species) or not all(
            1 <= z <= 118 for z in self.species
        ):
            raise ValueError(
                f"species must be distinct atomic numbers 1..118, got {self.species}"
            )
        if not self.r_max >= MIN_R_MAX:
            raise ValueError(
                f"r_max must be at least {MIN_R_MAX} Å (no bond is shorter, so a "
                f"smaller cutoff sees no neighbours), got {self.r_max}; typical "
                "values are 4-6 Å"
            )
        for name in (
            "num_basis",
            "num_features",
            "num_layers",
            "radial_hidden",
            "readout_hidden",
            "correlation",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be at least 1, got {getattr(self, name)}"
                )
        if self.lmax < 0:
            raise ValueError(f"lmax must be >= 0, got {self.lmax}")
        if self.avg_num_neighbors <= 0:
            raise ValueError(
                f"avg_num_neighbors must be positive, got {self.avg_num_neighbors}"
            )
        if self.interaction not in INVARIANT_INTERACTIONS:
            raise ValueError(
                f"unknown interaction '{self.interaction}'; choose one of "
                f"{INVARIANT_INTERACTIONS}"
            )
        if self.name == "cartesian" and self.interaction != "cfconv":
            raise ValueError(
                "the cartesian model feeds edge vectors to continuous filters; "
                f"interaction must be 'cfconv', got '{self.interaction}'"
            )

    def to_dict(self) -> Dict[str, Any]:
        """JSON-able dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "ModelConfig":
        """Build from a dict, rejecting unknown keys with a suggestion."""
        valid = {f.name for f in fields(cls)}
        for key in values:
            if key not in valid:
                raise ValueError(
                    f"unknown model setting '{key}'.{closest_key_hint(key, valid)}"
                )
        return cls(**values)
