"""Equal-budget accuracy protocol: train a recipe for fixed CPU time, report errors.

Every candidate trains on the same rMD17 split (the recipe's ``data`` section,
950 training + 50 validation frames of split 01) for the same number of CPU
seconds at one torch thread (``train.budget_clock: cpu``), so that a busy
machine gives the same result as an idle one. The run is resumable: running
the same command again continues it until its budget is spent. At the end the
best checkpoint's errors on the test file (computed by ``mlpot-train`` with the
best weights) and the validation force MAE against CPU time are written to
``--json``.

Examples
--------
::

    python benchmarks/accuracy_budget.py training/ethanol-equivariant.yaml \\
        --name lmax2 --set model.lmax=2 --cpu-hours 1
    python benchmarks/accuracy_budget.py --table benchmarks/accuracy/*.json
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from mlpot.fileio import atomic_path
from mlpot.model.io import read_checkpoint
from mlpot.train.records import read_metrics

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}
CURVE_POINTS = 60
CURVE_MARKS_H = (0.25, 0.5, 0.75)  # and the end of the run
# the interpreter running this script, so its environment need not be on PATH
TRAIN_COMMAND = (sys.executable, "-m", "mlpot.cli.train")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.table:
        print(candidates_table([json.loads(Path(p).read_text()) for p in args.table]))
        return 0
    recipe = Path(args.recipe)
    run_dir = Path(args.runs) / f"{recipe.stem}-{args.name}"
    budget = [
        f"train.max_time={args.cpu_hours * 3600:g}",
        "train.budget_clock=cpu",
        "train.max_epochs=1000000",
        "train.early_stopping_patience=null",
    ]
    if (run_dir / "last.state").is_file():
        command = [*TRAIN_COMMAND, "--resume", str(run_dir), "--quiet"]
    else:
        command = [*TRAIN_COMMAND, str(recipe), "--quiet", "--set", f"output={run_dir}"]
        command += budget + list(args.overrides)
    environment = dict(os.environ, **ONE_THREAD)
    subprocess.run(command, check=True, env=environment)
    summary = summarise(run_dir, args.name, recipe, list(args.overrides))
    out = Path(args.json or f"benchmarks/accuracy/{run_dir.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
    print(candidates_table([summary]))
    return 0


def summarise(run_dir: Path, name: str, recipe: Path, overrides) -> dict:
    """Test errors of the best checkpoint and the validation curve of a finished run.

    Returns
    -------
    dict
        ``name``, ``recipe``, ``overrides``, ``model`` and ``train`` (the
        settings the run used, so that the candidate can be repeated after
        the recipe file changes), ``budget_cpu_s``, ``epochs``,
        ``best_epoch``, ``parameters``, ``test`` and ``val`` (errors in meV and
        meV/Å), and ``curve`` (``epoch``, ``cpu_h``,
        ``val_forces_mae_meV_per_A``: the best-so-far validation force MAE, at
        most 60 points), so that candidates compare at equal epochs as well as
        at equal CPU time.
    """
    checkpoint = read_checkpoint(run_dir / "best.ckpt")
    metadata = checkpoint["metadata"]
    if metadata.get("stopped_because") is None:
        raise RuntimeError(f"the run in '{run_dir}' has not finished")
    table = read_metrics(run_dir / "metrics.csv")
    best_so_far = np.minimum.accumulate(table["val_forces_mae_meV_per_A"])
    keep = np.unique(np.linspace(0, len(best_so_far) - 1, CURVE_POINTS).astype(int))
    return {
        "name": name,
        "recipe": str(recipe),
        "overrides": overrides,
        "model": checkpoint["config"],
        "train": {
            key: value
            for key, value in metadata["config"]["train"].items()
            if key != "quiet"
        },
        "parameters": int(
            sum(np.prod(v.shape) for v in checkpoint["state_dict"].values())
        ),
        "budget_cpu_s": metadata.get("training_cpu_s"),
        "epochs": metadata["epochs_run"],
        "best_epoch": metadata["best_epoch"],
        "val": metadata["metrics"]["val"],
        "test": metadata["metrics"].get("test"),
        "curve": {
            "epoch": table["epoch"][keep].astype(int).tolist(),
            "cpu_h": (table["cpu_s"][keep] / 3600).round(4).tolist(),
            "val_forces_mae_meV_per_A": best_so_far[keep].round(3).tolist(),
        },
    }


def candidates_table(summaries) -> str:
    """A Markdown table, one row per candidate.

    The CPU seconds per epoch (the mean, validation included) show how fast
    the machine's clock ran: the same recipe has taken 1.3-1.7 times as long
    per epoch on different days.
    """
    marks = " / ".join(f"{h:g}" for h in CURVE_MARKS_H)
    lines = [
        "| recipe | candidate | settings | parameters | CPU h | epochs "
        "| CPU s per epoch | test F MAE (meV/Å) | test E MAE (meV) "
        f"| best val F MAE at {marks} CPU h / end |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        test = s["test"] or {}
        lines.append(
            f"| {Path(s['recipe']).stem} | {s['name']} | {_settings(s['overrides'])} "
            f"| {s['parameters']:,} | {s['budget_cpu_s'] / 3600:.2f} | {s['epochs']} "
            f"| {s['budget_cpu_s'] / s['epochs']:.1f} "
            f"| {test.get('forces_mae_meV_per_A', float('nan')):.2f} "
            f"| {test.get('energy_mae_meV', float('nan')):.2f} "
            f"| {curve_at(s['curve'])} |"
        )
    return "\n".join(lines)


def _settings(overrides) -> str:
    if not overrides:
        return "the recipe as written"
    return "`" + " ".join(overrides) + "`"


def curve_at(curve: dict) -> str:
    """Best-so-far validation force MAE by each of CURVE_MARKS_H and at the end."""
    cpu_h = np.asarray(curve["cpu_h"])
    best = np.asarray(curve["val_forces_mae_meV_per_A"])
    values = []
    for mark in CURVE_MARKS_H:
        reached = best[cpu_h <= mark]
        values.append(f"{reached[-1]:.1f}" if len(reached) else "–")
    return " / ".join([*values, f"{best[-1]:.1f}"])


def add_candidate_arguments(parser, default_name: str) -> None:
    """``--name`` and ``--set`` (``overrides``): a candidate and its settings."""
    parser.add_argument("--name", default=default_name, help="candidate name")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="settings of this candidate (mlpot-train --set)",
    )


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipe", nargs="?", help="training recipe (YAML)")
    add_candidate_arguments(parser, "baseline")
    parser.add_argument("--cpu-hours", type=float, default=1.0)
    parser.add_argument("--runs", default="runs/accuracy", help="folder of the runs")
    parser.add_argument("--json", help="summary file (default benchmarks/accuracy/)")
    parser.add_argument(
        "--table", nargs="+", metavar="JSON", help="print the table of summaries"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
