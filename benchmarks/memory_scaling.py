"""Peak memory and time of a force call against the number of atoms, periodic water.

Each point runs in a fresh process: a box of water at 1 g/cm³
(`mlpot.engines.systems.molecular_box`) is evaluated by a shipped model's
calculator (float64, periodic), twice; the peak resident memory of the process
(``ru_maxrss``) and the wall time of the second call are reported, with the
memory of the process before the first call subtracted (torch, the model).

::

    python benchmarks/memory_scaling.py --atoms 249 999 2187 4002 8001 \\
        --models ethanol-equivariant ethanol-invariant --json benchmarks/memory.json
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def measure(model: str, n_atoms: int, threads: int, edge_chunk=None) -> dict:
    """One point, in this process (call it in a fresh one)."""
    import torch
    from ase.build import molecule

    from mlpot import pretrained
    from mlpot.engines.systems import molecular_box

    torch.set_num_threads(threads)
    box = molecular_box(molecule("H2O"), n_atoms // 3, 1.0, seed=0)
    box.calc = pretrained(model, num_threads=threads)
    if edge_chunk is not None and hasattr(box.calc.model, "edge_chunk"):
        box.calc.model.edge_chunk = None if edge_chunk == "none" else int(edge_chunk)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    box.get_forces()
    box.positions += 1e-3
    start = time.perf_counter()
    box.get_forces()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    edges = int(len(box.calc.neighbours.lengths))
    return {
        "model": model,
        "atoms": len(box),
        "edges": edges,
        "peak_MB": (peak - base) / 1024,
        "MB_per_atom": (peak - base) / 1024 / len(box),
        "seconds_per_call": seconds,
        "threads": threads,
        "edge_chunk": getattr(box.calc.model, "edge_chunk", None),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[249, 999, 2187])
    parser.add_argument(
        "--models", nargs="+", default=["ethanol-equivariant", "ethanol-invariant"]
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--edge-chunk",
        help="equivariant models: edges per slice of the neighbour sums, or 'none' "
        "for one sum over all edges (default: the model's)",
    )
    parser.add_argument("--json")
    parser.add_argument(
        "--one", nargs=2, metavar=("MODEL", "ATOMS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.one:
        print(
            json.dumps(
                measure(args.one[0], int(args.one[1]), args.threads, args.edge_chunk)
            )
        )
        return 0
    rows = []
    for model in args.models:
        for n in args.atoms:
            command = [sys.executable, __file__, "--one", model, str(n)]
            command += ["--threads", str(args.threads)]
            if args.edge_chunk:
                command += ["--edge-chunk", args.edge_chunk]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                row = {"model": model, "atoms": n, "error": done.stderr.strip()[-300:]}
            else:
                row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
