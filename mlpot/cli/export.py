"""``mlpot-export``: compile a checkpoint ahead of time for calculators and engines.

The export is an AOTInductor package (``torch.export`` of the energy, forces
and stress of one structure, compiled to native code; see `mlpot.export`).
Open it with ``mlpot.load_calculator(OUT)`` or ``MLPotCalculator(OUT)``; the
LAMMPS coupling (``examples/lammps/md.py``) runs it too.

Examples
--------
::

    mlpot-export models/ethanol-equivariant.ckpt -o ethanol.pt2
    mlpot-export models/aspirin-equivariant.ckpt -o aspirin-f32.pt2 --dtype float32
"""

import argparse
import sys
import time
from typing import List, Optional

from mlpot._version import __version__

FORMATS = ("aotinductor",)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-export``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mlpot-export", description=__doc__.splitlines()[0].strip("`: ")
    )
    parser.add_argument("checkpoint", help="checkpoint of one model (.ckpt)")
    parser.add_argument("-o", "--output", required=True, help="exported file (.pt2)")
    parser.add_argument(
        "--format",
        default="aotinductor",
        choices=FORMATS,
        help="aotinductor: torch.export compiled by AOTInductor (the one format; "
        "TorchScript is not needed by any engine mlpot couples to)",
    )
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument(
        "--no-radial-table",
        action="store_true",
        help="compile the radial networks instead of their tables",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT")
    parser.add_argument("--version", action="version", version=f"mlpot {__version__}")
    args = parser.parse_args(argv)

    from mlpot.export import ExportError, export_model
    from mlpot.model.committee import is_committee

    if is_committee(args.checkpoint):
        print(
            f"mlpot-export: error: {args.checkpoint} is a committee folder; export "
            "each member's checkpoint on its own",
            file=sys.stderr,
        )
        return 1
    start = time.perf_counter()
    try:
        path = export_model(
            args.checkpoint,
            args.output,
            dtype=args.dtype,
            radial_table=not args.no_radial_table,
            overwrite=args.overwrite,
        )
    except (ValueError, OSError, ExportError) as error:
        print(f"mlpot-export: error: {error}", file=sys.stderr)
        return 1
    print(
        f"mlpot-export: wrote {path} ({args.format}, {args.dtype}) in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
