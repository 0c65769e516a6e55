"""Calibration of a committee's force spread, in and out of distribution.

Fits the calibration factor on validation frames, then reports, for each
frame set, the Spearman rank correlation between predicted per-atom force
spread and true force error, the calibration curve, and a figure::

    python benchmarks/committee_calibration.py runs/ethanol-committee \\
        --val ../shared/data/md17/rmd17_ethanol_train_01.npz:0:50 \\
        --set test=../shared/data/md17/rmd17_ethanol_test_01.npz:0:200 \\
        --set hot=hot_frames.xyz --json calibration.json --figure calibration.png

A frame set is ``NAME=FILE[:START:STOP]`` (a slice of the file's frames).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mlpot import load_calculator
from mlpot.analysis.calibration import (
    calibration_curve,
    calibration_figure,
    calibration_scale,
    rank_correlation,
    spread_and_error,
)
from mlpot.data import read_frames


def frame_set(text: str):
    """``FILE[:START:STOP]`` → (frames, indices)."""
    path, *bounds = text.split(":")
    frames = read_frames(path)
    start, stop = (int(b) for b in bounds) if bounds else (0, len(frames))
    return frames, range(start, min(stop, len(frames)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("committee", help="committee folder")
    parser.add_argument("--val", required=True, help="FILE[:START:STOP] to fit on")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="NAME=FILE"
    )
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--figure", help="calibration curves (PNG)")
    args = parser.parse_args(argv)
    calculator = load_calculator(args.committee)
    scale = calibration_scale(*spread_and_error(calculator, *frame_set(args.val)))
    results = {"committee": args.committee, "scale": scale, "sets": {}}
    curves = {}
    print(f"calibration factor (fitted on {args.val}): {scale:.3f}")
    print("| frames | atoms | rank correlation | mean spread × factor | RMS error |")
    print("| --- | --- | --- | --- | --- |")
    for item in args.sets:
        name, _, source = item.partition("=")
        spread, error = spread_and_error(calculator, *frame_set(source))
        curves[name] = calibration_curve(spread, error, args.bins)
        results["sets"][name] = {
            "source": source,
            "atoms": int(len(spread)),
            "rank_correlation": rank_correlation(spread, error),
            "mean_scaled_spread_eV_per_A": float(scale * spread.mean()),
            "rms_error_eV_per_A": float(np.sqrt(np.mean(error**2))),
            "curve": curves[name],
        }
        row = results["sets"][name]
        print(
            f"| {name} | {row['atoms']} | {row['rank_correlation']:.3f} "
            f"| {row['mean_scaled_spread_eV_per_A']:.4f} "
            f"| {row['rms_error_eV_per_A']:.4f} |"
        )
    if args.figure:
        calibration_figure(Path(args.figure), curves, scale)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
