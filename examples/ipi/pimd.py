"""Path-integral MD of a molecule in i-PI, with mlpot clients serving the beads.

Writes an i-PI input (``input.xml``: NVT, PILE-L thermostat, ``--beads`` beads)
and the starting structure into ``--out``, starts ``i-pi`` and ``--clients``
force clients (`mlpot.engines.ipi`) on one UNIX socket, and waits for the run
to end. i-PI writes its properties (``simulation.out``: conserved quantity,
temperature, kinetic energy estimator, potential) and bead 0's positions and
forces (``simulation.pos_0.extxyz``, ``simulation.for_0.extxyz``, extended XYZ
in Å and eV/Å, full precision).

::

    pip install -e ".[ipi]"
    python examples/ipi/pimd.py --model ethanol-equivariant --beads 8 --steps 200 \\
        --out runs/ipi-ethanol
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

INPUT = """<simulation verbosity='low' safe_stride='{steps}'>
  <output prefix='simulation'>
    <properties stride='{stride}' filename='out'>
      [ step, time{{picosecond}}, conserved{{electronvolt}}, temperature{{kelvin}},
        kinetic_cv{{electronvolt}}, potential{{electronvolt}} ]
    </properties>
    <trajectory filename='pos' stride='{stride}' bead='0' format='ase'>
      positions </trajectory>
    <trajectory filename='for' stride='{stride}' bead='0' format='ase'>
      forces </trajectory>
    <checkpoint stride='{steps}'/>
  </output>
  <total_steps> {steps} </total_steps>
  <prng><seed> {seed} </seed></prng>
  <ffsocket name='mlpot' mode='unix' pbc='false'>
    <address> {address} </address>
    <latency> 1e-4 </latency>
  </ffsocket>
  <system>
    <initialize nbeads='{beads}'>
      <file mode='xyz' units='angstrom'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> {temperature} </velocities>
    </initialize>
    <forces><force forcefield='mlpot'/></forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> {timestep} </timestep>
        <thermostat mode='pile_l'><tau units='femtosecond'> 100 </tau></thermostat>
      </dynamics>
    </motion>
    <ensemble><temperature units='kelvin'> {temperature} </temperature></ensemble>
  </system>
</simulation>
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="shipped name, .ckpt or .pt2")
    parser.add_argument("--molecule", help="ase.build.molecule name or a file")
    parser.add_argument("--beads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--stride", type=int, default=1, help="steps between outputs")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--compiled", action="store_true")
    parser.add_argument("--seed", type=int, default=31415)
    parser.add_argument("--out", default="runs/ipi", help="run folder (must be new)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import ase.io

    from mlpot.engines.systems import molecule_for

    args = parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"pimd.py: {out} is not empty; choose a new --out", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    try:
        atoms = molecule_for(args.model, args.molecule)
    except ValueError as error:
        print(f"pimd.py: {error}", file=sys.stderr)
        return 1
    atoms.cell, atoms.pbc = [30.0, 30.0, 30.0], False
    atoms.center()
    ase.io.write(out / "init.xyz", atoms, format="extxyz")
    # i-PI reads the cell from the comment line of a plain xyz file.
    lines = (out / "init.xyz").read_text().splitlines()
    lines[1] = (
        "# CELL(abcABC): 30.0 30.0 30.0 90.0 90.0 90.0 positions{angstrom} "
        "cell{angstrom}"
    )
    lines[2:] = [" ".join(line.split()[:4]) for line in lines[2:]]
    (out / "init.xyz").write_text("\n".join(lines) + "\n")
    address = f"mlpot-{os.getpid()}"
    (out / "input.xml").write_text(
        INPUT.format(
            steps=args.steps,
            stride=args.stride,
            seed=args.seed,
            address=address,
            beads=args.beads,
            temperature=args.temperature,
            timestep=args.timestep,
        )
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    start = time.perf_counter()
    server = subprocess.Popen(
        ["i-pi", "input.xml"],
        cwd=out,
        stdout=open(out / "i-pi.log", "w"),
        env=env,
        stderr=subprocess.STDOUT,
    )
    time.sleep(3)  # i-PI opens its socket
    client = [sys.executable, "-m", "mlpot.engines.ipi", "--model", str(args.model)]
    client += ["--structure", str(out / "init.xyz"), "--address", address]
    client += ["--compiled"] if args.compiled else []
    clients = [
        subprocess.Popen(
            client,
            env=env,
            stdout=open(out / f"client-{k}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        for k in range(args.clients)
    ]
    status = server.wait()
    for process in clients:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    elapsed = time.perf_counter() - start
    if status != 0 or not (out / "simulation.out").is_file():
        print(f"pimd.py: i-PI failed; see {out / 'i-pi.log'}", file=sys.stderr)
        return 1
    print(
        f"pimd.py: {args.steps} steps of {args.beads} beads served by {args.clients} "
        f"clients in {elapsed:.1f} s; properties in {out / 'simulation.out'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
