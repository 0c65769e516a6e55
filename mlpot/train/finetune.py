"""Start a training from a pretrained model's weights (``model.finetune_from``).

The pretrained checkpoint, a shipped model's name or a path, is read once
through the checkpoint reader (digest checked). Its architecture is the run's:
keys of the run's ``model`` section must agree with it, and every element of
the training data must be among its species. Its per-species reference
energies are kept unless the run gives ``data.E0s`` (a new level of theory),
and its energy scale is kept, so the network starts from what it learned.
``train.freeze`` keeps chosen parameters at their pretrained values.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import torch
from ase.data import chemical_symbols

from mlpot.model.io import model_from_checkpoint, read_checkpoint

# Settings of the pretrained model that a run may not change: they shape the weights
# or their meaning. The rest (none today) could differ.
ARCHITECTURE_KEYS = (
    "name",
    "species",
    "r_max",
    "num_basis",
    "cutoff_p",
    "lmax",
    "num_features",
    "num_layers",
    "avg_num_neighbors",
    "radial_hidden",
    "radial_layers",
    "correlation",
    "readout_hidden",
    "interaction",
    "atom_reference",
)


@dataclass
class Pretrained:
    """A pretrained checkpoint to start from.

    Attributes
    ----------
    source : str
        As the run gave it (a shipped name or a path).
    path : Path
    payload : dict
        The checkpoint, as `mlpot.model.io.read_checkpoint` returns it.
    """

    source: str
    path: Path
    payload: Dict[str, Any]

    @property
    def settings(self) -> Dict[str, Any]:
        return dict(self.payload["config"])

    def provenance(self) -> Dict[str, Any]:
        """What the checkpoint and card record of the origin."""
        meta = self.payload.get("metadata") or {}
        return {
            "source": self.source,
            "path": str(self.path),
            "digest": self.payload.get("digest"),
            "family": self.payload["model_family"],
            "level_of_theory": meta.get("level_of_theory"),
        }


def find_pretrained(source: str) -> Pretrained:
    """Read the checkpoint named by ``source`` (a file, or a shipped model's name)."""
    from mlpot.pretrained_models import pretrained_path

    path = Path(source)
    if not path.is_file():
        try:
            path = pretrained_path(str(source))
        except FileNotFoundError as error:
            raise ValueError(
                f"model.finetune_from: {source} is neither a checkpoint file nor a "
                f"shipped model ({error})"
            ) from None
    if path.is_dir():
        raise ValueError(
            f"model.finetune_from: {source} is a committee; fine-tune from one "
            "member's checkpoint"
        )
    return Pretrained(str(source), path, read_checkpoint(path))


def finetune_settings(
    pretrained: Pretrained, run_settings: Dict[str, Any], data_species: List[int]
) -> Dict[str, Any]:
    """The model settings of a fine-tuning run: the pretrained model's, checked.

    Parameters
    ----------
    pretrained : Pretrained
    run_settings : dict
        The run's ``model`` section without ``finetune_from``.
    data_species : list of int
        Atomic numbers in the training and validation frames.

    Raises
    ------
    ValueError
        A setting disagrees with the pretrained model's, or the data holds an
        element it was not trained on.
    """
    settings = pretrained.settings
    for key, value in run_settings.items():
        if key not in ARCHITECTURE_KEYS or value is None:
            continue
        if _differs(value, settings.get(key)):
            raise ValueError(
                f"model.{key} is {value!r} but the pretrained model "
                f"{pretrained.source} has {settings.get(key)!r}; fine-tuning keeps "
                f"its architecture, so leave model.{key} out or set it to "
                f"{settings.get(key)!r}"
            )
    unknown = sorted(set(data_species) - set(settings["species"]))
    if unknown:
        names = ", ".join(chemical_symbols[z] for z in unknown)
        known = ", ".join(chemical_symbols[z] for z in settings["species"])
        raise ValueError(
            f"the training data contains {names}, which the pretrained model "
            f"{pretrained.source} was not trained on (it knows {known}); fine-tune "
            "a model that knows every element of the data, or train from scratch"
        )
    return settings


def _differs(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [int(x) for x in a] != [int(x) for x in b]
    return a != b


def start_from_pretrained(model, pretrained: Pretrained, keep_reference: bool) -> None:
    """Copy the pretrained weights and normalisation into ``model`` (built alike).

    Parameters
    ----------
    model : mlpot.model.Potential
        Built from `finetune_settings`, in the run's dtype.
    pretrained : Pretrained
    keep_reference : bool
        Keep the pretrained per-species reference energies (the run gave no
        ``data.E0s``); otherwise the caller sets new ones.
    """
    parameter = next(model.parameters())
    source = model_from_checkpoint(
        pretrained.payload, pretrained.path, parameter.device, parameter.dtype
    )
    shift = model.atomic_energy_shift.clone()
    model.load_state_dict(source.state_dict())
    if not keep_reference:
        model.atomic_energy_shift.copy_(shift)


def freeze(model, prefixes: List[str]) -> List[str]:
    """Stop gradients of the parameters whose names start with one of ``prefixes``.

    Returns
    -------
    list of str
        The names frozen.

    Raises
    ------
    ValueError
        A prefix matches no parameter (with the top-level names to choose from).
    """
    names = [name for name, _ in model.named_parameters()]
    frozen = []
    for prefix in prefixes:
        matched = [n for n in names if n == prefix or n.startswith(prefix + ".")]
        if not matched:
            tops = sorted({n.split(".")[0] for n in names})
            raise ValueError(
                f"train.freeze: {prefix!r} names no parameter of this model; give "
                f"names such as {', '.join(tops)} or layers.0"
            )
        frozen += matched
    for name, parameter in model.named_parameters():
        if name in frozen:
            parameter.requires_grad_(False)
    return frozen


def trainable_parameters(model) -> List[torch.nn.Parameter]:
    """The parameters the optimizer updates."""
    return [p for p in model.parameters() if p.requires_grad]
