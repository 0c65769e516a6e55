"""A committee: several potentials of one recipe whose spread measures uncertainty.

A :class:`Committee` is itself a potential (``atomic_energies``,
``sum_per_structure``): its energy is the members' mean, so the one force
function, :func:`mlpot.model.forces.energy_and_forces`, gives the forces of
the mean energy (which equal the mean of the members' forces), and every
physics check of a single model applies to it unchanged. The spread of the
members is computed by :func:`committee_predictions`.

On disk a committee is a folder: one checkpoint per member and
``committee.json`` naming them (written last, so a folder without it is an
unfinished committee).
"""

import json
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from torch import nn

from mlpot.fileio import atomic_path
from mlpot.model.base import Potential
from mlpot.model.forces import energy_and_forces
from mlpot.model.io import CheckpointError, load_model, save_model

COMMITTEE_FILE = "committee.json"
COMMITTEE_FORMAT = "mlpot-committee"
COMMITTEE_VERSION = 1


class Committee(nn.Module):
    """The mean of several potentials with the same species and cutoff.

    Parameters
    ----------
    members : sequence of Potential
        At least two models (any family) with equal ``species`` and ``r_max``.
    """

    family = "committee"

    def __init__(self, members: Sequence[Potential]):
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ValueError(
                f"a committee needs at least two members, got {len(members)}"
            )
        first = members[0]
        for k, member in enumerate(members[1:], start=1):
            if (
                list(member.config.species) != list(first.config.species)
                or member.r_max != first.r_max
            ):
                raise ValueError(
                    f"committee member {k} has species {member.config.species} and "
                    f"r_max {member.r_max} Å, member 0 {first.config.species} and "
                    f"{first.r_max} Å; members must share both"
                )
        self.members = nn.ModuleList(members)
        self.metadata = dict(getattr(first, "metadata", {}) or {})

    @property
    def config(self):
        return self.members[0].config

    @property
    def r_max(self) -> float:
        return self.members[0].r_max

    @property
    def can_tabulate_radial(self) -> bool:
        return all(member.can_tabulate_radial for member in self.members)

    def tabulate_radial(self, spacing: float = 0.0025) -> "Committee":
        """Tabulate every member's radial networks (see `Potential.tabulate_radial`)."""
        for member in self.members:
            member.tabulate_radial(spacing)
        return self

    def check_species(self, numbers) -> None:
        self.members[0].check_species(numbers)

    def member_atomic_energies(self, graph) -> torch.Tensor:
        """Per-atom energies of each member in eV, shape (M, N), float64."""
        return torch.stack([member.atomic_energies(graph) for member in self.members])

    def atomic_energies(self, graph) -> torch.Tensor:
        """The members' mean per-atom energies in eV, shape (N,), float64."""
        return self.member_atomic_energies(graph).mean(dim=0)

    def sum_per_structure(self, atomic, graph) -> torch.Tensor:
        return self.members[0].sum_per_structure(atomic, graph)

    def forward(self, graph) -> torch.Tensor:
        return self.sum_per_structure(self.atomic_energies(graph), graph)


def committee_predictions(
    committee: Committee, graph, compute_stress: bool = False
) -> Dict[str, torch.Tensor]:
    """Each member's energy, per-atom energies, forces (and stress), stacked.

    Every member goes through :func:`energy_and_forces` on the same graph.

    Returns
    -------
    dict
        ``energy`` (M, B) eV, ``energies`` (M, N) eV, ``forces`` (M, N, 3)
        eV/Å and, when asked, ``stress`` (M, B, 3, 3) eV/Å³; all detached.
    """
    outs = [
        energy_and_forces(member, graph, compute_stress=compute_stress)
        for member in committee.members
    ]
    return {key: torch.stack([out[key].detach() for out in outs]) for key in outs[0]}


def save_committee(committee: Committee, folder, metadata=None) -> Path:
    """Write the members' checkpoints and ``committee.json`` into ``folder``.

    Parameters
    ----------
    committee : Committee
    folder : str or Path
        Created if missing; an existing committee there is refused.
    metadata : dict, optional
        JSON-able information stored in ``committee.json`` (e.g. calibration).

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    if (folder / COMMITTEE_FILE).exists():
        raise FileExistsError(
            f"'{folder}' already holds a committee; choose another folder"
        )
    names = []
    for k, member in enumerate(committee.members):
        name = f"member-{k}.ckpt"
        save_model(member, folder / name, getattr(member, "metadata", None))
        names.append(name)
    record = {
        "format": COMMITTEE_FORMAT,
        "format_version": COMMITTEE_VERSION,
        "members": names,
        "metadata": dict(metadata or {}),
    }
    with atomic_path(folder / COMMITTEE_FILE) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return folder


def member_paths(folder) -> List[Path]:
    """The members' checkpoint files of the committee in ``folder``."""
    folder = Path(folder)
    if not is_committee(folder):
        raise FileNotFoundError(
            f"'{folder}' holds no {COMMITTEE_FILE}; it is not an mlpot committee "
            "(or its writing was interrupted)"
        )
    where = folder / COMMITTEE_FILE
    try:
        record = json.loads(where.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"'{where}' is not valid JSON ({error}); the committee file is damaged "
            "or was edited: restore it, or write it again with save_committee"
        ) from None
    members = record.get("members") if isinstance(record, dict) else None
    if (
        not isinstance(members, list)
        or len(members) < 2
        or not all(isinstance(name, str) and name for name in members)
    ):
        raise CheckpointError(
            f"'{where}' must hold \"members\": a list of at least two checkpoint "
            f"paths inside the folder, got {members!r}; restore the file, or write "
            "it again with save_committee"
        )
    inside = folder.resolve()
    paths = []
    for name in members:
        path = folder / name
        if inside not in path.resolve().parents:
            raise CheckpointError(
                f"'{where}' names a member outside the committee folder ({name}); "
                "members must be files inside it: copy them in and name them by "
                "their path within the folder"
            )
        paths.append(path)
    return paths


def copy_committee(source, destination, metadata=None) -> Path:
    """Copy a committee (e.g. a training run's) into a folder of its own.

    The members' checkpoints are copied byte for byte as ``member-K.ckpt``
    with a new ``committee.json``; the folder appears only when complete (it
    is written beside ``destination`` and renamed).

    Parameters
    ----------
    source : str or Path
        A committee folder, such as a ``mlpot-train`` run with
        ``train.committee_size`` > 1.
    destination : str or Path
        The new folder; it must not exist.
    metadata : dict, optional
        JSON-able information for ``committee.json``; default the source's.
    """
    destination = Path(destination)
    if destination.exists():
        raise FileExistsError(
            f"'{destination}' exists; remove it or choose another folder"
        )
    paths = member_paths(source)
    record = json.loads((Path(source) / COMMITTEE_FILE).read_text())
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent)
    )
    try:
        names = [f"member-{k}.ckpt" for k in range(len(paths))]
        for path, name in zip(paths, names, strict=True):
            shutil.copyfile(path, staging / name)
        record.update(
            members=names,
            metadata=dict(record.get("metadata") or {}, **(metadata or {})),
        )
        (staging / COMMITTEE_FILE).write_text(json.dumps(record, indent=1) + "\n")
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def is_committee(path) -> bool:
    """Whether ``path`` is a committee folder."""
    return (Path(path) / COMMITTEE_FILE).is_file()


def load_committee(folder, device="cpu", dtype=torch.float64) -> Committee:
    """Read a committee written by :func:`save_committee`, in eval mode.

    Its ``metadata`` is that of member 0 plus ``committee`` (the
    ``committee.json`` record).
    """
    folder = Path(folder)
    paths = member_paths(folder)
    record = json.loads((folder / COMMITTEE_FILE).read_text())
    if record.get("format") != COMMITTEE_FORMAT:
        raise CheckpointError(f"'{folder / COMMITTEE_FILE}' is not an mlpot committee")
    if record.get("format_version", 0) > COMMITTEE_VERSION:
        raise CheckpointError(
            f"'{folder}' was written by a newer mlpot; upgrade mlpot to read it"
        )
    members: List[Potential] = [
        load_model(path, device=device, dtype=dtype) for path in paths
    ]
    committee = Committee(members).eval()
    committee.metadata["committee"] = record
    return committee
