"""The reference of every training config key, generated from the dataclasses.

Types and defaults come from the dataclass fields, descriptions (with their
units) from the numpydoc ``Attributes`` sections, so the reference cannot
drift from the code. ``mlpot-train --help-config`` prints it, and
``docs/config.md`` is this text.
"""

import dataclasses
import re
import typing
from typing import Dict, List

from mlpot.model.config import ModelConfig
from mlpot.train.config import DataConfig, RunConfig, TrainConfig

SECTIONS = (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig))


def _attribute_docs(cls) -> Dict[str, str]:
    """Name → description from a numpydoc ``Attributes`` section."""
    text = (cls.__doc__ or "").split("Attributes\n    ----------\n", 1)[-1]
    docs, names, lines = {}, [], []
    for line in text.splitlines():
        header = re.match(r"^    (\w[\w, ]*) :", line)
        if header:
            for name in names:
                docs[name] = " ".join(lines)
            names = [n.strip() for n in header.group(1).split(",")]
            lines = []
        elif line.startswith("        "):
            lines.append(line.strip())
    for name in names:
        docs[name] = " ".join(lines)
    return docs


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", str(annotation))
    if typing.get_origin(annotation) is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return f"{_type_name(args[0])} or null"
    return str(text).replace("typing.", "")


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return "null" if field.default is None else repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return repr(field.default_factory())
    return "required"


def config_reference() -> str:
    """The Markdown reference of all config keys."""
    lines: List[str] = [
        "# Training config reference",
        "",
        "Every key of a `mlpot-train` config, by section. Generated from the code "
        "(`mlpot-train --help-config`); energies are in eV, lengths in Å and "
        "times in seconds unless a key says otherwise. `output` names the run "
        f"directory (default `{RunConfig.__dataclass_fields__['output'].default}`).",
    ]
    for section, cls in SECTIONS:
        docs = _attribute_docs(cls)
        hints = typing.get_type_hints(cls)
        lines += [
            "",
            f"## `{section}`",
            "",
            "| key | type | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for field in dataclasses.fields(cls):
            meaning = docs.get(field.name, "").replace("``", "`").replace("|", "\\|")
            lines.append(
                f"| `{section}.{field.name}` | {_type_name(hints[field.name])} "
                f"| `{_default(field)}` | {meaning} |"
            )
        if section == "model":
            lines.append(FINETUNE_ROW)
    return "\n".join(lines) + "\n"


FINETUNE_ROW = (
    "| `model.finetune_from` | str or null | `null` | A shipped model's name "
    "(`mlpot.list_models()`) or a checkpoint path: the run starts from its weights, "
    "architecture and energy scale (`mlpot.train.finetune`). Other `model` keys must "
    "agree with it, and every element of the data must be among its species. Its "
    "per-species reference energies are kept unless `data.E0s` is given (a new "
    "level of theory); `train.freeze` keeps chosen parameters fixed and a lower "
    "`train.lr` changes them gently. The checkpoint and card record the origin. |"
)
