"""The Markdown report of a study: findings with their numbers, tables, figures."""

from pathlib import Path
from typing import Dict, List

import numpy as np

from mlpot.fileio import atomic_path
from mlpot.study import original_report
from mlpot.study.config import ANALYSES
from mlpot.study.data_efficiency import CURVE_FAMILIES
from mlpot.study.markdown import table
from mlpot.study.training_time import BUDGET_FRACTIONS

PROJECTION_NAMES = {"pca": "PCA", "tsne": "t-SNE"}


def write_report(results: Dict, path) -> Path:
    """Write ``report.md`` for the results of `mlpot.study.run_study`.

    Parameters
    ----------
    results : dict
        ``config``, ``training_time_s``, ``mlpot_version`` and, per molecule,
        the results of the four sections.
    path : str or Path
        The Markdown file; figures are linked relative to its folder.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(report_text(results), encoding="utf-8")
    return path


def report_text(results: Dict) -> str:
    """The Markdown report as a string."""
    lines = _header(results)
    lines += ["## Findings", ""] + [f"- {s}" for s in findings(results)] + [""]
    lines += summary(results)
    sections = (
        ("Data efficiency", "data_efficiency", _data_efficiency),
        ("Accuracy against training time", "training_time", _training_time),
        ("Generalisation to higher energies", "generalisation", _generalisation),
        ("Latent geometry", "latent", _latent),
        ("Symmetry", "symmetry", _symmetry),
        (
            "The original protocol: energies only, a fixed number of epochs",
            "original_protocol",
            original_report.section,
        ),
    )
    present = [
        (title, key, write)
        for title, key, write in sections
        if all(key in parts for parts in results["molecules"].values())
    ]
    for number, (title, key, write) in enumerate(present, start=1):
        lines += [f"## {number}. {title}", ""]
        for molecule, parts in results["molecules"].items():
            lines += [f"### {molecule}", ""] + write(parts[key]) + [""]
    return "\n".join(lines)


def findings(results: Dict) -> List[str]:
    """One sentence per molecule and section, each with its numbers."""
    sentences = []
    writers = {
        "data_efficiency": _curve_finding,
        "training_time": _training_time_finding,
        "generalisation": _ood_finding,
        "latent": _latent_finding,
        "symmetry": lambda molecule, part: _symmetry_finding(molecule, part, results),
        "original_protocol": original_report.finding,
    }
    for molecule, parts in results["molecules"].items():
        sentences += [
            write(molecule, parts[key])
            for key, write in writers.items()
            if key in parts
        ]
    return sentences


def summary(results: Dict) -> List[str]:
    """A table with a row per molecule: each section's headline, both families.

    Empty when no section that the table draws on was run.
    """
    molecules = results["molecules"]
    columns = []  # (header, cell of a molecule's parts)
    if all("data_efficiency" in parts for parts in molecules.values()):
        size = next(iter(molecules.values()))["data_efficiency"]["sizes"][-1]
        for quantity, label in (
            ("forces", "force MAE (meV/Å)"),
            ("energy", "energy MAE (meV)"),
        ):
            columns.append(
                (
                    f"test {label}, {size} frames",
                    lambda parts, q=quantity: _versus_seeds(
                        parts["data_efficiency"]["curves"], q
                    ),
                )
            )
    if all("generalisation" in parts for parts in molecules.values()):
        columns.append(
            ("force MAE high energy / in distribution", _generalisation_ratios)
        )
    if all("latent" in parts for parts in molecules.values()):
        columns.append(("median linear-probe R², geometric variables", _latent_median))
    if all("original_protocol" in parts for parts in molecules.values()):
        columns += [
            ("energies only: test energy MAE (meV)", _original_errors),
            ("energies only: per-atom bond R² (median)", _original_atom_bonds),
        ]
    if not columns:
        return []
    header = ["molecule"] + [title for title, _ in columns]
    rows = [
        [molecule] + [cell(parts) for _, cell in columns]
        for molecule, parts in molecules.items()
    ]
    return (
        [
            "## Summary",
            "",
            "Equivariant vs invariant in every cell; seed noise as in the "
            "sections below (mean ± standard deviation where there are seeds).",
            "",
        ]
        + table(header, rows)
        + [""]
    )


def _versus_seeds(curves: Dict, quantity: str) -> str:
    values = [_spread(curves[family][quantity][-1]) for family in CURVE_FAMILIES]
    verdict = _curve_noise(curves, quantity, -1)
    return f"{values[0]} vs {values[1]} ({verdict})"


def _generalisation_ratios(parts: Dict) -> str:
    families = parts["generalisation"]["families"]
    key = "forces_mae_meV_per_A"
    ratios = [
        families[f]["out_of_distribution"][key] / families[f]["in_distribution"][key]
        for f in CURVE_FAMILIES
    ]
    return f"{ratios[0]:.2f} vs {ratios[1]:.2f}"


def _latent_median(parts: Dict) -> str:
    latent = parts["latent"]
    geometric = [v for v in latent["variables"] if not v.startswith("energy")]
    medians = [
        np.median([latent["scores"][f][v]["linear"] for v in geometric])
        for f in CURVE_FAMILIES
    ]
    return f"{medians[0]:.2f} vs {medians[1]:.2f}"


def _original_errors(parts: Dict) -> str:
    families = parts["original_protocol"]["families"]
    errors = [families[f]["test_energy_mae_meV"] for f in original_report.FAMILIES]
    return (
        f"{_spread(errors[0])} vs {_spread(errors[1])} "
        f"({original_report.seed_noise(*errors)})"
    )


def _original_atom_bonds(parts: Dict) -> str:
    bonds = original_report.per_atom_medians(parts["original_protocol"])["bonds"]
    return " vs ".join(f"{bonds[f]:.2f}" for f in original_report.FAMILIES)


def _header(results: Dict) -> List[str]:
    config = results["config"]
    curve = config["data_efficiency"]
    files = ", ".join(
        f"{name} (`{Path(d['train']).name}`, `{Path(d['test']).name}`)"
        for name, d in config["molecules"].items()
    )
    lines = [
        "# What equivariance buys: equivariant vs invariant potentials",
        "",
        f"Written by `mlpot-study` (mlpot {results['mlpot_version']}) from the "
        "config saved beside this report (`study.yaml`); every number is also "
        "in `results.json`.",
        "",
        f"- Molecules and data: {files}.",
    ]
    sections = config.get("sections") or list(ANALYSES)
    if set(sections) - {"generalisation", "original_protocol"}:
        noise = (
            f" (at {curve['noise_sizes']} frames also seeds {curve['noise_seeds']})"
            if curve.get("noise_sizes")
            else ""
        )
        lines.append(
            f"- Learning curves: {curve['sizes']} training frames, seeds "
            f"{curve['seeds']}{noise}, {curve['n_val']} validation frames per run."
        )
    original = config.get("original_protocol")
    if original and "original_protocol" in sections:
        lines.append(
            f"- Original protocol: {original['n_train']} training and "
            f"{original['n_val']} validation frames, {original['epochs']} epochs, "
            f"seeds {original['seeds']}, energies only (`forces_weight: 0`)"
            + (f", also `{_inline(original['train'])}`" if original["train"] else "")
            + "."
        )
    lines += [
        f"- Training settings of every run: `{_inline(config['train'])}`.",
        "- Wall-clock training time of all runs: "
        f"{_duration(results['training_time_s'])}.",
    ]
    missing = [
        f"{molecule} ({', '.join(s for s in sections if s not in parts)})"
        for molecule, parts in results["molecules"].items()
        if set(sections) - set(parts)
    ]
    if missing:
        lines.append(
            "- **Under way:** not recorded yet: "
            + "; ".join(missing)
            + ". Sections appear below once every molecule has them; "
            "running the same config again continues the study."
        )
    for family, settings in config["families"].items():
        train = f"; train {_inline(settings['train'])}" if settings["train"] else ""
        lines.append(f"- {family} model: `{_inline(settings['model'])}{train}`.")
    return lines + [""]


def _curve_finding(molecule: str, part: Dict) -> str:
    curves, sizes = part["curves"], part["sizes"]
    low, high = sizes[0], sizes[-1]

    def forces(family, k):
        return _num(np.mean(curves[family]["forces"][k]))

    def noise(k):
        verdict = _curve_noise(curves, "forces", k)
        return "" if verdict == "one seed" else f" ({verdict})"

    slope = {f: f"{curves[f]['slopes']['forces']['slope']:.2f}" for f in curves}
    return (
        f"**{molecule}, data efficiency:** with {low} training frames the "
        f"equivariant model's test force MAE is {forces('equivariant', 0)} meV/Å "
        f"vs {forces('invariant', 0)} meV/Å for the invariant model{noise(0)}; "
        f"with {high} frames {forces('equivariant', -1)} vs "
        f"{forces('invariant', -1)} meV/Å{noise(-1)}. Log-log slopes of the force "
        f"learning curves: {slope['equivariant']} vs {slope['invariant']}."
    )


def _training_time_finding(molecule: str, part: Dict) -> str:
    families = part["families"]

    def along(family):
        best = families[family]["best_val_forces_meV_per_A"]
        return " / ".join(_error(best[f"{f:g}"]) for f in BUDGET_FRACTIONS)

    ahead = part["equivariant_ahead_from_s"]
    lead = (
        "the invariant model is still ahead at the end"
        if ahead is None
        else f"the equivariant model is ahead from {_duration(ahead)} of training on"
    )
    fractions = ", ".join(f"{fraction:.0%}" for fraction in BUDGET_FRACTIONS)
    return (
        f"**{molecule}, training time:** with {part['n_train']} frames an epoch "
        f"takes {families['equivariant']['seconds_per_epoch']:.2g} {_clock_unit(part)} "
        f"for the equivariant model and "
        f"{families['invariant']['seconds_per_epoch']:.2g} {_clock_unit(part)} "
        f"for the invariant one; best validation force MAE after {fractions} "
        f"of the {_duration(part['budget_s'])}{_of_clock(part)} budget: equivariant "
        f"{along('equivariant')} vs invariant {along('invariant')} meV/Å; {lead}."
    )


def _ood_finding(molecule: str, part: Dict) -> str:
    texts = []
    for family, errors in part["families"].items():
        inside = errors["in_distribution"]["forces_mae_meV_per_A"]
        outside = errors["out_of_distribution"]["forces_mae_meV_per_A"]
        texts.append(
            f"{family} {_num(inside)} → {_num(outside)} meV/Å ({outside / inside:.2f}×)"
        )
    return (
        f"**{molecule}, generalisation:** trained on the lowest "
        f"{part['fraction']:.0%} of energies, the force MAE goes from "
        f"in-distribution test frames to the {part['n_out_of_distribution']} "
        f"highest-energy frames as: {'; '.join(texts)}."
    )


def _latent_finding(molecule: str, part: Dict) -> str:
    scores = part["scores"]
    texts = [
        f"{name} {scores['equivariant'][name]['linear']:.2f} vs "
        f"{scores['invariant'][name]['linear']:.2f}"
        for name in part["variables"]
    ]
    return (
        f"**{molecule}, latent geometry:** linear-probe R² on "
        f"{part['n_probe_test']} held-out test frames, equivariant vs "
        f"invariant: {'; '.join(texts)}."
    )


def _symmetry_finding(molecule: str, part: Dict, results: Dict) -> str:
    models = part["models"]
    changes = ", ".join(
        f"{label} {_num(m['equivariance']['float64']['forces_meV_per_A'])}"
        for label, m in models.items()
    )
    accuracy = ", ".join(
        f"{label} {_num(m['test_forces_mae_meV_per_A'])}" for label, m in models.items()
    )
    intact = [label for label, m in models.items() if m["md"]["intact"]]
    settings = results["config"]["symmetry"]
    return (
        f"**{molecule}, symmetry:** largest force change under random rotations "
        f"and inversions (float64): {changes} meV/Å. Test force MAE: {accuracy} "
        f"meV/Å. Langevin MD at {settings['md_temperature_K']:g} K for "
        f"{settings['md_duration_ps']:g} ps kept the bonds of "
        f"{', '.join(intact) if intact else 'no model'} intact "
        f"({len(intact)} of {len(models)})."
    )


def _data_efficiency(part: Dict) -> List[str]:
    curves = part["curves"]
    header = ["training frames"] + [
        f"{family} {label}"
        for label in ("energy MAE (meV)", "force MAE (meV/Å)")
        for family in CURVE_FAMILIES
    ]
    header += [f"{quantity}: difference" for quantity in ("energy", "forces")]
    rows = [
        [str(size)]
        + [
            _spread(curves[family][quantity][k])
            for quantity in ("energy", "forces")
            for family in CURVE_FAMILIES
        ]
        + [_curve_noise(curves, quantity, k) for quantity in ("energy", "forces")]
        for k, size in enumerate(part["sizes"])
    ]
    slopes = [
        [
            family,
            f"{curves[family]['slopes']['energy']['slope']:.3f}",
            f"{curves[family]['slopes']['forces']['slope']:.3f}",
        ]
        for family in CURVE_FAMILIES
    ]
    return (
        [
            "Test errors, mean ± standard deviation over seeds; where a size has "
            "several seeds, the difference between the families is *beyond seed "
            "noise* when every seed of one is better than every seed of the other:",
            "",
        ]
        + table(header, rows)
        + ["", "Slopes of log(MAE) against log(training frames):", ""]
        + table(["model", "energy slope", "force slope"], slopes)
        + ["", f"![learning curves]({part['figure']})"]
    )


def _curve_noise(curves: Dict, quantity: str, k: int) -> str:
    """Whether the families differ beyond seed noise at size index ``k``."""
    values = [curves[family][quantity][k] for family in CURVE_FAMILIES]
    if min(len(v) for v in values) < 2:
        return "one seed"
    return original_report.seed_noise(*values)


def _training_time(part: Dict) -> List[str]:
    header = ["model", "epochs", f"{_clock_unit(part)} per epoch"] + [
        f"best val force MAE at {fraction:.0%} (meV/Å)" for fraction in BUDGET_FRACTIONS
    ]
    rows = [
        [family, str(summary["epochs"]), f"{summary['seconds_per_epoch']:.3g}"]
        + [
            _error(summary["best_val_forces_meV_per_A"][f"{fraction:g}"])
            for fraction in BUDGET_FRACTIONS
        ]
        for family, summary in part["families"].items()
    ]
    ahead = part["equivariant_ahead_from_s"]
    return [
        f"The learning-curve runs on {part['n_train']} frames (seed "
        f"{part['seed']}): the best validation force MAE reached within each "
        f"share of the {_duration(part['budget_s'])}{_of_clock(part)} budget. "
        "The equivariant "
        + (
            "model is not ahead at the end."
            if ahead is None
            else f"model stays ahead from {_duration(ahead)} on."
        ),
        "",
        *table(header, rows),
        "",
        f"![training time]({part['figure']})",
    ]


def _of_clock(part: Dict) -> str:
    """`` CPU-time`` for a budget counted in CPU seconds (``part["clock"]``)."""
    return " CPU-time" if part.get("clock") == "cpu" else ""


def _clock_unit(part: Dict) -> str:
    return "CPU s" if part.get("clock") == "cpu" else "s"


def _generalisation(part: Dict) -> List[str]:
    rows = []
    for family, errors in part["families"].items():
        inside, outside = errors["in_distribution"], errors["out_of_distribution"]
        row = [family]
        for key in ("energy_mae_meV", "forces_mae_meV_per_A"):
            row += [
                _num(inside[key]),
                _num(outside[key]),
                f"{outside[key] / inside[key]:.2f}",
            ]
        key = "energy_mean_error_meV"
        row += [_num(inside[key]), _num(outside[key])]
        rows.append(row)
    header = (
        ["model"]
        + [
            f"{quantity} {column}"
            for quantity in ("energy MAE (meV)", "force MAE (meV/Å)")
            for column in ("in distribution", "high energy", "ratio")
        ]
        + [
            f"mean energy error (meV) {column}"
            for column in ("in distribution", "high energy")
        ]
    )
    return [
        f"Trained on the lowest {part['fraction']:.0%} of the training file's "
        f"energies (highest {part['threshold_eV']:.4f} eV); tested on its "
        f"{part['n_out_of_distribution']} higher-energy frames and, in "
        f"distribution, on the {part['n_in_distribution']} test-file frames "
        "below that energy.",
        "",
        *table(header, rows),
        "",
        f"![generalisation]({part['figure']})",
    ]


def _latent(part: Dict) -> List[str]:
    scores = part["scores"]
    header = ["variable"] + [
        f"{family} {probe}"
        for probe in ("linear R²", "kNN R² (PCA)", "kNN R² (t-SNE)")
        for family in CURVE_FAMILIES
    ]
    rows = [
        [name]
        + [
            f"{scores[family][name][key]:.3f}"
            for key in ("linear", "knn_pca", "knn_tsne")
            for family in CURVE_FAMILIES
        ]
        for name in part["variables"]
    ]
    figures = [f"![latent space, {f}]({path})" for f, path in part["figures"].items()]
    return [
        f"Pooled (mean over atoms) last-layer features of {part['n_frames']} "
        "test frames; probes fitted on the others and scored on "
        f"{part['n_probe_test']} held-out frames.",
        "",
        *table(header, rows),
        "",
        *figures,
    ]


def _symmetry(part: Dict) -> List[str]:
    header = [
        "model",
        "energy change float32 (meV)",
        "energy change float64 (meV)",
        "force change float32 (meV/Å)",
        "force change float64 (meV/Å)",
        "test force MAE (meV/Å)",
        "MD bonds intact",
        "largest bond stretch",
    ]
    rows = []
    for label, model in part["models"].items():
        errors, md = model["equivariance"], model["md"]
        stretch = md["max_relative_deviation"]
        rows.append(
            [
                label,
                _num(errors["float32"]["energy_meV"]),
                _num(errors["float64"]["energy_meV"]),
                _num(errors["float32"]["forces_meV_per_A"]),
                _num(errors["float64"]["forces_meV_per_A"]),
                _num(model["test_forces_mae_meV_per_A"]),
                "yes" if md["intact"] else "no",
                "failed" if stretch is None else f"{stretch:.1%}",
            ]
        )
    return [
        "Largest change of the energy and of any force component of the first "
        "test frame under random rotations and inversions; MD stability from "
        "a Langevin run started at the same frame.",
        "",
        *table(header, rows),
        "",
        f"![symmetry]({part['figure']})",
    ]


def _spread(values) -> str:
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 1:
        return _num(values[0])
    return f"{_num(values.mean())} ± {_num(values.std(ddof=1))}"


def _num(value) -> str:
    return f"{float(value):.3g}"


def _error(value) -> str:
    """An error figure, or a dash where no epoch had ended yet (None)."""
    return "–" if value is None else _num(value)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _inline(settings: Dict) -> str:
    return ", ".join(f"{key}: {value}" for key, value in settings.items())
