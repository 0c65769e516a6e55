"""Score any ASE calculator on a test file: energy and force MAE, one script for all.

mlpot, NequIP and MACE models are each loaded as the ASE calculator their
package provides and scored by the same loop on the same extended XYZ test
frames (written by ``export_split.py``), so no package's own evaluation
convention enters the comparison. Only ASE, numpy and the scored package are
imported, so the script runs in each package's own virtualenv.

Example
-------
::

    .venv-nequip/bin/python benchmarks/peers/score.py nequip \\
        runs/peers/ethanol/nequip-deployed.pth runs/peers/ethanol/test.xyz \\
        --json benchmarks/peers/ethanol-nequip.json
"""

import argparse
import json
import os
import time
from pathlib import Path

import ase.io
import numpy as np

KINDS = ("mlpot", "nequip", "mace")


def calculator(kind: str, model: str, symbols):
    """The ASE calculator of ``kind`` for the model file ``model``."""
    if kind == "mlpot":
        from mlpot import load_calculator

        return load_calculator(model)
    if kind == "nequip":
        from nequip.ase import NequIPCalculator

        return NequIPCalculator.from_deployed_model(
            model, device="cpu", species_to_type_name={s: s for s in symbols}
        )
    if kind == "mace":
        from mace.calculators import MACECalculator

        return MACECalculator(model_paths=model, device="cpu", default_dtype="float64")
    raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


def errors(calc, frames) -> dict:
    """Energy (meV) and force (meV/Å) errors of ``calc`` on labelled frames.

    Returns
    -------
    dict
        ``frames``; ``energy_mae_meV``, ``energy_rmse_meV``,
        ``energy_mean_error_meV`` (the mean signed error: an offset common to
        all frames), ``forces_mae_meV_per_A``, ``forces_rmse_meV_per_A``
        (over all components) and ``cpu_ms_per_frame`` (process CPU time of
        the loop per frame).
    """
    energy_errors, force_errors = [], []
    start = time.process_time()
    for reference in frames:
        atoms = reference.copy()
        atoms.calc = calc
        energy_errors.append(
            atoms.get_potential_energy() - reference.get_potential_energy()
        )
        force_errors.append((atoms.get_forces() - reference.get_forces()).ravel())
    cpu_s = time.process_time() - start
    energy = 1e3 * np.asarray(energy_errors)
    forces = 1e3 * np.concatenate(force_errors)
    return {
        "frames": len(frames),
        "energy_mae_meV": float(np.mean(np.abs(energy))),
        "energy_rmse_meV": float(np.sqrt(np.mean(energy**2))),
        # a constant offset of every energy (no effect on forces or dynamics)
        "energy_mean_error_meV": float(np.mean(energy)),
        "forces_mae_meV_per_A": float(np.mean(np.abs(forces))),
        "forces_rmse_meV_per_A": float(np.sqrt(np.mean(forces**2))),
        "cpu_ms_per_frame": 1e3 * cpu_s / len(frames),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("model", help="mlpot checkpoint, deployed NequIP or MACE model")
    parser.add_argument("test", help="extended XYZ test frames with energy and forces")
    parser.add_argument("--json", help="write the scores here (with kind and model)")
    args = parser.parse_args(argv)
    frames = ase.io.read(args.test, index=":")
    symbols = sorted({s for atoms in frames for s in atoms.get_chemical_symbols()})
    scores = {"kind": args.kind, "model": args.model, "test": args.test}
    scores.update(errors(calculator(args.kind, args.model, symbols), frames))
    print(json.dumps(scores, indent=1))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.write_text(json.dumps(scores, indent=1) + "\n")
        os.replace(partial, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
