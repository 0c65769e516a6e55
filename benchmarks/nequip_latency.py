"""ASE force-call latency of NequIP's own calculator (pip package ``nequip``).

Companion of mlpot's ``benchmarks/benchmark.py``: the systems come from its
``systems(data_dir)`` and the timing from ``mlpot.timing.force_call_latency``
(median wall time of ``atoms.get_forces()`` after moving every atom by about
0.002 Å), both imported from the mlpot checkout, so the figures are directly
comparable with mlpot's calculators measured the same day.

The model is NequIP's default size (lmax 1, 32 features, 4 interaction layers,
r_max 5 Å, radial MLP 64 x 2, 8 Bessel functions, polynomial cutoff p=6,
gate nonlinearities silu/tanh, self-connection on), species H C N O, float64,
randomly initialised with a fixed seed. It is prepared exactly the way a NequIP
user gets it: ``nequip-deploy build`` (``nequip.scripts.deploy.main``, i.e.
``model_from_config`` + ``_compile_for_deploy`` + metadata) writes a deployed
TorchScript file, and ``NequIPCalculator.from_deployed_model`` loads it
(TorchScript freeze, NequIP's JIT fusion settings, its default ASE neighbour
list).

NequIP 0.6.2 needs e3nn < 0.6, so it lives in its own virtual environment
that sees this one's torch (pinned, so pip does not fetch another build):

    python -m venv --system-site-packages .venv-nequip
    .venv-nequip/bin/pip install nequip==0.6.2 torch==2.13.0
    .venv-nequip/bin/python benchmarks/nequip_latency.py --json nequip.json
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Noise from TorchScript compiling e3nn/NequIP modules and NequIP's CUDA notice.
warnings.filterwarnings("ignore", message="The TorchScript type system")
warnings.filterwarnings("ignore", message=".*PyTorch version .* found")
warnings.filterwarnings(
    "ignore", message="Do NOT manually set PYTORCH_JIT_USE_NNC_NOT_NVFUSER"
)

SYSTEMS = ["ethanol", "aspirin", "27 ethanol", "64 water (periodic)"]
SPECIES = ["H", "C", "N", "O"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=20, help="timed get_forces() calls per system"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="untimed calls first (force_call_latency's default: 3)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random initialisation"
    )
    parser.add_argument(
        "--data-dir",
        default=str(REPO.parent / "shared" / "data" / "md17"),
        help="rMD17 npz files",
    )
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--systems", nargs="+", default=SYSTEMS, help="names from benchmark.systems()"
    )
    parser.add_argument(
        "--stress-output",
        action="store_true",
        help="use nequip 0.6's default output builder StressForceOutput (forces "
        "and stress) instead of ForceOutput (forces only, the default here)",
    )
    parser.add_argument(
        "--no-fd-check",
        action="store_true",
        help="skip the finite-difference force check",
    )
    return parser.parse_args()


def import_mlpot_benchmark():
    """``systems`` of benchmarks/benchmark.py and mlpot's ``force_call_latency``."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import mlpot  # noqa: F401  (normally installed in editable mode)
    except ImportError:
        sys.path.insert(0, str(REPO))
    from benchmark import systems

    from mlpot.timing import force_call_latency

    return systems, force_call_latency


def nequip_config(stress_output):
    """NequIP's default size (its configs/example.yaml), r_max 5 Å, float64."""
    return dict(
        model_builders=[
            "SimpleIrrepsConfig",
            "EnergyModel",
            "PerSpeciesRescale",
            "StressForceOutput" if stress_output else "ForceOutput",
            "RescaleEnergyEtc",
        ],
        r_max=5.0,
        num_layers=4,
        l_max=1,
        parity=True,
        num_features=32,
        nonlinearity_type="gate",
        resnet=False,
        nonlinearity_scalars={"e": "silu", "o": "tanh"},
        nonlinearity_gates={"e": "silu", "o": "tanh"},
        num_basis=8,
        BesselBasis_trainable=True,
        PolynomialCutoff_p=6,
        invariant_layers=2,
        invariant_neurons=64,
        # "auto" needs a training set; the value only scales the messages
        # (no effect on cost). 10 is about ethanol's mean at 5 Å.
        avg_num_neighbors=10.0,
        use_sc=True,
        chemical_symbols=SPECIES,
        default_dtype="float64",
        model_dtype="float64",
    )


def count_parameters(config, seed):
    """Parameters of the (uncompiled) model, as nequip-deploy builds it."""
    import torch
    from nequip.model import model_from_config
    from nequip.utils import Config

    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = model_from_config(
            Config.from_dict(dict(config)), initialize=False, deploy=True
        )
    finally:
        torch.set_default_dtype(previous)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def deploy(config, seed, out_file):
    """``nequip-deploy build --model config.yaml out_file`` with random weights."""
    import torch
    import yaml
    from nequip.scripts import deploy as nequip_deploy

    config_file = Path(out_file).with_suffix(".yaml")
    config_file.write_text(yaml.dump(config))
    torch.manual_seed(seed)
    nequip_deploy.main(
        ["--verbose", "WARNING", "build", "--model", str(config_file), str(out_file)]
    )


def make_calculator_class():
    from nequip.ase import NequIPCalculator

    class TimedNequIPCalculator(NequIPCalculator):
        """NequIP's calculator, unchanged, with the model call routed through
        ``_evaluate`` so that ``force_call_latency`` can time the share spent
        outside the model (neighbour list, AtomicData, conversions)."""

        def __init__(self, model, **kwargs):
            super().__init__(model=model, **kwargs)
            self._model = self.model
            self.model = lambda data: self._evaluate(data)

        def _evaluate(self, data):
            return self._model(data)

    return TimedNequIPCalculator


def finite_difference_check(calculator, atoms, step=1e-4):
    """Max |F + dE/dx| over all coordinates (central differences)."""
    atoms = atoms.copy()
    atoms.calc = calculator
    forces = atoms.get_forces().copy()
    start = atoms.positions.copy()
    numeric = np.zeros_like(forces)
    for i in range(len(atoms)):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                moved = start.copy()
                moved[i, k] += sign * step
                atoms.positions = moved
                energies.append(atoms.get_potential_energy())
            numeric[i, k] = -(energies[0] - energies[1]) / (2 * step)
    return float(np.abs(forces - numeric).max()), float(np.abs(forces).max())


def main():
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    systems, force_call_latency = import_mlpot_benchmark()

    import ase
    import e3nn
    import nequip

    config = nequip_config(args.stress_output)
    n_params, n_trainable = count_parameters(config, args.seed)
    print(
        f"nequip {nequip.__version__}, e3nn {e3nn.__version__}, "
        f"torch {torch.__version__}, ase {ase.__version__}; "
        f"threads {torch.get_num_threads()}, float64, "
        f"output {'StressForceOutput' if args.stress_output else 'ForceOutput'}, "
        f"neighbour list NEQUIP_NL={os.environ.get('NEQUIP_NL', 'ase')}"
    )
    print(f"parameters: {n_params} ({n_params / 1e3:.1f} k), trainable {n_trainable}")

    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "deployed.pth"
        start = time.perf_counter()
        deploy(config, args.seed, model_file)
        Calculator = make_calculator_class()
        calculator = Calculator.from_deployed_model(
            str(model_file),
            device="cpu",
            species_to_type_name={s: s for s in SPECIES},
            set_global_options=True,
        )
        print(f"deploy + load: {time.perf_counter() - start:.1f} s")
    torch.set_num_threads(args.threads)  # in case loading touched it

    found = systems(args.data_dir)
    missing = [name for name in args.systems if name not in found]
    if missing:
        print(f"missing systems (skipped): {missing}")

    result = {
        "code": "nequip",
        "nequip_version": nequip.__version__,
        "e3nn_version": e3nn.__version__,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "dtype": "float64",
        "output": "StressForceOutput" if args.stress_output else "ForceOutput",
        "parameters": n_params,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": args.seed,
        "latency": {},
    }

    if not args.no_fd_check and "ethanol" in found:
        error, scale = finite_difference_check(calculator, found["ethanol"])
        print(
            "finite-difference check (ethanol): "
            f"max |F + dE/dx| = {error:.2e} eV/Å (max |F| = {scale:.2e})"
        )
        result["fd_max_error"] = error
        result["fd_max_force"] = scale

    for name in args.systems:
        if name not in found:
            continue
        timing = force_call_latency(
            calculator, found[name], repeats=args.repeats, warmup=args.warmup
        )
        result["latency"][name] = timing
        print(
            f"{name:22s} {timing['atoms']:4d} atoms  {timing['median_ms']:8.2f} ms  "
            f"(outside model {100 * timing['outside_model_share']:.0f} %)",
            flush=True,
        )
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
