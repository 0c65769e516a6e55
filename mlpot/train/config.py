"""Run configuration: YAML sections mapped onto dataclasses with defaults.

A run is described by four top-level keys::

    data:    DataConfig   (files, split sizes, units)
    model:   settings of mlpot.model.ModelConfig; ``species`` and
             ``avg_num_neighbors`` are filled from the training data when absent
    train:   TrainConfig  (optimisation, schedule, EMA, stopping, precision)
    output:  run directory

Unknown keys are rejected with the closest valid key as a hint; values are
checked for type (``1e-3`` written in YAML, which PyYAML reads as a string,
is accepted for a float).
"""

import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional, Sequence

from mlpot.model.config import ModelConfig, closest_key_hint

MONITORS = ("forces_mae", "energy_mae", "loss")
BUDGET_CLOCKS = ("wall", "cpu")


@dataclass
class DataConfig:
    """Where the training data come from and how they are split.

    Attributes
    ----------
    train : str
        Data file for training and validation (any format `mlpot.data.read_frames`
        reads). Relative paths are taken from the current directory.
    test : str, optional
        A separate test file, evaluated once with the best model at the end.
        Frames of ``train`` with a geometry found in ``test`` are left out.
    n_train : int, optional
        Training frames; default every frame not used for validation.
    n_val : int
        Validation frames, drawn first so that they do not change with ``n_train``;
        not used with ``val``.
    val : str, optional
        A separate validation file: all its frames validate, and frames of
        ``train`` with a geometry found in it are left out. It may hold
        energies only (a scan, a reaction path); the run then monitors
        ``energy_mae``.
    energy_unit : str, optional
        Energy unit of the files (e.g. ``"kcal/mol"``); default the reader's
        (kcal/mol for rMD17 and sGDML files, eV otherwise).
    format : str, optional
        File format for `read_frames`; guessed from the file when omitted.
    energy_key, forces_key : str, optional
        For files read with ase.io (extended XYZ, ...): the ``atoms.info`` key
        of the energies and the ``atoms.arrays`` key of the forces, e.g.
        ``REF_energy`` and ``REF_forces``; default ase's ``energy`` and
        ``forces``. They apply to ``train`` and ``test``.
    E0s : str or mapping, optional
        Reference energy of each element's isolated atom, in the energy unit
        of the data: a mapping ``{H: -13.6, C: -1029.5, ...}`` (symbols or
        atomic numbers); the path of a file of isolated atoms (frames of one
        atom, or with ``config_type=IsolatedAtom``, read with ase.io and the
        keys above); ``"average"`` (the mean energy per atom for every
        element); or ``"fit"`` (default: least squares on the training
        compositions, which cannot tell elements apart when the data hold one
        molecule). Given isolated-atom energies, a lone atom's energy is its
        E0 (``model.atom_reference``).
    """

    train: str
    test: Optional[str] = None
    val: Optional[str] = None
    n_train: Optional[int] = None
    n_val: int = 50
    energy_unit: Optional[str] = None
    format: Optional[str] = None
    energy_key: Optional[str] = None
    forces_key: Optional[str] = None
    E0s: Any = None

    def __post_init__(self):
        if not self.train:
            raise ValueError(
                "data.train is empty; give the path of the training data file"
            )
        if self.n_train is not None and self.n_train < 1:
            raise ValueError(f"data.n_train must be at least 1, got {self.n_train}")
        if self.n_val < 1:
            raise ValueError(
                f"data.n_val must be at least 1 (validation drives the best "
                f"checkpoint and early stopping), got {self.n_val}"
            )


@dataclass
class TrainConfig:
    """Optimisation settings (the ``train`` section).

    Attributes
    ----------
    batch_size : int
        Structures per optimisation step (and per evaluation batch).
    lr : float
        Initial learning rate.
    max_epochs : int
        Upper limit on epochs.
    max_time : float, optional
        Time budget in seconds on the clock ``budget_clock``, summed over
        resumes; the run stops at the end of the epoch that crosses it.
    budget_clock : str
        What ``max_time`` counts: ``"wall"`` (elapsed seconds) or ``"cpu"``
        (CPU seconds of the training process). CPU time at one torch thread
        (``OMP_NUM_THREADS=1``) does not depend on what else the machine runs,
        so runs with a ``"cpu"`` budget compare with each other.
    seed : int
        Seeds the split, the model initialisation and the per-epoch shuffles.
    committee_size : int
        Train this many members of the recipe into one run directory
        (``member-0``, ``member-1``, ...; resumable member by member), which
        then opens as a committee (``mlpot.load_calculator(RUN_DIR)``).
    committee_member : int
        This run's index in a committee: offsets the seed of the
        initialisation and the shuffles, not of the split, so that all
        members share their training and validation frames. Set by
        ``committee_size``.
    energy_weight, forces_weight : float
        Weights of the energy and the force-component errors in the loss
        (both divided by ``energy_scale**2``).
    energy_loss : str
        ``"per_atom"`` (the loss's energy term is the error of the energy per
        atom) or ``"total"`` (of the structure's energy).
    loss : str
        ``"huber"`` (squared up to ``huber_delta``, linear beyond, so that a
        few badly predicted frames pull less) or ``"mse"`` (squared errors).
    huber_delta : float
        ``loss: huber`` only: where the penalty turns linear, in eV (per atom
        or total, as ``energy_loss``) and eV/Å.
    dtype : str
        ``"float64"`` or ``"float32"``: precision of the network during training.
    optimizer : str
        ``"adam"`` or ``"adamw"``.
    weight_decay : float
        Weight decay of the optimiser.
    scheduler : str
        ``"plateau"`` (reduce the learning rate when the monitored validation
        error stalls), ``"cosine"`` (cosine decay from ``lr`` to ``min_lr``
        over ``max_epochs``) or ``"budget_cosine"`` (cosine decay from ``lr``
        to ``min_lr`` over the run's budget: the share of ``max_epochs`` or of
        ``max_time`` spent, whichever is larger, so that a time-limited run
        ends at ``min_lr`` when its time ends; raising either on resume
        stretches the cosine, so the rate rises again).
    warmup_epochs : int
        ``budget_cosine`` only: the rate rises linearly to ``lr`` over this
        many first epochs.
    plateau_patience : int
        Validations without improvement before the plateau schedule reduces the rate.
    plateau_factor : float
        Factor applied to the learning rate by the plateau schedule.
    min_lr : float
        Lowest learning rate of either schedule.
    ema_decay : float
        Decay of the exponential moving average of the weights used for
        validation and checkpoints (0 keeps the raw weights).
    grad_clip : float, optional
        Largest gradient norm; ``None`` disables clipping.
    early_stopping_patience : int, optional
        Stop after this many epochs without a better validation ``monitor``;
        ``None`` disables early stopping.
    monitor : str
        Validation quantity that picks the best checkpoint and drives the
        plateau schedule and early stopping: ``"forces_mae"``,
        ``"energy_mae"`` or ``"loss"`` (the weighted loss, in its
        squared-error form also under ``loss: huber``).
    augment_rotations : bool
        Turn every training structure, with its force labels, by a random
        rotation (times an inversion half of the time) each epoch, reproducibly
        from ``seed`` and the epoch; for models that are not equivariant by
        construction.
    freeze : list of str
        Parameters kept at their starting values (with ``model.finetune_from``,
        the pretrained ones): names or name prefixes such as ``embedding``,
        ``layers.0`` or ``radial_basis``; empty trains everything.
    quiet : bool
        No progress bar.
    """

    batch_size: int = 5
    lr: float = 5e-3
    max_epochs: int = 1000
    max_time: Optional[float] = None
    budget_clock: str = "wall"
    seed: int = 0
    committee_size: int = 1
    committee_member: int = 0
    energy_weight: float = 1.0
    forces_weight: float = 100.0
    energy_loss: str = "per_atom"
    loss: str = "huber"
    huber_delta: float = 0.01
    dtype: str = "float64"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    scheduler: str = "budget_cosine"
    warmup_epochs: int = 5
    plateau_patience: int = 10
    plateau_factor: float = 0.8
    min_lr: float = 1e-6
    ema_decay: float = 0.99
    grad_clip: Optional[float] = 10.0
    early_stopping_patience: Optional[int] = 50
    monitor: str = "forces_mae"
    augment_rotations: bool = False
    freeze: List[str] = field(default_factory=list)
    quiet: bool = False

    def __post_init__(self):
        at_least_one = ("batch_size", "max_epochs", "plateau_patience")
        rules = [
            (name, getattr(self, name) >= 1, "at least 1") for name in at_least_one
        ]
        rules += [
            ("seed", 0 <= self.seed < 2**32, "an integer in [0, 2**32)"),
            ("committee_size", self.committee_size >= 1, "at least 1"),
            ("committee_member", self.committee_member >= 0, ">= 0"),
            ("lr", self.lr > 0, "positive"),
            ("min_lr", 0 < self.min_lr <= self.lr, "positive and at most train.lr"),
            ("energy_weight", self.energy_weight >= 0, ">= 0"),
            ("forces_weight", self.forces_weight >= 0, ">= 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_epochs", self.warmup_epochs >= 0, ">= 0"),
            ("huber_delta", self.huber_delta > 0, "positive"),
            (
                "max_time",
                self.max_time is None or self.max_time > 0,
                "positive or null",
            ),
            (
                "grad_clip",
                self.grad_clip is None or self.grad_clip > 0,
                "positive or null",
            ),
            (
                "early_stopping_patience",
                self.early_stopping_patience is None
                or self.early_stopping_patience >= 1,
                "at least 1 or null",
            ),
            ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1)"),
            ("plateau_factor", 0 < self.plateau_factor < 1, "in (0, 1)"),
        ]
        for name, choices in (
            ("dtype", ("float64", "float32")),
            ("budget_clock", BUDGET_CLOCKS),
            ("energy_loss", ("per_atom", "total")),
            ("loss", ("mse", "huber")),
            ("optimizer", ("adam", "adamw")),
            ("scheduler", ("plateau", "cosine", "budget_cosine")),
            ("monitor", MONITORS),
        ):
            rules.append((name, getattr(self, name) in choices, f"one of {choices}"))
        for name, valid, requirement in rules:
            if not valid:
                raise ValueError(
                    f"train.{name} must be {requirement}, got {getattr(self, name)!r}"
                )
        if self.energy_weight + self.forces_weight == 0:
            raise ValueError(
                "train.energy_weight and train.forces_weight are both 0; "
                "give one of them a weight"
            )
        if self.forces_weight == 0 and self.monitor == "forces_mae":
            raise ValueError(
                "train.forces_weight is 0 (energy-only training), so train.monitor "
                "cannot be forces_mae; set train.monitor: energy_mae"
            )


@dataclass
class RunConfig:
    """Everything that defines a training run.

    Attributes
    ----------
    data : DataConfig
    model : dict
        Settings of :class:`mlpot.model.ModelConfig` (keys checked on load);
        the ``ModelConfig`` itself is built once the data are read, because
        ``species`` and ``avg_num_neighbors`` may come from the data.
    train : TrainConfig
    output : str
        Run directory: resolved config, checkpoints, metrics and log.
    """

    data: DataConfig
    model: Dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: str = "runs/mlpot"

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested dict (YAML- and JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "RunConfig":
        """Build from a nested dict, rejecting unknown keys and wrong types."""
        if not isinstance(values, dict):
            raise ValueError(
                f"a run config is a mapping of sections, got {type(values).__name__}"
            )
        _check_keys(values, TOP_LEVEL_KEYS, "")
        if not isinstance(values.get("data"), dict) or "train" not in values["data"]:
            raise ValueError(
                "data.train is missing; give the path of the training data file"
            )
        sections = {}
        for name, schema in (("data", DataConfig), ("train", TrainConfig)):
            section = values.get(name, {}) or {}
            if not isinstance(section, dict):
                raise ValueError(
                    f"'{name}' must be a mapping of settings, got {section!r}"
                )
            _check_keys(section, [f.name for f in fields(schema)], f"{name}.")
            sections[name] = schema(**_typed(section, schema, name))
        model = values.get("model", {}) or {}
        if not isinstance(model, dict):
            raise ValueError(f"'model' must be a mapping of settings, got {model!r}")
        _check_keys(
            model, [f.name for f in fields(ModelConfig)] + RUN_MODEL_KEYS, "model."
        )
        # null means "take it from the data", like leaving the key out.
        model = {k: v for k, v in model.items() if not (v is None and k in FROM_DATA)}
        finetune_from = model.pop("finetune_from", None)
        if finetune_from is not None and not isinstance(finetune_from, str):
            raise ValueError(
                "model.finetune_from must be a shipped model's name or a checkpoint "
                f"path, got {finetune_from!r}"
            )
        output = values.get("output", cls.output)
        if not isinstance(output, str) or not output:
            raise ValueError(f"output must be a directory path, got {output!r}")
        return cls(
            data=sections["data"],
            model=dict(
                _typed(model, ModelConfig, "model"),
                **({"finetune_from": finetune_from} if finetune_from else {}),
            ),
            train=sections["train"],
            output=output,
        )


TOP_LEVEL_KEYS = ("data", "model", "train", "output")
# Keys of the model section that belong to the run, not to the architecture:
# model.finetune_from, a shipped model's name or a checkpoint whose weights the
# run starts from (mlpot.train.finetune).
RUN_MODEL_KEYS = ["finetune_from"]
# Model settings filled from the training data when left out.
FROM_DATA = ("species", "avg_num_neighbors", "atom_reference")


def all_keys() -> List[str]:
    dotted = [f"data.{f.name}" for f in fields(DataConfig)]
    dotted += [f"model.{f.name}" for f in fields(ModelConfig)]
    dotted += [f"train.{f.name}" for f in fields(TrainConfig)]
    return dotted + list(TOP_LEVEL_KEYS)


def _check_keys(values: Dict[str, Any], valid: Sequence[str], prefix: str) -> None:
    for key in values:
        if key not in valid:
            dotted = f"{prefix}{key}"
            hint = closest_key_hint(dotted, all_keys())
            raise ValueError(f"unknown config key '{dotted}'.{hint}")


def _typed(values: Dict[str, Any], schema, section: str) -> Dict[str, Any]:
    """Check and convert each value to the type of its dataclass field."""
    hints = typing.get_type_hints(schema)
    return {
        key: _convert(value, hints[key], f"{section}.{key}")
        for key, value in values.items()
    }


def _convert(value, annotation, name: str):
    if annotation is typing.Any:  # checked where it is used
        return value
    optional = typing.get_origin(annotation) is typing.Union
    if optional:
        if value is None:
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation)
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        item = typing.get_args(annotation)[0]
        return [_convert(v, item, f"{name}[{k}]") for k, v in enumerate(value)]
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, str):
            return value
    raise ValueError(
        f"{name} must be {'null or ' if optional else ''}{annotation.__name__}, "
        f"got {value!r}"
    )
