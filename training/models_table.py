"""Write models/README.md: shipped models' test errors beside published results.

Our figures come from the JSON that ``mlpot-card --json`` writes next to each
checkpoint (training/ship.sh does this); nothing is typed by hand.

    python training/models_table.py
"""

import json
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "models"

# rMD17, 1000 training configurations; energy MAE (meV) / force MAE (meV/Å).
# Source: Batatia et al., "MACE: Higher Order Equivariant Message Passing Neural
# Networks for Fast and Accurate Force Fields", NeurIPS 2022 (arXiv:2206.07697),
# Table 1, which lists its own results and those of NequIP (Batzner et al.,
# Nat. Commun. 13, 2453, 2022).
PUBLISHED = {
    "aspirin": {"NequIP": (2.3, 8.2), "MACE": (2.2, 6.6)},
    "ethanol": {"NequIP": (0.4, 2.8), "MACE": (0.4, 2.1)},
    "toluene": {"NequIP": (0.5, 1.5), "MACE": (0.5, 1.5)},
}


def committee_rows(name: str, figures: dict) -> list:
    """Rows of the committees table: one per calibration frame set."""
    rows = []
    for calibration in figures.get("calibration") or []:
        own = not calibration.get("note")
        for set_name, row in calibration["sets"].items():
            rows.append(
                f"| `{name}` | {set_name}{'' if own else ' (low-energy committee)'} "
                f"| {row['atoms']} | {row['rank_correlation']:.2f} "
                f"| {1000 * row['mean_scaled_spread_eV_per_A']:.1f} "
                f"| {1000 * row['rms_error_eV_per_A']:.1f} |"
            )
    return rows


def main():
    rows, committees = [], []
    for path in sorted(MODELS.glob("*.json")):
        figures = json.loads(path.read_text())
        committees += committee_rows(path.stem, figures)
        metrics, data = figures["test"]["metrics"], figures["test"]["data"]
        molecule = path.stem.rsplit("-", 1)[0]
        published = PUBLISHED.get(molecule, {})
        rows.append(
            f"| `{path.stem}` | `{data['file']}` ({data['n_frames']}) "
            f"| {metrics['energy_mae_meV']:.2f} "
            f"| {metrics['forces_mae_meV_per_A']:.2f} "
            f"| {figures['latency_ms']['float64']:.1f} | "
            + " | ".join(
                f"{published[name][0]} / {published[name][1]}"
                if name in published
                else "—"
                for name in ("NequIP", "MACE")
            )
            + " |"
        )
    text = [
        "# Shipped models",
        "",
        "Each `NAME.ckpt` has a generated card `NAME.md` (data, split, settings, "
        "errors, speed, MD check, the command that reproduces it) and the measured "
        'figures in `NAME.json`. Load one with `mlpot.pretrained("NAME")`.',
        "",
        "| model | test file (frames) | energy MAE (meV) | force MAE (meV/Å) "
        "| ms per force call (float64) | NequIP E / F | MACE E / F |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Published figures: rMD17 with 1000 training configurations, energy MAE in meV "
        "/ force MAE in meV/Å, from Table 1 of Batatia et al., NeurIPS 2022 "
        "(arXiv:2206.07697), which also lists NequIP (Batzner et al., Nat. Commun. "
        "13, 2453, 2022). Those models trained for days on GPUs at larger sizes; ours "
        "train for at most 3 h of wall time on 2 CPU cores or 10 h of CPU time at one "
        "thread (see each card). Ethane has no published "
        "counterpart: its reference is our own GFN2-xTB data.",
        "",
    ]
    if committees:
        text += [
            "## Committees: how well the spread predicts the error",
            "",
            "A committee (`NAME/`, opened by `mlpot.load_calculator` or "
            "`mlpot.pretrained`) reports per-atom force spreads σ beside its "
            "mean. Per frame set: the Spearman rank correlation of σ and the force "
            "error, and the mean of s·σ (s fitted on validation frames) beside "
            "the RMS error, from `mlpot-calibrate` (the "
            "commands are in each card). The low-energy committee is one of "
            "the same recipe trained on the 800 lowest-energy frames, scored on "
            "frames above its training energies.",
            "",
            "| committee | frames | atoms | rank correlation | mean s·σ (meV/Å) "
            "| RMS error (meV/Å) |",
            "| --- | --- | --- | --- | --- | --- |",
            *committees,
            "",
        ]
    (MODELS / "README.md").write_text("\n".join(text))
    print(f"wrote {MODELS / 'README.md'} ({len(rows)} models)")


if __name__ == "__main__":
    main()
