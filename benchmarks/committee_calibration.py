"""Calibration of a committee's force spread, in and out of distribution.

Fits the calibration factor on validation frames, then reports, for each
frame set, the Spearman rank correlation between predicted per-atom force
spread and true force error, the calibration curve, and a figure::

    python benchmarks/committee_calibration.py runs/ethanol-committee \\
        --set test=../shared/data/md17/rmd17_ethanol_test_01.npz:0:200 \\
        --set hot=hot_frames.xyz --json calibration.json --figure calibration.png

A frame set is ``NAME=FILE[:START:STOP]`` (a slice of the file's frames).
The factor is fitted on the validation frames the members were trained with
(from their checkpoints), or on ``--val FILE[:START:STOP]``. For each set the
rank correlation is also given for committees of the first 2, 3, … members,
which shows whether more members would help.
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
    member_forces,
    rank_correlation,
    rank_correlation_by_size,
    spread_and_error,
    spread_and_error_of,
)
from mlpot.data import read_frames
from mlpot.model.committee import COMMITTEE_FILE
from mlpot.model.io import read_checkpoint


def frame_set(text: str):
    """``FILE[:START:STOP]`` → (frames, indices)."""
    path, *bounds = text.split(":")
    frames = read_frames(path)
    start, stop = (int(b) for b in bounds) if bounds else (0, len(frames))
    return frames, range(start, min(stop, len(frames)))


def validation_frames(committee):
    """The validation frames of the committee's members: (frames, indices)."""
    record = json.loads((Path(committee) / COMMITTEE_FILE).read_text())
    metadata = read_checkpoint(Path(committee) / record["members"][0])["metadata"]
    data = metadata["config"]["data"]
    labels = {key: data.get(key) for key in ("energy_unit", "energy_key", "forces_key")}
    if data.get("val"):
        frames = read_frames(data["val"], **labels)
        return frames, range(len(frames))
    frames = read_frames(data["train"], **labels)
    # The split records frame ids, which are positions only in unsubsetted files.
    position = {int(frame_id): k for k, frame_id in enumerate(frames.frame_ids)}
    return frames, [position[int(frame_id)] for frame_id in metadata["split"]["val"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("committee", help="committee folder")
    parser.add_argument(
        "--val",
        help="FILE[:START:STOP] to fit the factor on (default: the members' "
        "validation frames)",
    )
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="NAME=FILE"
    )
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument(
        "--note", help="what the committee is, for the card (e.g. its training data)"
    )
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--figure", help="calibration curves (PNG)")
    args = parser.parse_args(argv)
    calculator = load_calculator(args.committee)
    validation = frame_set(args.val) if args.val else validation_frames(args.committee)
    scale = calibration_scale(*spread_and_error(calculator, *validation))
    fitted_on = args.val or f"the members' {len(validation[1])} validation frames"
    results = {
        "committee": args.committee,
        "members": len(calculator.model.members),
        "scale": scale,
        "fitted_on": fitted_on,
        "note": args.note,
        "json": args.json,
        "command": " ".join(
            ["python", "benchmarks/committee_calibration.py"]
            + list(sys.argv[1:] if argv is None else argv)
        ),
        "sets": {},
    }
    curves = {}
    print(f"calibration factor (fitted on {fitted_on}): {scale:.3f}")
    print(
        "| frames | atoms | rank correlation | by members (2, 3, …) "
        "| mean spread × factor | RMS error |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for item in args.sets:
        name, _, source = item.partition("=")
        members, reference = member_forces(calculator, *frame_set(source))
        spread, error = spread_and_error_of(members, reference)
        curves[name] = calibration_curve(spread, error, args.bins)
        results["sets"][name] = {
            "source": source,
            "atoms": int(len(spread)),
            "rank_correlation": rank_correlation(spread, error),
            "rank_correlation_by_members": rank_correlation_by_size(members, reference),
            "mean_scaled_spread_eV_per_A": float(scale * spread.mean()),
            "rms_error_eV_per_A": float(np.sqrt(np.mean(error**2))),
            "curve": curves[name],
        }
        row = results["sets"][name]
        by_members = ", ".join(
            f"{value:.3f}" for value in row["rank_correlation_by_members"].values()
        )
        print(
            f"| {name} | {row['atoms']} | {row['rank_correlation']:.3f} "
            f"| {by_members} | {row['mean_scaled_spread_eV_per_A']:.4f} "
            f"| {row['rms_error_eV_per_A']:.4f} |",
            flush=True,
        )
    if args.figure:
        calibration_figure(Path(args.figure), curves, scale)
        results["figure"] = Path(args.figure).name
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
