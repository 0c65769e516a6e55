"""Speed of mlpot's calculators and training step on a CPU.

Measures, for each model family and dtype, with randomly initialised models:

* calculator latency: median wall time of ``atoms.get_forces()`` after moving
  the atoms slightly (as in MD), for ethane, ethanol, toluene, aspirin,
  27 ethanol molecules 6 Å apart (243 atoms) and a periodic box of 64 waters
  (192 atoms), plus the share of that time spent outside the model
  (neighbour list, graph building, conversions); the calculators use radial
  tables unless ``--no-radial-table`` is given (then the radial networks);
* training throughput: frames per second of an energy+force loss step
  (forward, forces, backward, Adam) on rMD17 ethanol and aspirin frames at
  batch sizes 5 and 32;
* peak resident memory of the process;
* the speed of the machine itself, before and after (a pure-Python loop and
  a chain of small torch operations), so that figures taken on different days
  of a shared machine can be told apart from changes in the code.

Each (family, dtype) runs in its own subprocess so its peak memory is its own.
MD17 molecules are read from ``--data-dir`` (rMD17 npz files); systems whose
file is missing are skipped.

    python benchmarks/benchmark.py --json benchmarks/results.json
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL_SIZES = {
    # NequIP's default size: lmax 1, 32 features, 4 layers, r_max 5 Å.
    "equivariant": dict(name="equivariant", lmax=1, num_features=32, num_layers=4),
    # mlpot-train's default size: NequIP's, at lmax 2.
    "equivariant-lmax2": dict(
        name="equivariant", lmax=2, num_features=32, num_layers=4
    ),
    # The same with MACE-style products of the neighbour sum up to two and
    # three factors.
    "equivariant-lmax2-correlation2": dict(
        name="equivariant", lmax=2, num_features=32, num_layers=4, correlation=2
    ),
    "equivariant-lmax2-correlation3": dict(
        name="equivariant", lmax=2, num_features=32, num_layers=4, correlation=3
    ),
    # SchNetPack's default SchNet size: 128 features, 3 interactions, r_max 5 Å.
    "invariant": dict(name="invariant", num_features=128, num_layers=3),
}
SPECIES = [1, 6, 7, 8]


def rmd17_atoms(data_dir, molecule, index=0):
    from mlpot.data import read_frames

    path = Path(data_dir) / f"rmd17_{molecule}_test_01.npz"
    if not path.is_file():
        return None
    return read_frames(path).to_atoms(index)


def ethanol_cluster(count: int = 27):
    """``count`` randomly oriented ethanol molecules on a cubic grid 6 Å apart."""
    from ase.build import molecule

    side = round(count ** (1 / 3))
    single = molecule("CH3CH2OH")
    rng = np.random.default_rng(0)
    cluster = None
    for index in np.ndindex(side, side, side):
        copy = single.copy()
        copy.rotate(rng.uniform(0, 360), rng.normal(size=3), center="COM")
        copy.translate(np.array(index) * 6.0)
        cluster = copy if cluster is None else cluster + copy
    return cluster


def water_box():
    from ase.build import molecule

    rng = np.random.default_rng(0)
    box = None
    spacing = 12.42 / 4  # 64 waters at 1 g/cm³
    for index in np.ndindex(4, 4, 4):
        water = molecule("H2O")
        water.rotate(rng.uniform(0, 360), rng.normal(size=3), center="COM")
        water.translate((np.array(index) + 0.5) * spacing)
        box = water if box is None else box + water
    box.cell = [12.42] * 3
    box.pbc = True
    return box


def systems(data_dir):
    from ase.build import molecule

    found = {
        "ethane": molecule("C2H6"),
        "ethanol": rmd17_atoms(data_dir, "ethanol") or molecule("CH3CH2OH"),
        "toluene": rmd17_atoms(data_dir, "toluene"),
        "aspirin": rmd17_atoms(data_dir, "aspirin"),
        "27 ethanol": ethanol_cluster(27),
        "64 water (periodic)": water_box(),
    }
    return {name: atoms for name, atoms in found.items() if atoms is not None}


def calculator_latency(model, atoms, dtype, repeats, radial_table=True):
    from mlpot import MLPotCalculator
    from mlpot.timing import force_call_latency

    calculator = MLPotCalculator(model, dtype=dtype, radial_table=radial_table)
    return force_call_latency(calculator, atoms, repeats)


def training_throughput(model, frames, batch_size, dtype, steps):
    """Optimisation steps per second of the trainer's own step (its loss, Adam)."""
    import torch

    from mlpot.graph import collate, from_frames
    from mlpot.train.config import TrainConfig
    from mlpot.train.epoch import train_step

    torch_dtype = getattr(torch, dtype)
    model = model.to(torch_dtype).train()
    batch = collate(
        from_frames(
            frames.subset(np.arange(batch_size)), model.r_max, torch_dtype, labels=True
        )
    )
    settings = TrainConfig(batch_size=batch_size, lr=1e-4, dtype=dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)

    def step():
        train_step(model, optimizer, batch, settings)

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    return {
        "batch_size": batch_size,
        "ms_per_step": 1e3 * seconds,
        "frames_per_s": batch_size / seconds,
    }


def run_one(family, dtype, args):
    import torch

    from mlpot.data import read_frames
    from mlpot.model import ModelConfig, build_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(ModelConfig(species=SPECIES, r_max=5.0, **MODEL_SIZES[family]))
    model = model.to(getattr(torch, dtype)).eval()
    result = {
        "family": family,
        "dtype": dtype,
        "parameters": sum(p.numel() for p in model.parameters()),
        "radial_table": not args.no_radial_table,
        "latency": {},
        "training": {},
    }
    for name, atoms in systems(args.data_dir).items():
        result["latency"][name] = calculator_latency(
            model, atoms, dtype, args.repeats, radial_table=not args.no_radial_table
        )
    for molecule in ("ethanol", "aspirin"):
        path = Path(args.data_dir) / f"rmd17_{molecule}_train_01.npz"
        if not path.is_file():
            continue
        frames = read_frames(path).subset(np.arange(32))
        result["training"][molecule] = [
            training_throughput(model, frames, batch_size, dtype, args.steps)
            for batch_size in (5, 32)
        ]
    result["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def machine_speed() -> dict:
    """Times of two fixed workloads, in ms, on one thread.

    ``python_loop_ms``: a pure-Python loop of 10⁶ additions;
    ``small_torch_ops_ms``: 1000 additions of 3x3 tensors, bound by operator
    dispatch like a small-molecule force call.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    a = torch.ones(3, 3, dtype=torch.float64)

    def loop():
        total = 0
        for i in range(10**6):
            total += i

    def ops():
        x = a
        for _ in range(1000):
            x = x + a

    figures = {}
    for name, work in (("python_loop_ms", loop), ("small_torch_ops_ms", ops)):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            work()
            times.append(1e3 * (time.perf_counter() - start))
        figures[name] = float(np.median(times))
    torch.set_num_threads(threads)
    return figures


def table(results):
    names = list(results[0]["latency"])
    lines = [
        "| model | dtype | "
        + " | ".join(f"{n} ({results[0]['latency'][n]['atoms']})" for n in names)
        + " | outside model | train ethanol b5 / b32 | train aspirin b5 / b32"
        + " | peak MB |",
        "|" + " --- |" * (len(names) + 7),
    ]
    for r in results:
        latency = " | ".join(f"{r['latency'][n]['median_ms']:.1f} ms" for n in names)
        outside = max(v["outside_model_share"] for v in r["latency"].values())
        training = [
            " / ".join(f"{t['frames_per_s']:.0f}" for t in r["training"].get(m, []))
            or "n/a"
            for m in ("ethanol", "aspirin")
        ]
        lines.append(
            f"| {r['family']} ({r['parameters']:,} params) | {r['dtype']} "
            f"| {latency} | "
            f"≤ {100 * outside:.0f} % | {training[0]} fr/s | {training[1]} fr/s | "
            f"{r['peak_memory_mb']:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--families", nargs="+", default=list(MODEL_SIZES), choices=list(MODEL_SIZES)
    )
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--repeats", type=int, default=20, help="force calls per system"
    )
    parser.add_argument(
        "--steps", type=int, default=10, help="training steps per setting"
    )
    parser.add_argument(
        "--data-dir", default=str(REPO.parent / "shared" / "data" / "md17")
    )
    parser.add_argument(
        "--no-radial-table",
        action="store_true",
        help="calculators run the radial networks instead of tables",
    )
    parser.add_argument("--json", help="write all figures to this JSON file")
    parser.add_argument(
        "--one", nargs=2, metavar=("FAMILY", "DTYPE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_one(*args.one, args)))
        return
    import torch

    import mlpot

    speed_before = machine_speed()
    results = []
    for family in args.families:
        for dtype in args.dtypes:
            command = (
                [sys.executable, __file__, "--one", family, dtype]
                + [
                    f"--threads={args.threads}",
                    f"--repeats={args.repeats}",
                    f"--steps={args.steps}",
                    f"--data-dir={args.data_dir}",
                ]
                + (["--no-radial-table"] if args.no_radial_table else [])
            )
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    report = {
        "command": " ".join(["python", "benchmarks/benchmark.py"] + sys.argv[1:]),
        "torch_threads": args.threads,
        "versions": {
            "mlpot": mlpot.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": __import__("os").cpu_count(),
            "speed_before": speed_before,
            "speed_after": machine_speed(),
        },
        "results": results,
    }
    print(table(results))
    print(
        "machine speed before / after: "
        + ", ".join(
            f"{name} {report['machine']['speed_before'][name]:.1f} / "
            f"{report['machine']['speed_after'][name]:.1f}"
            for name in speed_before
        )
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
