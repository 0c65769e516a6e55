"""Model cards: Markdown made from a checkpoint's metadata and a fresh evaluation."""

import platform
import shlex
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mlpot.data.files import sha256sum
from mlpot.timing import force_call_latency
from mlpot.train.losses import describe_loss
from mlpot.train.reference_energies import e0s_origin

_ERROR_ROWS = (
    ("energy", "energy", "meV", "kcal/mol"),
    ("energy per atom", "energy_per_atom", "meV", "kcal/mol"),
    ("forces", "forces", "meV/Å", "kcal/mol/Å"),
)


def calculator_latency(model, atoms, dtype="float64", repeats=20) -> Dict:
    """Time ``atoms.get_forces()`` after small moves, as in MD, on a fresh calculator.

    Parameters
    ----------
    model : Potential or Committee
        The loaded model; the calculator of its family works on its own copy.
    atoms : ase.Atoms
    dtype : str
        Precision of the calculator.
    repeats : int
        Timed calls.

    Returns
    -------
    dict
        From :func:`mlpot.timing.force_call_latency`: ``median_ms`` per call
        and ``threads``, the intra-op threads of the call, among others.
    """
    from mlpot.calculator import CALCULATOR_FOR_FAMILY, MLPotCalculator

    calculator = CALCULATOR_FOR_FAMILY.get(model.family, MLPotCalculator)
    return force_call_latency(calculator(model, dtype=dtype), atoms, repeats)


def _error_table(metrics: Dict[str, float]) -> str:
    lines = [
        "| quantity | MAE | RMSE | MAE | RMSE |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, stem, unit, unit_kcal in _ERROR_ROWS:
        mev = "_meV_per_A" if stem == "forces" else "_meV"
        kcal = "_kcal_mol_per_A" if stem == "forces" else "_kcal_mol"
        lines.append(
            f"| {label} | {metrics[f'{stem}_mae{mev}']:.2f} {unit} "
            f"| {metrics[f'{stem}_rmse{mev}']:.2f} {unit} "
            f"| {metrics[f'{stem}_mae{kcal}']:.4f} {unit_kcal} "
            f"| {metrics[f'{stem}_rmse{kcal}']:.4f} {unit_kcal} |"
        )
    return "\n".join(lines)


def _cell(value) -> str:
    """A table cell for a number, a flag, a list of numbers, text or nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " / ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}" if value != 0 and abs(value) < 1e-3 else f"{value:.3f}"
    return str(value).replace("|", "\\|")  # a bare | would end the table cell


def _analysis_section(analysis: Dict) -> List[str]:
    """Markdown lines of an analysis summary (see `model_card`)."""
    reference = analysis.get("reference_name") or analysis.get("reference")
    lines = [f"## {analysis.get('title') or 'Analysis'}", ""]
    if analysis.get("command"):
        lines += [f"Measured by `{analysis['command']}`.", ""]
    lines += [
        f"| check | model | {reference or 'reference'} | target |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(row['check'])} | {_cell(row.get('model'))} | "
        f"{_cell(row.get('reference'))} | {_cell(row.get('target'))} |"
        for row in analysis.get("checks", [])
    ]
    return lines


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def _training_sha256(train: Dict) -> Optional[str]:
    """The recorded sha256 of the training file; runs that recorded none (older
    runs on HDF5 stores) get that of the file at the recorded path, if present."""
    if train.get("sha256") or not train.get("path"):
        return train.get("sha256")
    path = Path(train["path"])
    return f"{sha256sum(path)}` (hashed for the card) `" if path.is_file() else None


def _recipe(metadata: Dict) -> Optional[str]:
    command = metadata.get("command") or []
    return next((part for part in command if part.endswith((".yaml", ".yml"))), None)


def _train_line(recipe: Optional[str], metadata: Dict) -> str:
    """The training command: as recorded (with its --set overrides), else the recipe."""
    command = [str(part) for part in metadata.get("command") or []]
    if (
        command
        and command[0] == "mlpot-train"
        and (recipe is None or recipe in command)
    ):
        return " ".join(shlex.quote(part) for part in command)
    return f"mlpot-train {recipe}" if recipe else "# (no recipe recorded)"


def _card_options(name: Optional[str], theory: Optional[str]) -> str:
    """``--name`` and ``--level-of-theory`` as the card was written with them."""
    options = ""
    if name:
        options += f" --name {shlex.quote(name)}"
    if theory:
        options += f" --level-of-theory {shlex.quote(theory)}"
    return options


def model_card(
    checkpoint: Dict,
    name: str,
    test_report: Dict,
    latency_ms: Optional[Dict[str, float]] = None,
    md_check: Optional[Dict] = None,
    recipe: Optional[str] = None,
    analysis: Optional[Dict] = None,
    level_of_theory: Optional[str] = None,
    checkpoint_path: Optional[str] = None,
    call_threads: Optional[int] = None,
) -> str:
    """The Markdown model card of a checkpoint.

    Parameters
    ----------
    checkpoint : dict
        The checkpoint, as read by :func:`mlpot.model.io.read_checkpoint`.
    name : str
        The model's name, e.g. ``"ethanol-equivariant"`` (the file's stem).
    test_report : dict
        From :func:`mlpot.train.report.evaluate_file` on the test file.
    latency_ms : dict, optional
        Calculator latency per dtype, the ``median_ms`` of
        :func:`calculator_latency`.
    md_check : dict, optional
        From :func:`mlpot.analysis.stability.langevin_bond_check`.
    recipe : str, optional
        The training config; by default the YAML file in the recorded command.
    analysis : dict, optional
        Figures of an analysis run with the model, e.g. the ``summary.json`` of
        ``examples/ethane_torsion.py``: ``checks`` (a list of dicts with
        ``check``, ``model``, ``reference`` and ``target``), and optionally
        ``title``, ``reference_name`` and ``command``.
    level_of_theory : str, optional
        Reference method of the training data; default what the data recorded.
    checkpoint_path : str, optional
        The path the card's usage and reproduce lines name; default
        ``models/NAME.ckpt`` (a shipped model).
    call_threads : int, optional
        Intra-op threads of the timed calls, the ``threads`` of
        :func:`calculator_latency`; named on the speed line when given.
    """
    path = checkpoint_path or f"models/{name}.ckpt"
    train = checkpoint["metadata"].get("data", {}).get("train") or {}
    theory = level_of_theory or train.get("level_of_theory")
    sections = [
        _summary_section(checkpoint, name, path, theory),
        _data_section(checkpoint["metadata"], test_report["data"], theory),
        _test_section(test_report),
        _model_section(checkpoint),
        _training_section(checkpoint["metadata"]),
    ]
    if latency_ms:
        sections.append(_speed_section(test_report, latency_ms, call_threads))
    if md_check:
        sections.append(_md_section(md_check))
    if analysis:
        sections.append(_analysis_section(analysis))
    sections.append(
        _reproduce_section(
            path,
            test_report["data"],
            recipe or _recipe(checkpoint["metadata"]),
            checkpoint["metadata"],
            _card_options(name, level_of_theory),
        )
    )
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _summary_section(
    checkpoint: Dict, name: str, path: str, theory: Optional[str]
) -> List[str]:
    from mlpot.calculator import CALCULATOR_FOR_FAMILY

    family = checkpoint["model_family"]
    calculator = CALCULATOR_FOR_FAMILY[family].__name__
    train = checkpoint["metadata"].get("data", {}).get("train") or {}
    return [
        f"# {name}",
        "",
        f"{_article(family)} {family} mlpot potential for "
        f"{train.get('name') or _formulas(checkpoint['metadata'])}, trained on "
        f"{theory or 'reference'} data. "
        "Energies in eV, forces in eV/Å.",
        "",
        "```python",
        f"from mlpot import {calculator}",
        "",
        f'atoms.calc = {calculator}("{path}")',
        "```",
    ]


def _formulas(meta: Dict) -> str:
    formulas = (meta.get("domain") or {}).get("formulas")
    return ", ".join(formulas) if formulas else "its molecule"


def _data_section(meta: Dict, test: Dict, theory: Optional[str]) -> List[str]:
    train = meta.get("data", {}).get("train") or {}
    split = meta.get("split", {})
    return [
        "## Data",
        "",
        "| set | file | sha256 | frames | source units |",
        "| --- | --- | --- | --- | --- |",
        f"| training | `{train.get('file')}` | `{_training_sha256(train)}` "
        f"| {split.get('n_train')} train + {split.get('n_val')} validation "
        f"(seed {split.get('seed')}) of {train.get('n_frames')} "
        f"| {train.get('energy_unit')}, {train.get('force_unit')} |",
        f"| test | `{test['file']}` | `{test['sha256']}` | {test['n_frames']} "
        f"| {test.get('energy_unit')}, {test.get('force_unit')} |",
        "",
        f"Level of theory: "
        f"{theory or 'not recorded (mlpot-card --level-of-theory gives it)'}. "
        "The split's frame ids are stored in the checkpoint (`metadata['split']`).",
    ]


def _test_section(test_report: Dict) -> List[str]:
    test = test_report["data"]
    return [
        f"## Test errors ({test['n_frames']} frames of `{test['file']}`)",
        "",
        _error_table(test_report["metrics"]),
    ]


def _model_section(checkpoint: Dict) -> List[str]:
    family = checkpoint["model_family"]
    parameters = sum(
        t.numel()
        for k, t in checkpoint["state_dict"].items()
        if not k.endswith(("atomic_energy_shift", "energy_scale", "coupling"))
    )
    return [
        "## Model",
        "",
        "| setting | value |",
        "| --- | --- |",
        *[
            f"| `{key}` | {value} |"
            for key, value in checkpoint["config"].items()
            if key != "interaction" or family == "invariant"
        ],
        f"| parameters | {parameters} |",
    ]


def _training_section(meta: Dict, title: str = "## Training") -> List[str]:
    settings = meta.get("config", {}).get("train", {})
    machine = meta.get("machine", {})
    clock = meta.get("budget_clock", settings.get("budget_clock", "wall"))
    budget = settings.get("max_time")
    cpu_s = meta.get("training_cpu_s")
    return [
        title,
        "",
        f"- epochs: {meta.get('epochs_run')} (best: {meta.get('best_epoch')}); "
        + (
            f"stopped because of {meta['stopped_because']}"
            if meta.get("stopped_because")
            else "an interim checkpoint: the run is still going"
        ),
        f"- training time: {meta.get('training_time_s', 0) / 3600:.2f} h wall clock"
        + (f", {cpu_s / 3600:.2f} h of CPU time" if cpu_s else "")
        + f" on {machine.get('cpu_count')} CPU cores, torch threads: "
        f"{machine.get('torch_threads')} ({machine.get('platform')}, "
        f"torch {machine.get('torch')})",
        "- time budget: "
        + (
            f"{budget / 3600:.2f} h of {'CPU' if clock == 'cpu' else 'wall-clock'} "
            "time (`train.max_time`, "
            f"`train.budget_clock: {clock}`)"
            if budget
            else "none"
        ),
        _e0s_line(meta.get("E0s")),
        f"- batch size {settings.get('batch_size')}, lr {settings.get('lr')}, "
        f"{settings.get('optimizer')} with a {settings.get('scheduler')} schedule, "
        f"EMA {settings.get('ema_decay')}, {settings.get('dtype')}",
        _loss_line(settings),
    ] + _finetune_lines(meta.get("finetuned_from"), settings)


def _finetune_lines(origin: Optional[Dict], settings: Dict) -> List[str]:
    """The pretrained model a run started from, when it was fine-tuned."""
    if not origin:
        return []
    frozen = settings.get("freeze") or []
    return [
        f"- fine-tuned from `{origin.get('source')}` (checkpoint digest "
        f"{str(origin.get('digest'))[:12]}, level of theory "
        f"{origin.get('level_of_theory') or 'not recorded'}); frozen: "
        + (", ".join(f"`{name}`" for name in frozen) if frozen else "nothing")
    ]


def _loss_line(settings: Dict) -> str:
    if "energy_weight" not in settings:
        return "- loss: not recorded"
    # Runs from before train.loss and train.energy_loss existed trained with
    # squared errors of the energy per atom.
    return "- loss: " + describe_loss(
        settings.get("loss", "mse"),
        settings.get("huber_delta"),
        settings["energy_weight"],
        settings["forces_weight"],
        settings.get("energy_loss", "per_atom"),
    )


def _e0s_line(record: Optional[Dict]) -> str:
    if not record:
        return f"- reference energies (E0s): {e0s_origin('fit')}"
    values = ", ".join(f"{symbol} {e:.6g}" for symbol, e in record["eV"].items())
    return f"- reference energies (E0s, eV; {e0s_origin(record['source'])}): {values}"


def _speed_section(
    test_report: Dict, latency_ms: Dict[str, float], threads: Optional[int]
) -> List[str]:
    n_atoms = test_report["n_atoms"] // test_report["data"]["n_frames"]
    where = platform.machine()
    if threads is not None:
        where += f", torch threads in the call: {threads}"
    return [
        "## Speed",
        "",
        f"Median time of one `atoms.get_forces()` call on a test frame ({n_atoms} "
        f"atoms), measured when this card was written ({where}): "
        + ", ".join(f"{ms:.1f} ms ({dtype})" for dtype, ms in latency_ms.items())
        + ".",
    ]


def _md_section(md_check: Dict) -> List[str]:
    bonds = "; ".join(
        f"{pair} {b['start_A']:.2f} → [{b['min_A']:.2f}, {b['max_A']:.2f}] Å"
        for pair, b in md_check["bonds"].items()
    )
    if md_check["intact"]:
        outcome = "every covalent bond stayed within 0.7–1.5 times its start length"
    else:
        changed = [
            pair
            for pair, b in md_check["bonds"].items()
            if b["max_A"] > 1.5 * b["start_A"] or b["min_A"] < 0.7 * b["start_A"]
        ]
        outcome = (
            "bonds left 0.7–1.5 times their start length "
            f"({', '.join(changed) or 'see the ranges'}): a reaction the molecule "
            "undergoes at this temperature (such as a proton transfer) or a failure "
            "of the model; look at the trajectory to tell which"
        )
    return [
        "## Molecular dynamics check",
        "",
        f"Langevin MD at {md_check['temperature_K']:.0f} K for "
        f"{md_check['duration_ps']:g} ps (0.5 fs steps) from the first test frame: "
        f"{outcome}; largest relative bond change "
        f"{100 * md_check['max_relative_deviation']:.1f} %; mean temperature "
        f"{md_check['mean_temperature_K']:.0f} K. Bond ranges: {bonds}.",
    ]


def _reproduce_section(
    path: str, test: Dict, recipe: Optional[str], meta: Dict, card_options: str = ""
) -> List[str]:
    data = meta.get("config", {}).get("data", {}) or {}
    keys = "".join(
        f" --{name.replace('_', '-')} {data[name]}"
        for name in ("energy_key", "forces_key")
        if data.get(name)
    )
    return [
        "## Reproduce",
        "",
        "```bash",
        _train_line(recipe, meta),
        f"mlpot-eval {path} {test.get('path', test['file'])}{keys}",
        f"mlpot-card {path}{card_options}",
        "```",
    ]


def committee_card(
    members: List[Dict],
    name: str,
    test_report: Dict,
    member_reports: List[Dict],
    latency_ms: Optional[Dict[str, float]] = None,
    calibrations: Sequence[Dict] = (),
    recipe: Optional[str] = None,
    level_of_theory: Optional[str] = None,
    path: Optional[str] = None,
    call_threads: Optional[int] = None,
) -> str:
    """The Markdown card of a committee.

    Parameters
    ----------
    members : list of dict
        The members' checkpoints, as read by :func:`mlpot.model.io.read_checkpoint`.
    name : str
        The committee's name, e.g. ``"ethanol-committee"`` (its folder's name).
    test_report : dict
        From :func:`mlpot.train.report.evaluate_file` of the committee (the
        members' mean) on the test file.
    member_reports : list of dict
        The same for each member alone.
    latency_ms : dict, optional
        Force-call latency in ms by label, e.g. ``{"committee, float64": …}``.
    calibrations : sequence of dict
        JSONs of ``mlpot-calibrate``: of this committee,
        or of one trained alike on other frames (its ``note`` says how).
    recipe : str, optional
        The training config; by default the YAML file in the recorded command.
    level_of_theory : str, optional
        Reference method of the training data; default what the data recorded.
    path : str, optional
        The folder the card's usage and reproduce lines name; default
        ``models/NAME``.
    call_threads : int, optional
        Intra-op threads of the timed committee call; named on the speed line
        when given.
    """
    first = members[0]
    meta = first["metadata"]
    path = path or f"models/{name}"
    train = meta.get("data", {}).get("train") or {}
    theory = level_of_theory or train.get("level_of_theory")
    sections = [
        _committee_summary_section(first, len(members), name, path, theory),
        _data_section(meta, test_report["data"], theory),
        _test_section(test_report) + _members_table(members, member_reports),
    ]
    if calibrations:
        sections.append(_calibration_section(calibrations))
    sections.append(_model_section(first))
    sections.append(
        _training_section(meta, "## Training (member 0)") + _member_epochs_line(members)
    )
    if latency_ms:
        sections.append(_speed_section(test_report, latency_ms, call_threads))
    sections.append(
        _committee_reproduce_section(
            path,
            test_report["data"],
            recipe or _recipe(meta),
            calibrations,
            meta,
            _card_options(name, level_of_theory),
        )
    )
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _member_epochs_line(members: List[Dict]) -> List[str]:
    """The members' epochs, with a note when a wall-clock budget made them unequal."""
    epochs = [m["metadata"].get("epochs_run") for m in members]
    if any(e is None for e in epochs):
        return []
    line = "- epochs of each member: " + " / ".join(str(e) for e in epochs)
    settings = members[0]["metadata"].get("config", {}).get("train", {})
    if max(epochs) > 1.2 * min(epochs) and settings.get("budget_clock") != "cpu":
        line += (
            " — unequal: their wall-clock budget gave busier stretches fewer "
            "epochs; `train.budget_clock: cpu` gives each the same work"
        )
    return [line]


def _committee_reproduce_section(
    path: str,
    test: Dict,
    recipe: Optional[str],
    calibrations: Sequence[Dict],
    meta: Dict,
    card_options: str = "",
) -> List[str]:
    test_path = test.get("path", test["file"])
    card = f"mlpot-card {path} --test {test_path}{card_options}" + "".join(
        f" --calibration {c['json']}" for c in calibrations if c.get("json")
    )
    return [
        "## Reproduce",
        "",
        "```bash",
        _train_line(recipe, meta),
        f"mlpot-eval {path} {test_path}",
        *[c["command"] for c in calibrations if c.get("command")],
        card,
        "```",
    ]


def _committee_summary_section(
    first: Dict, size: int, name: str, path: str, theory: Optional[str]
) -> List[str]:
    family = first["model_family"]
    train = first["metadata"].get("data", {}).get("train") or {}
    return [
        f"# {name}",
        "",
        f"A committee of {size} {family} mlpot potentials for "
        f"{train.get('name') or _formulas(first['metadata'])}, trained on "
        f"{theory or 'reference'} data with one recipe and split, differing in "
        "initialisation and shuffles. Its energy and forces are the members' "
        "mean; their spread estimates the error. Energies in eV, forces in eV/Å.",
        "",
        "```python",
        "from mlpot import load_calculator",
        "",
        f'atoms.calc = load_calculator("{path}")  # a CommitteeCalculator',
        "atoms.get_forces()",
        'atoms.calc.results["max_forces_std"]  # eV/Å: the largest per-atom '
        "force spread",
        "```",
        "",
        "`results` also holds `energy_std` (eV), `forces_std` (per atom, eV/Å), "
        "`member_energies` and `member_forces`.",
    ]


def _members_table(members: List[Dict], reports: List[Dict]) -> List[str]:
    lines = [
        "",
        "Each member alone:",
        "",
        "| member | epochs | CPU h | energy MAE (meV) | force MAE (meV/Å) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k, (member, report) in enumerate(zip(members, reports, strict=True)):
        meta, metrics = member["metadata"], report["metrics"]
        lines.append(
            f"| {k} | {meta.get('epochs_run')} "
            f"| {(meta.get('training_cpu_s') or 0) / 3600:.2f} "
            f"| {metrics['energy_mae_meV']:.2f} "
            f"| {metrics['forces_mae_meV_per_A']:.2f} |"
        )
    return lines


def _calibration_section(calibrations: Sequence[Dict]) -> List[str]:
    lines = [
        "## Uncertainty",
        "",
        "For each atom the committee predicts a force spread σ and makes an error "
        "ε = |F_mean − F_ref|. The rank correlation (Spearman) of σ and ε says "
        "whether the spread finds the large errors, and its value for committees "
        "of the first 2, 3, … members whether more members would help. A factor "
        "s, fitted on validation frames, makes s·σ an estimate of the error: where "
        "it is calibrated, the mean of s·σ is close to the RMS error.",
    ]
    for calibration in calibrations:
        lines += [
            "",
            f"{calibration.get('note') or 'This committee'}: s = "
            f"{calibration['scale']:.2f} (fitted on {calibration['fitted_on']}).",
            "",
            "| frames | source | atoms | rank correlation | with the first 2, 3, … "
            "members | mean s·σ (meV/Å) | RMS error (meV/Å) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for set_name, row in calibration["sets"].items():
            sizes = row["rank_correlation_by_members"].values()
            lines.append(
                f"| {set_name} | `{Path(row['source'].split(':')[0]).name}` "
                f"| {row['atoms']} | {row['rank_correlation']:.2f} "
                f"| {', '.join(f'{value:.2f}' for value in sizes)} "
                f"| {1000 * row['mean_scaled_spread_eV_per_A']:.1f} "
                f"| {1000 * row['rms_error_eV_per_A']:.1f} |"
            )
        if calibration.get("figure"):
            lines += ["", f"![calibration curves]({calibration['figure']})"]
    return lines
