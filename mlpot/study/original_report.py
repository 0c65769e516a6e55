"""The report's part on the original protocol: findings and tables with seed noise.

A difference between the families is called *beyond seed noise* when the
ranges of their seeds do not overlap (every seed of one family is better than
every seed of the other), and *within seed noise* otherwise.
"""

from typing import Dict, List, Sequence

import numpy as np

from mlpot.study.markdown import table

FAMILIES = ("equivariant", "invariant")


def seed_noise(first: Sequence[float], second: Sequence[float]) -> str:
    """``"beyond seed noise"`` if the two sets of seeds' values do not overlap."""
    disjoint = max(first) < min(second) or max(second) < min(first)
    return "beyond seed noise" if disjoint else "within seed noise"


def mean_and_range(values: Sequence[float]) -> str:
    """``mean [lowest, highest]`` over seeds, 3 significant digits."""
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.3g} [{values.min():.3g}, {values.max():.3g}]"


def finding(molecule: str, part: Dict) -> str:
    """One sentence with the test errors, pooled and per-atom probes."""
    families = part["families"]
    errors = {f: families[f]["test_energy_mae_meV"] for f in FAMILIES}
    means = {f: float(np.mean(errors[f])) for f in FAMILIES}
    lower = min(FAMILIES, key=means.get)
    pooled = "; ".join(
        f"{name} {_mean(families['equivariant']['pooled'][name]['linear'])} vs "
        f"{_mean(families['invariant']['pooled'][name]['linear'])}"
        for name in part["variables"]
    )
    per_atom = "; ".join(
        f"{kind} {medians['equivariant']:.2f} vs {medians['invariant']:.2f}"
        for kind, medians in per_atom_medians(part).items()
    )
    return (
        f"**{molecule}, original protocol** (energies only, {part['epochs']} "
        f"epochs, seeds {part['seeds']}): test energy MAE "
        f"{mean_and_range(errors['equivariant'])} meV equivariant vs "
        f"{mean_and_range(errors['invariant'])} meV invariant (mean [range]); "
        f"the {lower} model is lower, {seed_noise(*errors.values())}. "
        f"Linear-probe R² of the pooled latents, equivariant vs invariant: "
        f"{pooled}. Per-atom latents, median R² over the C and O atoms' own "
        f"{per_atom}."
    )


def per_atom_medians(part: Dict) -> Dict[str, Dict[str, float]]:
    """Median over atom variables (bonds, angles) of the seeds' mean R²."""
    medians = {}
    for kind, unit in (("bonds", "(Å)"), ("angles", "(deg)")):
        medians[kind] = {
            family: float(
                np.median(
                    [
                        np.mean(values)
                        for name, values in part["families"][family]["per_atom"].items()
                        if name.endswith(unit)
                    ]
                    or [np.nan]
                )
            )
            for family in FAMILIES
        }
    return medians


def section(part: Dict) -> List[str]:
    """Markdown of one molecule's original-protocol results."""
    families = part["families"]
    rows = [
        [
            family,
            mean_and_range(families[family]["test_energy_mae_meV"]),
            _last(families[family]["curve"]),
        ]
        for family in FAMILIES
    ]
    probe_rows = [
        [name]
        + [
            _mean(families[family]["pooled"][name][probe])
            for probe in ("linear", "knn_pca", "knn_tsne")
            for family in FAMILIES
        ]
        for name in part["variables"]
    ]
    atom_rows = [
        [name] + [_mean(families[family]["per_atom"][name]) for family in FAMILIES]
        for name in families["equivariant"]["per_atom"]
    ]
    figures = [
        f"![latent space, {family}]({part['figures'][family]})" for family in FAMILIES
    ]
    return [
        f"Energy-only training for {part['epochs']} epochs with seeds "
        f"{part['seeds']}; figures are mean [lowest, highest] over the seeds. "
        f"Probes are fitted on {part['n_frames'] - part['n_probe_test']} test "
        f"frames and scored on the other {part['n_probe_test']}.",
        "",
        *table(
            [
                "model",
                "test energy MAE (meV)",
                f"validation energy MAE at epoch {part['epochs']} (meV)",
            ],
            rows,
        ),
        "",
        f"![energy MAE against epoch]({part['figures']['curves']})",
        "",
        "Pooled (mean over atoms) last-layer latents, R² (mean ± sd over seeds):",
        "",
        *table(
            ["variable"]
            + [
                f"{family} {probe}"
                for probe in ("linear", "kNN (PCA)", "kNN (t-SNE)")
                for family in FAMILIES
            ],
            probe_rows,
        ),
        "",
        "Per-atom latents: each C and O atom's own latent, linear-probe R² for "
        "its own bonds and angles (mean ± sd over seeds):",
        "",
        *table(["atom: variable", *FAMILIES], atom_rows),
        "",
        *figures,
    ]


def _last(curve: Dict[str, list]) -> str:
    """The curve's last mean and band, as ``mean [low, high]``."""
    return f"{curve['mean'][-1]:.3g} [{curve['low'][-1]:.3g}, {curve['high'][-1]:.3g}]"


def _mean(values: Sequence[float]) -> str:
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
