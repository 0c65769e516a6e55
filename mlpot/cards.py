"""Model cards: Markdown made from a checkpoint's metadata and a fresh evaluation."""

import platform
from pathlib import Path
from typing import Dict, List, Optional

import torch

from mlpot.data.files import sha256sum
from mlpot.model.io import read_checkpoint
from mlpot.timing import force_call_latency

_ERROR_ROWS = (
    ("energy", "energy", "meV", "kcal/mol"),
    ("energy per atom", "energy_per_atom", "meV", "kcal/mol"),
    ("forces", "forces", "meV/Å", "kcal/mol/Å"),
)


def calculator_latency(checkpoint, atoms, dtype="float64", repeats=20) -> float:
    """Median wall time in ms of ``atoms.get_forces()`` after small moves, as in MD."""
    from mlpot.calculator import load_calculator

    calculator = load_calculator(checkpoint, dtype=dtype)
    return force_call_latency(calculator, atoms, repeats)["median_ms"]


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


def model_card(
    checkpoint,
    test_report: Dict,
    latency_ms: Optional[Dict[str, float]] = None,
    md_check: Optional[Dict] = None,
    recipe: Optional[str] = None,
    analysis: Optional[Dict] = None,
) -> str:
    """The Markdown model card of ``checkpoint``.

    Parameters
    ----------
    checkpoint : str or Path
        The shipped checkpoint.
    test_report : dict
        From :func:`mlpot.train.report.evaluate_file` on the test file.
    latency_ms : dict, optional
        Calculator latency per dtype, from :func:`calculator_latency`.
    md_check : dict, optional
        From :func:`mlpot.analysis.stability.langevin_bond_check`.
    recipe : str, optional
        The training config; by default the YAML file in the recorded command.
    analysis : dict, optional
        Figures of an analysis run with the model, e.g. the ``summary.json`` of
        ``examples/ethane_torsion.py``: ``checks`` (a list of dicts with
        ``check``, ``model``, ``reference`` and ``target``), and optionally
        ``title``, ``reference_name`` and ``command``.
    """
    payload = read_checkpoint(checkpoint)
    meta, config = payload["metadata"], payload["config"]
    name = Path(checkpoint).stem
    calculator = {"equivariant": "EquivCalculator", "invariant": "InvariantCalculator"}[
        payload["model_family"]
    ]
    train = meta.get("data", {}).get("train") or {}
    test = test_report["data"]
    split = meta.get("split", {})
    settings = meta.get("config", {}).get("train", {})
    machine = meta.get("machine", {})
    recipe = recipe or _recipe(meta)
    lines = [
        f"# {name}",
        "",
        f"{_article(payload['model_family'])} {payload['model_family']} mlpot "
        "potential for "
        f"{train.get('name') or 'its molecule'}, trained on "
        f"{train.get('level_of_theory') or 'reference'} data. "
        "Energies in eV, forces in eV/Å.",
        "",
        "```python",
        f"from mlpot import {calculator}",
        f'atoms.calc = {calculator}("models/{name}.ckpt")',
        "```",
        "",
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
        f"Level of theory: {train.get('level_of_theory')}. The split's frame ids are "
        "stored in the checkpoint (`metadata['split']`).",
        "",
        f"## Test errors ({test['n_frames']} frames of `{test['file']}`)",
        "",
        _error_table(test_report["metrics"]),
        "",
        "## Model",
        "",
        "| setting | value |",
        "| --- | --- |",
        *[
            f"| `{key}` | {value} |"
            for key, value in config.items()
            if key != "interaction" or payload["model_family"] == "invariant"
        ],
        f"| parameters | {sum(t.numel() for k, t in payload['state_dict'].items() if not k.endswith(('atomic_energy_shift', 'energy_scale', 'coupling')))} |",  # noqa: E501
        "",
        "## Training",
        "",
        f"- epochs: {meta.get('epochs_run')} (best: {meta.get('best_epoch')}); "
        + (
            f"stopped because of {meta['stopped_because']}"
            if meta.get("stopped_because")
            else "an interim checkpoint: the run is still going"
        ),
        f"- training time: {meta.get('training_time_s', 0) / 3600:.2f} h on "
        f"{machine.get('cpu_count')} CPU cores, torch threads: "
        f"{machine.get('torch_threads')} ({machine.get('platform')}, "
        f"torch {machine.get('torch')})",
        f"- batch size {settings.get('batch_size')}, lr {settings.get('lr')}, "
        f"{settings.get('optimizer')} with a {settings.get('scheduler')} schedule, "
        f"EMA {settings.get('ema_decay')}, loss weights energy "
        f"{settings.get('energy_weight')} / forces {settings.get('forces_weight')}, "
        f"{settings.get('dtype')}",
    ]
    if latency_ms:
        lines += [
            "",
            "## Speed",
            "",
            "Median time of one `atoms.get_forces()` call on a test frame "
            f"({test_report['n_atoms'] // test['n_frames']} atoms), measured when this "
            f"card was written ({platform.machine()}, torch threads: "
            f"{torch.get_num_threads()}): "
            + ", ".join(f"{ms:.1f} ms ({dtype})" for dtype, ms in latency_ms.items())
            + ".",
        ]
    if md_check:
        bonds = "; ".join(
            f"{pair} {b['start_A']:.2f} → [{b['min_A']:.2f}, {b['max_A']:.2f}] Å"
            for pair, b in md_check["bonds"].items()
        )
        lines += [
            "",
            "## Molecular dynamics check",
            "",
            f"Langevin MD at {md_check['temperature_K']:.0f} K for "
            f"{md_check['duration_ps']:g} ps (0.5 fs steps) from the first test frame: "
            f"{'every covalent bond stayed intact' if md_check['intact'] else 'a bond broke'}"  # noqa: E501
            f"; largest relative bond change {100 * md_check['max_relative_deviation']:.1f} %"  # noqa: E501
            f"; mean temperature {md_check['mean_temperature_K']:.0f} K. Bond ranges: "
            f"{bonds}.",
        ]
    if analysis:
        lines += ["", *_analysis_section(analysis)]
    lines += [
        "",
        "## Reproduce",
        "",
        "```bash",
        f"mlpot-train {recipe}" if recipe else "# (no recipe recorded)",
        f"mlpot-eval models/{name}.ckpt {test.get('path', test['file'])}",
        f"mlpot-card models/{name}.ckpt",
        "```",
        "",
    ]
    return "\n".join(lines)
