"""Force-call time of the compiled (``mlpot-export``) against the eager calculator.

For each shipped model and system, the model is exported once (AOTInductor,
``mlpot.export``; the compile time is reported), then the eager and the
compiled calculators are timed interleaved, in rounds, one torch thread: per
call the median CPU time of ``atoms.get_forces()`` after moving every atom by
about 0.002 Å (as in MD), and the largest difference of their forces and
energies on the same positions.

::

    OMP_NUM_THREADS=1 python benchmarks/compiled_latency.py --json compiled.json
    python benchmarks/compiled_latency.py --dtype float32 --systems ethanol aspirin

Run it with nothing else on the machine: the figures are CPU times, but two
processes on two cores still slow each other through shared caches.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

# system name in benchmark.systems() -> shipped model evaluating it
SYSTEM_MODELS = {
    "ethanol": "ethanol-equivariant",
    "aspirin": "aspirin-equivariant",
    "27 ethanol": "ethanol-equivariant",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEM_MODELS))
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=10, help="timed calls per round")
    parser.add_argument(
        "--exports", default="runs/export", help="folder of the exports"
    )
    parser.add_argument(
        "--data-dir", default=str(REPO.parent / "shared" / "data" / "md17")
    )
    parser.add_argument("--json", help="write the figures here too")
    return parser.parse_args(argv)


def cpu_ms_per_call(atoms, calls: int) -> list:
    """CPU ms of each of ``calls`` force calls, after a move of about 0.002 Å each."""
    rng = np.random.default_rng(0)
    times = []
    for _ in range(calls):
        atoms.positions += rng.normal(scale=0.001, size=atoms.positions.shape)
        start = time.process_time()
        atoms.get_forces()
        times.append(1000 * (time.process_time() - start))
    return times


def main(argv=None) -> int:
    from benchmark import systems

    from mlpot import load_calculator
    from mlpot.export import export_model
    from mlpot.pretrained_models import pretrained_path

    args = parse_args(argv)
    torch.set_num_threads(1)
    found = systems(args.data_dir)
    rows = []
    exports = {}
    for name in args.systems:
        model = SYSTEM_MODELS[name]
        path = Path(args.exports) / f"{model}-{args.dtype}.pt2"
        if model not in exports:
            start = time.perf_counter()
            if not path.is_file():
                export_model(pretrained_path(model), path, dtype=args.dtype)
            exports[model] = (path, time.perf_counter() - start)
        atoms = found[name]
        eager = load_calculator(pretrained_path(model), dtype=args.dtype, num_threads=1)
        compiled = load_calculator(path, dtype=args.dtype, num_threads=1)
        copies = {"eager": atoms.copy(), "compiled": atoms.copy()}
        copies["eager"].calc, copies["compiled"].calc = eager, compiled
        reference = atoms.copy()
        forces = {}
        for label, calc in (("eager", eager), ("compiled", compiled)):
            reference.calc = calc
            forces[label] = (reference.get_potential_energy(), reference.get_forces())
        times = {"eager": [], "compiled": []}
        for label in times:  # warm-up
            cpu_ms_per_call(copies[label], 3)
        for _ in range(args.rounds):
            for label in times:
                times[label] += cpu_ms_per_call(copies[label], args.calls)
        row = {
            "system": name,
            "atoms": len(atoms),
            "model": model,
            "dtype": args.dtype,
            "eager_ms": float(np.median(times["eager"])),
            "compiled_ms": float(np.median(times["compiled"])),
            "max_force_difference": float(
                np.abs(forces["eager"][1] - forces["compiled"][1]).max()
            ),
            "energy_difference": float(abs(forces["eager"][0] - forces["compiled"][0])),
            "export_s": round(exports[model][1], 1),
        }
        row["ratio"] = row["compiled_ms"] / row["eager_ms"]
        rows.append(row)
        print(
            f"{name:12s} {len(atoms):5d} atoms  eager {row['eager_ms']:8.2f} ms  "
            f"compiled {row['compiled_ms']:8.2f} ms  ({row['ratio']:.2f}x)  "
            f"|dF| {row['max_force_difference']:.1e} eV/Å  |dE| "
            f"{row['energy_difference']:.1e} eV  export {row['export_s']:.0f} s",
            flush=True,
        )
    if args.json:
        meta = {"torch": torch.__version__, "threads": 1, "rows": rows}
        Path(args.json).write_text(json.dumps(meta, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
