"""Force-call latency of the shipped models, idle and beside a busy process.

Each measurement runs in a fresh Python process (OpenMP reads its settings
when torch loads), as ``atoms.calc = mlpot.pretrained(NAME)`` in a user's
script would:

- ``before``: the calculator with ``num_threads=None`` and no OpenMP wait
  policy, i.e. torch's defaults (one intra-op thread per core, spinning
  OpenMP threads);
- ``after``: the calculator as shipped (``num_threads="auto"``, and
  ``OMP_WAIT_POLICY=PASSIVE`` set by ``import mlpot``).

"loaded" runs the same measurement while one other process keeps a core busy
with single-threaded torch matrix products, as a training or a second MD run
would. Run it on an otherwise idle machine::

    python benchmarks/thread_policy.py --json benchmarks/thread_policy.json
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BUSY = (
    "import torch; torch.set_num_threads(1); a = torch.randn(400, 400)\n"
    "while True: a = torch.tanh(a @ a / 400)"
)
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "md17"
ETHANE_TEST = Path(__file__).resolve().parents[1] / "data/ethane/ethane-gfn2-test.h5"


def test_atoms(model_name: str, data_dir: Path):
    """The first test frame of a shipped model's molecule, or a cluster of 27."""
    from ase.build import molecule

    from mlpot.data import read_frames

    molecule_name = model_name.split("-")[0]
    if molecule_name == "ethane":
        return read_frames(ETHANE_TEST).to_atoms(0)
    path = data_dir / f"rmd17_{molecule_name}_test_01.npz"
    if path.is_file():
        return read_frames(path).to_atoms(0)
    return molecule({"ethanol": "CH3CH2OH"}.get(molecule_name, molecule_name))


def cluster(atoms, copies=3, spacing=6.0):
    """``copies**3`` copies of ``atoms`` on a cubic grid (a large free system)."""
    from ase import Atoms

    out = Atoms()
    for x in range(copies):
        for y in range(copies):
            for z in range(copies):
                moved = atoms.copy()
                moved.positions += [spacing * x, spacing * y, spacing * z]
                out += moved
    return out


def child(args) -> None:
    import mlpot
    from mlpot.timing import force_call_latency

    atoms = test_atoms(args.model, Path(args.data_dir))
    if args.cluster:
        atoms = cluster(atoms)
    threads = None if args.policy == "before" else "auto"
    calculator = mlpot.pretrained(args.model, num_threads=threads)
    result = force_call_latency(calculator, atoms, args.repeats)
    print(json.dumps({"atoms": len(atoms), "median_ms": result["median_ms"]}))


def measure(model, policy, loaded, args, large=False) -> dict:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        env.pop(name, None)
    if policy == "before":
        # Torch's own default; without it `import mlpot` would choose PASSIVE.
        env["OMP_WAIT_POLICY"] = "ACTIVE"
    busy = None
    if loaded:
        busy = subprocess.Popen(
            [sys.executable, "-c", BUSY],
            env={**env, "OMP_NUM_THREADS": "1"},
        )
        time.sleep(1.0)
    try:
        command = [
            sys.executable,
            __file__,
            "--child",
            model,
            "--policy",
            policy,
            "--repeats",
            str(args.repeats),
            "--data-dir",
            args.data_dir,
        ] + (["--cluster"] if large else [])
        out = subprocess.run(command, env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", help="default every shipped model")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--data-dir", default=str(SHARED_DATA))
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--policy", default="after", help=argparse.SUPPRESS)
    parser.add_argument("--cluster", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.model = args.child
        child(args)
        return 0
    import mlpot

    models = args.models or mlpot.list_models()
    cases = [(name, False) for name in models] + [("ethanol-equivariant", True)]
    rows = []
    print(
        "| model | atoms | idle, before | loaded, before | idle, after "
        "| loaded, after | loaded / idle, after |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, large in cases:
        row = {"model": name}
        for policy in ("before", "after"):
            for loaded in (False, True):
                key = f"{'loaded' if loaded else 'idle'}_{policy}_ms"
                result = measure(name, policy, loaded, args, large)
                row["atoms"], row[key] = result["atoms"], result["median_ms"]
        row["loaded_over_idle_after"] = row["loaded_after_ms"] / row["idle_after_ms"]
        rows.append(row)
        print(
            f"| {name} | {row['atoms']} | {row['idle_before_ms']:.1f} ms "
            f"| {row['loaded_before_ms']:.1f} ms | {row['idle_after_ms']:.1f} ms "
            f"| {row['loaded_after_ms']:.1f} ms "
            f"| {row['loaded_over_idle_after']:.2f} |",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
