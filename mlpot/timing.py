"""Time per force call of a calculator, and the share spent outside the model."""

import time
from typing import Dict

import numpy as np


def force_call_latency(calculator, atoms, repeats: int = 20, warmup: int = 3) -> Dict:
    """Median wall time of ``atoms.get_forces()`` after small moves, as in MD.

    Before each call every atom moves by about 0.002 Å, so the neighbour list
    is reused the way it is in MD.

    Parameters
    ----------
    calculator : mlpot.calculator.MLPotCalculator
    atoms : ase.Atoms
        Copied; the original is not moved.
    repeats : int
        Timed calls.
    warmup : int
        Untimed calls first.

    Returns
    -------
    dict
        ``atoms``, ``median_ms`` (per call) and ``outside_model_share``: the
        median fraction of a call spent outside the model evaluation
        (neighbour list, graph building, conversions).
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    inside = []
    evaluate = calculator._evaluate

    def timed_evaluate(*args, **kwargs):
        start = time.perf_counter()
        out = evaluate(*args, **kwargs)
        inside.append(time.perf_counter() - start)
        return out

    calculator._evaluate = timed_evaluate
    rng = np.random.default_rng(0)
    total = []
    try:
        for step in range(repeats + warmup):
            atoms.positions += rng.normal(scale=0.002, size=atoms.positions.shape)
            start = time.perf_counter()
            atoms.get_forces()
            if step >= warmup:
                total.append(time.perf_counter() - start)
    finally:
        del calculator._evaluate  # back to the class's method
    total, inside = np.array(total), np.array(inside[warmup:])
    return {
        "atoms": len(atoms),
        "median_ms": 1e3 * float(np.median(total)),
        "outside_model_share": float(np.median((total - inside) / total)),
    }
