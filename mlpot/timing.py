"""Time per force call of a calculator, and the share spent outside the model."""

import time
from typing import Dict

import numpy as np
import torch


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
        ``atoms``, ``median_ms`` (per call), ``outside_model_share``: the
        median fraction of a call spent outside the model evaluation
        (neighbour list, graph building, conversions), and ``threads``: the
        torch intra-op threads the model ran on, read in one further,
        untimed call.
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
    threads = _threads_in_call(calculator, atoms)
    return {
        "atoms": len(atoms),
        "median_ms": 1e3 * float(np.median(total)),
        "outside_model_share": float(np.median((total - inside) / total)),
        "threads": threads,
    }


def _threads_in_call(calculator, atoms) -> int:
    """The most intra-op threads set while the calculator's model runs a call.

    A calculator whose ``model`` is not a torch module (another code's, which
    does not manage threads) runs on the process's setting.
    """
    model = getattr(calculator, "model", None)
    if not isinstance(model, torch.nn.Module):
        return torch.get_num_threads()
    seen = []
    hooks = [
        module.register_forward_pre_hook(
            lambda *_: seen.append(torch.get_num_threads())
        )
        for module in model.modules()
    ]
    try:
        atoms.positions += 1e-3  # a new call, not the cached result
        atoms.get_forces()
    finally:
        for hook in hooks:
            hook.remove()
    return max(seen)
