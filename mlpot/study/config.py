"""The study config: what to train, how long, and what to measure (one YAML file).

Sections (every key is checked; unknown ones are refused with a hint)::

    output: studies/NAME         folder of the results (relative to the
                                 current directory); --output overrides it
    molecules:                   name -> data files (paths relative to the
      ethanol:                   config file's folder); names from
        train: FILE              mlpot.analysis.variables.MOLECULES
        test: FILE
        energy_unit: kcal/mol    optional, as in mlpot-train's data section
    families:                    per model family:
      equivariant:
        model: {...}             ModelConfig settings (name, species and
                                 avg_num_neighbors are set by the study)
        train: {...}             optional TrainConfig settings of this family
      invariant: {...}           (e.g. its learning rate), over the shared ones
      cartesian: {...}
    train: {...}                 TrainConfig settings of every run (seed,
                                 augment_rotations and quiet are set per run)
    data_efficiency: sizes, seeds, n_val
    generalisation: fraction, n_train, n_val
    latent: n_train, n_frames, test_fraction, neighbours, perplexity
    symmetry: n_train, trials, md_temperature_K, md_duration_ps, md_timestep_fs
    original_protocol: epochs, seeds, n_train, n_val, train
                                 optional: the original comparison's protocol
                                 (energy-only training for a fixed number of
                                 epochs, several seeds)
    sections: [...]              optional: the parts to run, of ANALYSES;
                                 default all (original_protocol when given)
"""

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

from mlpot.analysis.variables import MOLECULES
from mlpot.model.config import closest_key_hint
from mlpot.train.config import RunConfig, _typed
from mlpot.train.config_files import path_from, path_relative_to, read_yaml

FAMILIES = ("equivariant", "invariant", "cartesian")
# The parts of a study, in report order.
ANALYSES = (
    "data_efficiency",
    "training_time",
    "generalisation",
    "latent",
    "symmetry",
    "original_protocol",
)
# Keys of a molecule's data files.
DATA_KEYS = ("train", "test")
# Train settings the study sets itself for each run.
PER_RUN_TRAIN_KEYS = ("seed", "augment_rotations", "quiet")


@dataclass
class MoleculeData:
    """Data files of one molecule (absolute paths once loaded).

    Attributes
    ----------
    train : str
        Training file; training, validation and the out-of-distribution
        frames are cut from it.
    test : str
        Test file: the in-distribution test and the latent-space frames.
    energy_unit : str, optional
        Energy unit of both files, as for ``mlpot-train``.
    """

    train: str
    test: str
    energy_unit: Optional[str] = None


@dataclass
class Family:
    """Settings of one model family.

    Attributes
    ----------
    model : dict
        `mlpot.model.ModelConfig` settings; ``name`` is the family.
    train : dict
        `mlpot.train.TrainConfig` settings that replace the study's shared
        ``train`` settings for this family's runs.
    """

    model: Dict[str, Any] = field(default_factory=dict)
    train: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DataEfficiency:
    """Learning curves: one run per family, training-set size and seed.

    Attributes
    ----------
    sizes : list of int
        Training frames per run (at least two different sizes).
    seeds : list of int
        Seeds of the split and the initialisation; each point is averaged over them.
    n_val : int
        Validation frames of every run, the same for all sizes.
    noise_sizes : list of int
        Sizes (of ``sizes``) that also train with ``noise_seeds``, so that the
        families' difference there can be called beyond or within seed noise.
    noise_seeds : list of int
        The further seeds of the ``noise_sizes`` points.
    """

    sizes: List[int] = field(default_factory=lambda: [50, 100, 250, 500, 950])
    seeds: List[int] = field(default_factory=lambda: [0])
    n_val: int = 50
    noise_sizes: List[int] = field(default_factory=list)
    noise_seeds: List[int] = field(default_factory=list)

    def __post_init__(self):
        sizes, seeds = self.sizes, self.seeds
        valid = len(set(sizes)) >= 2 and min(sizes) >= 1
        _require(valid, "data_efficiency.sizes", "2+ different sizes >= 1", sizes)
        _require(len(seeds) >= 1, "data_efficiency.seeds", "a list of seeds", seeds)
        _require(self.n_val >= 1, "data_efficiency.n_val", "at least 1", self.n_val)
        noise_sizes, noise_seeds = self.noise_sizes, self.noise_seeds
        _require(
            set(noise_sizes) <= set(sizes),
            "data_efficiency.noise_sizes",
            "sizes of data_efficiency.sizes",
            noise_sizes,
        )
        _require(
            not set(noise_seeds) & set(seeds),
            "data_efficiency.noise_seeds",
            "seeds not in data_efficiency.seeds",
            noise_seeds,
        )
        _require(
            bool(noise_sizes) == bool(noise_seeds),
            "data_efficiency.noise_seeds",
            "given together with data_efficiency.noise_sizes",
            noise_seeds,
        )

    def seeds_at(self, size: int) -> List[int]:
        """The seeds of the learning-curve point with ``size`` training frames."""
        extra = self.noise_seeds if size in self.noise_sizes else []
        return list(self.seeds) + list(extra)


@dataclass
class Generalisation:
    """Out-of-distribution test: train on the lowest energies, test on the rest.

    Attributes
    ----------
    fraction : float
        Fraction of the training file's frames, lowest in energy, that the
        run may train and validate on; the others are the OOD test.
    n_train, n_val : int
        Training and validation frames drawn from the low-energy part.
    """

    fraction: float = 0.8
    n_train: int = 500
    n_val: int = 50

    def __post_init__(self):
        for name, valid, requirement in (
            ("fraction", 0 < self.fraction < 1, "in (0, 1)"),
            ("n_train", self.n_train >= 1, "at least 1"),
            ("n_val", self.n_val >= 1, "at least 1"),
        ):
            _require(valid, f"generalisation.{name}", requirement, getattr(self, name))


@dataclass
class Latent:
    """Latent geometry of the learning-curve models of one size (first seed).

    Attributes
    ----------
    n_train : int
        Training-set size of the analysed models (one of the curve sizes).
    n_frames : int, optional
        Frames of the test file embedded (the first ones); ``None``: all.
    test_fraction : float
        Fraction of those frames held out to score the probes.
    neighbours : int
        k of the k-nearest-neighbour probe on the 2-D projections.
    perplexity : float
        t-SNE perplexity.
    """

    n_train: int = 950
    n_frames: Optional[int] = 1000
    test_fraction: float = 0.5
    neighbours: int = 10
    perplexity: float = 30.0

    def __post_init__(self):
        for name, valid, requirement in (
            ("n_frames", self.n_frames is None or self.n_frames >= 8, "null or >= 8"),
            ("test_fraction", 0 < self.test_fraction < 1, "in (0, 1)"),
            ("neighbours", self.neighbours >= 1, "at least 1"),
            ("perplexity", self.perplexity > 0, "positive"),
        ):
            _require(valid, f"latent.{name}", requirement, getattr(self, name))


@dataclass
class Symmetry:
    """Equivariance errors, and the cartesian contrast models trained for them.

    Attributes
    ----------
    n_train : int
        Training frames of the cartesian runs (with and without rotation
        augmentation); the equivariant and invariant models compared are
        the learning-curve runs of this size (first seed).
    trials : int
        Random rotations, each tried proper and improper.
    md_temperature_K, md_duration_ps, md_timestep_fs : float
        Langevin MD of the stability check (K, ps, fs).
    """

    n_train: int = 950
    trials: int = 10
    md_temperature_K: float = 500.0
    md_duration_ps: float = 2.0
    md_timestep_fs: float = 0.5

    def __post_init__(self):
        _require(self.trials >= 1, "symmetry.trials", "at least 1", self.trials)
        for name in ("md_temperature_K", "md_duration_ps", "md_timestep_fs"):
            value = getattr(self, name)
            _require(value > 0, f"symmetry.{name}", "positive", value)


@dataclass
class OriginalProtocol:
    """The original comparison's protocol: energies only, fixed epochs, seeds.

    Each of the equivariant and invariant families is trained with a loss of
    energies alone (``forces_weight`` 0, best epoch by validation energy MAE)
    for ``epochs`` epochs, without a time budget or early stopping, once per
    seed.

    Attributes
    ----------
    epochs : int
        Epochs of every run.
    seeds : list of int
        Seeds of the split, initialisation and shuffles (at least 2, for a
        band of seed noise).
    n_train, n_val : int
        Training and validation frames of the training file.
    train : dict
        Further `mlpot.train.TrainConfig` settings of these runs, over the
        study's and the family's.
    """

    epochs: int = 50
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    n_train: int = 950
    n_val: int = 50
    train: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name, valid, requirement in (
            ("epochs", self.epochs >= 1, "at least 1"),
            ("seeds", len(set(self.seeds)) >= 2, "2+ different seeds"),
            ("n_train", self.n_train >= 1, "at least 1"),
            ("n_val", self.n_val >= 1, "at least 1"),
        ):
            _require(
                valid, f"original_protocol.{name}", requirement, getattr(self, name)
            )

    def train_settings(self) -> Dict[str, Any]:
        """The train settings these runs add to the study's and the family's."""
        return {
            "forces_weight": 0.0,
            "monitor": "energy_mae",
            "max_epochs": self.epochs,
            "max_time": None,
            "early_stopping_patience": None,
            **self.train,
        }


@dataclass
class StudyConfig:
    """Everything that defines a study (see the module notes for the YAML)."""

    molecules: Dict[str, MoleculeData]
    families: Dict[str, Family]
    train: Dict[str, Any] = field(default_factory=dict)
    data_efficiency: DataEfficiency = field(default_factory=DataEfficiency)
    generalisation: Generalisation = field(default_factory=Generalisation)
    latent: Latent = field(default_factory=Latent)
    symmetry: Symmetry = field(default_factory=Symmetry)
    original_protocol: Optional[OriginalProtocol] = None
    sections: Optional[List[str]] = None
    output: str = "studies/study"

    def __post_init__(self):
        if self.sections is None:
            self.sections = [
                name
                for name in ANALYSES
                if name != "original_protocol" or self.original_protocol
            ]
        unknown = [name for name in self.sections if name not in ANALYSES]
        _require(not unknown, "sections", f"a list of {ANALYSES}", self.sections)
        _require(bool(self.sections), "sections", "a non-empty list", self.sections)
        if "original_protocol" in self.sections and self.original_protocol is None:
            self.original_protocol = OriginalProtocol()
        sizes = self.data_efficiency.sizes
        for section in ("latent", "symmetry"):
            n_train = getattr(self, section).n_train
            if n_train not in sizes:
                raise ValueError(
                    f"{section}.n_train is {n_train}, but the learning-curve "
                    f"models it analyses are trained on data_efficiency.sizes "
                    f"{sizes}; choose one of them"
                )

    def to_dict(self, relative_to=None) -> Dict[str, Any]:
        """Plain nested dict (YAML- and JSON-able).

        Parameters
        ----------
        relative_to : str or Path, optional
            Folder of the file that records the dict: the data paths are
            written relative to it, so the record names no folder of this
            machine. Default: the paths as held (absolute once loaded).
        """
        values = asdict(self)
        if relative_to is None:
            return values
        return _with_data_paths(values, lambda p: path_relative_to(p, relative_to))


def recorded_config(values: Dict[str, Any], folder) -> Dict[str, Any]:
    """A config dict recorded in ``folder``, its data paths relative to ``folder``.

    Records written with absolute data paths, or without ``sections``,
    ``original_protocol`` or the learning curves' seed-noise points (by older
    versions) become the same as ones written by
    ``StudyConfig.to_dict(relative_to=folder)``, so both compare equal to the
    config they were written from.
    """
    values = {
        # Records from before these keys existed ran every classic section.
        "original_protocol": None,
        "sections": [name for name in ANALYSES if name != "original_protocol"],
        **values,
    }
    if isinstance(values.get("data_efficiency"), dict):
        values["data_efficiency"] = {
            "noise_sizes": [],
            "noise_seeds": [],
            **values["data_efficiency"],
        }
    return _with_data_paths(
        values, lambda p: path_relative_to(path_from(p, folder), folder)
    )


def _with_data_paths(values: Dict[str, Any], convert) -> Dict[str, Any]:
    """``values`` with ``convert`` applied to each molecule's data paths."""
    molecules = values.get("molecules")
    if not isinstance(molecules, dict):
        return values
    return {
        **values,
        "molecules": {
            name: _with_files(files, convert) for name, files in molecules.items()
        },
    }


def _with_files(files, convert):
    """One molecule's data files with ``convert`` applied to the paths."""
    if not isinstance(files, dict):
        return files
    paths = {k: convert(files[k]) for k in DATA_KEYS if isinstance(files.get(k), str)}
    return {**files, **paths}


SECTIONS = {
    "data_efficiency": DataEfficiency,
    "generalisation": Generalisation,
    "latent": Latent,
    "symmetry": Symmetry,
}
TOP_LEVEL_KEYS = (
    "output",
    "molecules",
    "families",
    "train",
    "sections",
    "original_protocol",
    *SECTIONS,
)


def load_study_config(path) -> StudyConfig:
    """Read a study config from YAML; data paths become absolute.

    Parameters
    ----------
    path : str or Path
        The YAML file; relative data paths in it are taken from its folder.

    Returns
    -------
    StudyConfig
    """
    path = Path(path)
    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a study config is a mapping of sections")
    return study_config_from_dict(values, base=path.parent)


def study_config_from_dict(values: Dict[str, Any], base=".") -> StudyConfig:
    """Build and check a `StudyConfig` from a nested dict.

    Parameters
    ----------
    values : dict
        Sections as in the YAML file.
    base : str or Path
        Folder that relative data paths are taken from.

    Returns
    -------
    StudyConfig
    """
    _check_keys(values, TOP_LEVEL_KEYS, "")
    molecules = {
        name: _molecule(name, settings, Path(base))
        for name, settings in _mapping(values, "molecules").items()
    }
    if not molecules:
        raise ValueError("molecules is empty; name at least one molecule and its files")
    families = _mapping(values, "families")
    _check_keys(families, FAMILIES, "families.")
    missing = sorted(set(FAMILIES) - set(families))
    if missing:
        raise ValueError(
            f"families lacks {missing}; give the model settings of all of {FAMILIES}"
        )
    train = _train_settings(values.get("train"), "train")
    RunConfig.from_dict({"data": {"train": "-"}, "train": train})
    families = {
        family: _family(family, settings, train)
        for family, settings in families.items()
    }
    sections = {
        name: schema(**_section(values, name, schema))
        for name, schema in SECTIONS.items()
    }
    original = None
    if values.get("original_protocol") is not None:
        section = _mapping(values, "original_protocol")
        _check_keys(
            section,
            [f.name for f in fields(OriginalProtocol)],
            "original_protocol.",
        )
        extra = _train_settings(section.pop("train", None), "original_protocol.train")
        original = OriginalProtocol(
            **_typed(section, OriginalProtocol, "original_protocol"), train=extra
        )
        RunConfig.from_dict(
            {"data": {"train": "-"}, "train": {**train, **original.train_settings()}}
        )
    sections_listed = values.get("sections")
    if sections_listed is not None and not isinstance(sections_listed, list):
        raise ValueError(
            f"sections must be a list of {ANALYSES}, got {sections_listed!r}"
        )
    output = values.get("output", StudyConfig.output)
    if not isinstance(output, str) or not output:
        raise ValueError(f"output must be a folder path, got {output!r}")
    return StudyConfig(
        molecules=molecules,
        families=families,
        train=train,
        output=output,
        original_protocol=original,
        sections=sections_listed,
        **sections,
    )


def _molecule(name: str, settings, base: Path) -> MoleculeData:
    if name not in MOLECULES:
        raise ValueError(
            f"unknown molecule '{name}'; the study knows the geometry of "
            f"{sorted(MOLECULES)}"
        )
    if not isinstance(settings, dict):
        raise ValueError(f"molecules.{name} must map train/test to data files")
    _check_keys(settings, [f.name for f in fields(MoleculeData)], f"molecules.{name}.")
    for key in DATA_KEYS:
        if not settings.get(key):
            raise ValueError(f"molecules.{name}.{key} is missing; give a data file")
    return MoleculeData(
        train=path_from(settings["train"], base),
        test=path_from(settings["test"], base),
        energy_unit=settings.get("energy_unit"),
    )


def _family(family: str, settings, shared_train: Dict[str, Any]) -> Family:
    """Check a family's settings, letting `RunConfig` check model and train keys."""
    if not isinstance(settings, dict):
        raise ValueError(f"families.{family} must map model (and train) settings")
    _check_keys(settings, [f.name for f in fields(Family)], f"families.{family}.")
    model = _settings(settings.get("model"), f"families.{family}.model")
    train = _train_settings(settings.get("train"), f"families.{family}.train")
    if model.get("name", family) != family:
        raise ValueError(
            f"families.{family}.model.name is '{model['name']}'; leave it out, "
            "the section name is the family"
        )
    try:
        RunConfig.from_dict(
            {
                "data": {"train": "-"},
                "model": {**model, "name": family},
                "train": {**shared_train, **train},
            }
        )
    except ValueError as error:
        raise ValueError(f"families.{family}: {error}") from None
    return Family(model=model, train=train)


def _settings(values, name: str) -> Dict[str, Any]:
    if values is not None and not isinstance(values, dict):
        raise ValueError(f"'{name}' must be a mapping of settings, got {values!r}")
    return dict(values or {})


def _train_settings(values, name: str) -> Dict[str, Any]:
    """Train settings, without the keys the study sets for each run."""
    values = _settings(values, name)
    for key in PER_RUN_TRAIN_KEYS:
        if key in values:
            raise ValueError(
                f"{name}.{key} is set by the study for each run (the seeds "
                "from data_efficiency.seeds, rotations for the "
                "cartesian-augmented runs); remove it"
            )
    return values


def _mapping(values: Dict[str, Any], name: str) -> Dict[str, Any]:
    return _settings(values.get(name), name)


def _section(values: Dict[str, Any], name: str, schema) -> Dict[str, Any]:
    section = _mapping(values, name)
    _check_keys(section, [f.name for f in fields(schema)], f"{name}.")
    return _typed(section, schema, name)


def _check_keys(values: Dict[str, Any], valid, prefix: str) -> None:
    for key in values:
        if key not in valid:
            dotted = [f"{prefix}{v}" for v in valid]
            hint = closest_key_hint(f"{prefix}{key}", dotted)
            raise ValueError(f"unknown study config key '{prefix}{key}'.{hint}")


def _require(valid: bool, name: str, requirement: str, value) -> None:
    if not valid:
        raise ValueError(f"{name} must be {requirement}, got {value!r}")
