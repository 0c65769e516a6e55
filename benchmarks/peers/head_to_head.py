"""Equal-budget head-to-head on rMD17 ethanol: mlpot's best recipe, NequIP and MACE.

All three train on the same 950 + 50 frames of split 01 (those ``mlpot-train``
draws from ``training/ethanol-equivariant.yaml``), at one thread, for the same
budget of process CPU time, and are scored on the same 1000 test frames by the
same script (``score.py``, each model through its package's ASE calculator).
NequIP and MACE run from their own virtualenvs, outside the project's
dependencies::

    python -m venv --system-site-packages .venv-nequip
    .venv-nequip/bin/pip install nequip==0.6.2 "numpy<2" torch==2.13.0
    python -m venv --system-site-packages .venv-mace
    .venv-mace/bin/pip install mace-torch torch==2.13.0

Every step is skipped when its output exists, so an interrupted comparison is
continued by running the same command again (a peer's budget is spent once:
remove its ``*-budget.json`` to train it again).

Example
-------
::

    python benchmarks/peers/head_to_head.py --cpu-hours 1
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from cpu_budget import ONE_THREAD

from mlpot.fileio import atomic_path

HERE = Path(__file__).resolve().parent
RECIPE = "training/ethanol-equivariant.yaml"
MLPOT_SETTINGS = ["model.lmax=2", "train.scheduler=budget_cosine"]
NEQUIP_CONFIG = HERE / "nequip-ethanol.yaml"
MACE_SCRIPT = HERE / "mace-ethanol.sh"
# NequIP 0.6 reads its own processed-data cache with torch.load, which needs the
# pre-2.6 default (weights_only=False) under torch 2.13
NEQUIP_ENV = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    run = Path(args.run_dir)
    hours = args.cpu_hours
    if not (run / "test.xyz").is_file():
        _run([sys.executable, HERE / "export_split.py", RECIPE, run])
    rows = [
        mlpot_row(run, hours),
        nequip_row(run, hours, Path(args.nequip_venv)),
        *(mace_row(run, hours, Path(args.mace_venv), name) for name in MACE_RUNS),
    ]
    out = Path(args.json or run / "head_to_head.json")
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))
    return 0


def mlpot_row(run: Path, hours: float) -> dict:
    """Train (or reuse) mlpot's best recipe with the accuracy protocol and score it."""
    name = "lmax2-budgetcosine" if hours == 1 else f"lmax2-budgetcosine-{hours:g}h"
    summary_path = Path("benchmarks/accuracy") / f"{Path(RECIPE).stem}-{name}.json"
    if not summary_path.is_file():
        _run(
            [sys.executable, "benchmarks/accuracy_budget.py", RECIPE, "--name", name]
            + ["--cpu-hours", f"{hours:g}", "--set", *MLPOT_SETTINGS]
        )
    summary = json.loads(summary_path.read_text())
    checkpoint = Path("runs/accuracy") / f"{Path(RECIPE).stem}-{name}" / "best.ckpt"
    scores = _score(run / "mlpot-scores.json", sys.executable, "mlpot", checkpoint, run)
    settings = "lmax 2, 32 features, 4 layers, r_max 5 Å, budget cosine"
    return _row("mlpot", settings, scores, summary["budget_cpu_s"], summary["epochs"])


def nequip_row(run: Path, hours: float, venv: Path) -> dict:
    """Train NequIP with its example recipe for the budget, deploy and score it."""
    work = run / "nequip"
    record = run / "nequip-budget.json"
    if not record.is_file():
        config = yaml.safe_load(NEQUIP_CONFIG.read_text())
        config.update(
            root=str(run),
            dataset_file_name=str(run / "train.xyz"),
            validation_dataset_file_name=str(run / "val.xyz"),
        )
        run_config = run / "nequip.yaml"
        with atomic_path(run_config) as tmp:
            tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        _budget(record, hours, [venv / "bin/nequip-train", run_config], NEQUIP_ENV)
    deployed = run / "nequip-deployed.pth"
    if not deployed.is_file():
        _run(
            [venv / "bin/nequip-deploy", "build", "--train-dir", work, deployed],
            NEQUIP_ENV,
        )
    scores = _score(
        run / "nequip-scores.json", venv / "bin/python", "nequip", deployed, run
    )
    epochs = len((work / "metrics_epoch.csv").read_text().splitlines()) - 1
    spent = json.loads(record.read_text())["cpu_s"]
    settings = "example.yaml: lmax 2, 32 features, 4 layers, r_max 4 Å, plateau"
    return _row("NequIP 0.6.2", settings, scores, spent, epochs)


# name: (hidden irreps, dtype, description, further mace_run_train settings for a
# budget of ``hours``)
MACE_RUNS = {
    "mace": (
        "128x0e + 128x1o",
        "float64",
        "README size 128x0e+128x1o, float64",
        lambda hours: [],
    ),
    "mace-32": (
        "32x0e + 32x1o",
        "float32",
        "32x0e+32x1o, float32, stage two",
        lambda hours: _mace_epochs(MACE_32_EPOCHS_PER_CPU_HOUR * hours),
    ),
}
# Epochs of the 32-channel float32 model in a CPU hour at one thread (its first
# epochs took 28-30 s each here, beside one other run), so that its stage two
# (MACE's raised energy weight) covers the last fifth of the epochs the budget allows.
MACE_32_EPOCHS_PER_CPU_HOUR = 120


def mace_row(run: Path, hours: float, venv: Path, name: str) -> dict:
    """Train MACE for the budget, write its best checkpoint's model and score it."""
    irreps, dtype, description, settings = MACE_RUNS[name]
    record = run / f"{name}-budget.json"
    env = {"MACE_RUN_TRAIN": str(venv / "bin/mace_run_train")}
    script = ["bash", MACE_SCRIPT, run, name, irreps, dtype]
    if not record.is_file():
        _budget(record, hours, script + settings(hours), env)
    models = run / name / "models"
    if not (models / "mace.model").is_file():
        # resumes from the best checkpoint with nothing left to train: writes the model
        epoch = _mace_checkpoint_epoch(run / name / "checkpoints")
        _run([*script, f"--max_num_epochs={epoch}"], env)
    # after stage two, MACE writes the final weights beside the stage-one model
    model = models / "mace_stagetwo.model"
    if not model.is_file():
        model = models / "mace.model"
    scores = _score(
        run / f"{name}-scores.json", venv / "bin/python", "mace", model, run
    )
    spent = json.loads(record.read_text())["cpu_s"]
    epochs = _mace_epochs_run(run / name / "logs")
    settings = f"{description}, correlation 3, 2 layers, r_max 5 Å"
    return _row("MACE", settings, scores, spent, epochs)


def table(rows) -> str:
    """A Markdown table, one row per trained model."""
    lines = [
        "| package | model | CPU h | epochs | test F MAE (meV/Å) | test E MAE (meV) "
        "| of which common offset (meV) | ms per call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['package']} | {r['settings']} | {r['cpu_s'] / 3600:.2f} "
            f"| {r['epochs']} | {r['forces_mae_meV_per_A']:.2f} "
            f"| {r['energy_mae_meV']:.2f} | {r['energy_mean_error_meV']:+.2f} "
            f"| {r['cpu_ms_per_frame']:.1f} |"
        )
    return "\n".join(lines)


def _row(package, settings, scores, cpu_s, epochs) -> dict:
    return {
        "package": package,
        "settings": settings,
        "cpu_s": cpu_s,
        "epochs": epochs,
        **scores,
    }


def _mace_epochs(epochs: float):
    epochs = max(int(round(epochs)), 1)
    stage_two = max(int(round(0.8 * epochs)), 1)
    return [
        f"--max_num_epochs={epochs}",
        "--stage_two",
        f"--start_stage_two={stage_two}",
    ]


def _mace_epochs_run(logs: Path) -> int:
    """Epochs MACE finished: its log's highest ``Epoch N:`` line, counted from 0."""
    text = "\n".join(p.read_text() for p in logs.glob("*.log") if "debug" not in p.name)
    return max(int(n) for n in re.findall(r"Epoch (\d+):", text)) + 1


def _mace_checkpoint_epoch(folder: Path) -> int:
    epochs = [
        int(m.group(1))
        for p in folder.glob("*_epoch-*.pt")
        if (m := re.search(r"_epoch-(\d+)\.pt$", p.name))
    ]
    if not epochs:
        raise FileNotFoundError(
            f"no MACE checkpoint in {folder}: the budget ended before one epoch"
        )
    return max(epochs)


def _score(out: Path, python, kind: str, model: Path, run: Path) -> dict:
    if not out.is_file():
        command = [
            python,
            HERE / "score.py",
            kind,
            model,
            run / "test.xyz",
            "--json",
            out,
        ]
        _run(command)
    return json.loads(out.read_text())


def _budget(record: Path, hours: float, command, env) -> None:
    _run(
        [
            sys.executable,
            HERE / "cpu_budget.py",
            "--cpu-hours",
            f"{hours:g}",
            "--record",
            record,
            "--",
            *command,
        ],
        env,
    )


def _run(command, env=None) -> None:
    command = [str(part) for part in command]
    print("+", " ".join(command), file=sys.stderr)
    subprocess.run(
        command, check=True, env=dict(os.environ, **ONE_THREAD, **(env or {}))
    )


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-hours", type=float, default=1.0)
    parser.add_argument("--run-dir", default="runs/peers/ethanol")
    parser.add_argument("--nequip-venv", default=".venv-nequip")
    parser.add_argument("--mace-venv", default=".venv-mace")
    parser.add_argument("--json", help="results (default RUN_DIR/head_to_head.json)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
