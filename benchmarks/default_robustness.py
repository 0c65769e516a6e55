"""Do ``mlpot-train``'s defaults train stably on every data set the project has?

Each data set trains with only its file, its energy unit and the split sizes
given (everything else is ``mlpot-train``'s default, or the candidate settings
given with ``--set``) for a fixed budget of CPU time at one torch thread. The
per-epoch records are then summarised: how far the training force MAE jumps
from one epoch to the next, how often it rises by more than a fifth, whether
the learning rate decayed, and the best validation force MAE. Runs are
resumable (the same command continues them) and reused once finished.

Examples
--------
::

    python benchmarks/default_robustness.py --name defaults
    python benchmarks/default_robustness.py --name warmup \\
        --set train.scheduler=budget_cosine train.warmup_epochs=5
    python benchmarks/default_robustness.py --table benchmarks/robustness/*.json
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from accuracy_budget import ONE_THREAD, TRAIN_COMMAND, add_candidate_arguments

from mlpot.fileio import atomic_path
from mlpot.model.io import read_checkpoint
from mlpot.train.records import read_metrics

MD17 = "../shared/data/md17"
# name: (training file, energy unit of the file; None when the file records it)
DATASETS = {
    **{
        f"rmd17-{molecule}": (f"{MD17}/rmd17_{molecule}_train_01.npz", "kcal/mol")
        for molecule in (
            "aspirin",
            "azobenzene",
            "benzene",
            "ethanol",
            "naphthalene",
            "salicylic",
            "toluene",
        )
    },
    "ethanol-ccsdt": (f"{MD17}/ethanol_ccsd_t-train.npz", "kcal/mol"),
    "ethane-gfn2": ("data/ethane/ethane-gfn2-train.h5", None),
    "acetamide-gfn2-1000K": ("data/acetamide/acetamide-gfn2-1000K.h5", None),
}
SETTLED_EPOCHS = 5  # epochs left out of the jump statistics (the first descent)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.table:
        print(robustness_table([json.loads(Path(p).read_text()) for p in args.table]))
        return 0
    names = args.datasets or list(DATASETS)
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        raise SystemExit(f"unknown data sets {unknown}; choose from {list(DATASETS)}")
    rows = {}
    for name in names:
        run_dir = Path(args.runs) / args.name / name
        train_file, unit = DATASETS[name]
        if not Path(train_file).is_file():
            print(f"{name}: {train_file} is missing; skipped", file=sys.stderr)
            continue
        if not _finished(run_dir):
            _train(run_dir, train_file, unit, args)
        rows[name] = summarise(run_dir)
    summary = {
        "name": args.name,
        "overrides": list(args.overrides),
        "cpu_minutes": args.cpu_minutes,
        "n_train": args.n_train,
        "datasets": rows,
    }
    out = Path(args.json or f"benchmarks/robustness/{args.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
    print(robustness_table([summary]))
    return 0


def summarise(run_dir: Path) -> dict:
    """Stability figures of one finished run, from its ``metrics.csv``.

    Returns
    -------
    dict
        ``epochs``; ``lr_first``, ``lr_last``; ``median_jump``: median over
        epochs after the first five of ``|ln(F_t / F_{t-1})|`` of the training
        force MAE (0.1 is a 10 % change); ``rises``: the share of those epochs
        whose training force MAE rose by more than 20 %; ``worst_rise``: the
        largest ratio ``F_t / F_{t-1}``; ``rises_first_half`` and
        ``worst_rise_first_half``: the same over the first half of those
        epochs, while a decaying learning rate is still high;
        ``best_val_forces_mae`` (meV/Å).
    """
    table = read_metrics(run_dir / "metrics.csv")
    forces = np.asarray(table["train_forces_mae_meV_per_A"], dtype=float)
    ratio = forces[SETTLED_EPOCHS + 1 :] / forces[SETTLED_EPOCHS:-1]
    first_half = ratio[: len(ratio) // 2]
    return {
        "epochs": int(len(forces)),
        "lr_first": float(table["lr"][0]),
        "lr_last": float(table["lr"][-1]),
        "median_jump": float(np.median(np.abs(np.log(ratio)))) if len(ratio) else None,
        "rises": float(np.mean(ratio > 1.2)) if len(ratio) else None,
        "worst_rise": float(ratio.max()) if len(ratio) else None,
        "rises_first_half": float(np.mean(first_half > 1.2))
        if len(first_half)
        else None,
        "worst_rise_first_half": float(first_half.max()) if len(first_half) else None,
        "best_val_forces_mae": float(np.min(table["val_forces_mae_meV_per_A"])),
    }


def robustness_table(summaries) -> str:
    """A Markdown table, one row per data set and candidate."""
    lines = [
        "| data set | candidate | epochs | lr first → last | median epoch-to-epoch "
        "change of train F MAE | epochs rising > 20 % (first half) "
        "| worst rise (first half) | best val F MAE (meV/Å) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        for dataset, r in s["datasets"].items():
            jump = (
                "–" if r["median_jump"] is None else f"{100 * r['median_jump']:.0f} %"
            )
            rises = _both(r, "rises", lambda v: f"{100 * v:.0f} %")
            worst = _both(r, "worst_rise", lambda v: f"{v:.2f}×")
            lines.append(
                f"| {dataset} | {s['name']} | {r['epochs']} "
                f"| {r['lr_first']:.1e} → {r['lr_last']:.1e} | {jump} | {rises} "
                f"| {worst} | {r['best_val_forces_mae']:.1f} |"
            )
    return "\n".join(lines)


def _both(row: dict, name: str, form) -> str:
    """``name`` over all settled epochs and, in brackets, over their first half."""
    if row[name] is None:
        return "–"
    early = row.get(f"{name}_first_half")
    return form(row[name]) + ("" if early is None else f" ({form(early)})")


def _finished(run_dir: Path) -> bool:
    best = run_dir / "best.ckpt"
    if not (best.is_file() and (run_dir / "last.state").is_file()):
        return False
    return read_checkpoint(best)["metadata"].get("stopped_because") is not None


def _train(run_dir: Path, train_file: str, unit, args) -> None:
    if (run_dir / "last.state").is_file():
        command = [*TRAIN_COMMAND, "--resume", str(run_dir), "--quiet"]
    else:
        settings = [
            f"data.train={train_file}",
            f"data.n_train={args.n_train}",
            f"data.n_val={args.n_val}",
            f"train.max_time={60 * args.cpu_minutes:g}",
            "train.budget_clock=cpu",
            f"output={run_dir}",
        ]
        if unit is not None:
            settings.append(f"data.energy_unit={unit}")
        config = run_dir.parent / f"{run_dir.name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"data:\n  train: {train_file}\n")
        command = [*TRAIN_COMMAND, str(config), "--quiet", "--set", *settings]
        command += list(args.overrides)
    subprocess.run(command, check=True, env=dict(os.environ, **ONE_THREAD))


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_candidate_arguments(parser, "defaults")
    parser.add_argument("--datasets", nargs="+", help=f"a subset of {list(DATASETS)}")
    parser.add_argument("--cpu-minutes", type=float, default=10.0)
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--n-val", type=int, default=50)
    parser.add_argument("--runs", default="runs/robustness", help="folder of the runs")
    parser.add_argument("--json", help="summary file (default benchmarks/robustness/)")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="print the table")
    return parser


if __name__ == "__main__":
    sys.exit(main())
