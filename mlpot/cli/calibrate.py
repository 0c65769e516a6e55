"""``mlpot-calibrate``: calibrate a committee's force spread, in and out of domain.

Fits the calibration factor on validation frames, then reports, for each
frame set, the Spearman rank correlation between predicted per-atom force
spread and true force error, the calibration curve, and a figure::

    mlpot-calibrate runs/ethanol-committee \\
        --set test=../shared/data/md17/rmd17_ethanol_test_01.npz:0:200 \\
        --set hot=hot_frames.xyz --json calibration.json --figure calibration.png
    mlpot-calibrate models/my-committee --val val.xyz --set test=test.xyz \\
        --energy-key REF_energy --forces-key REF_forces

A frame set is ``NAME=FILE[:START:STOP]`` (a slice of the file's frames).
The factor is fitted on the validation frames the members were trained with
(from their checkpoints), or on ``--val FILE[:START:STOP]``. For each set the
rank correlation is also given for committees of the first 2, 3, … members,
which shows whether more members would help. ``--energy-key``,
``--forces-key`` and ``--energy-unit`` apply to every file named here.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

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
from mlpot.cli.data import add_key_options
from mlpot.data import read_frames
from mlpot.fileio import atomic_path
from mlpot.model.committee import member_paths
from mlpot.model.io import read_checkpoint


def frame_set(text: str, **labels):
    """``FILE[:START:STOP]`` → (frames, indices); ``labels`` go to `read_frames`."""
    path, *bounds = text.split(":")
    if bounds and len(bounds) != 2:
        raise ValueError(f"{text}: give FILE or FILE:START:STOP")
    frames = read_frames(path, **labels)
    try:
        start, stop = (int(b) for b in bounds) if bounds else (0, len(frames))
    except ValueError:
        raise ValueError(f"{text}: START and STOP must be integers") from None
    return frames, range(start, min(stop, len(frames)))


def validation_frames(committee):
    """The validation frames of the committee's members: (frames, indices)."""
    metadata = read_checkpoint(member_paths(committee)[0])["metadata"]
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
    """Run ``mlpot-calibrate``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mlpot-calibrate", description=__doc__.split("\n")[0].strip("`: ")
    )
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
    parser.add_argument(
        "--energy-unit", help="energy unit of the files (default: the reader's)"
    )
    add_key_options(parser)
    args = parser.parse_args(argv)
    try:
        return _calibrate(args, argv)
    except (ValueError, OSError) as error:
        print(f"mlpot-calibrate: error: {error}", file=sys.stderr)
        return 1


def _calibrate(args, argv) -> int:
    from mlpot import load_calculator
    from mlpot.model.committee import is_committee

    if not is_committee(args.committee):
        raise ValueError(
            f"{args.committee} is not a committee folder (no committee.json); "
            "calibration needs a committee's spread"
        )
    labels = {
        "energy_unit": args.energy_unit,
        "energy_key": args.energy_key,
        "forces_key": args.forces_key,
    }
    for item in args.sets:
        if "=" not in item:
            raise ValueError(f"--set {item}: give NAME=FILE[:START:STOP]")
    calculator = load_calculator(args.committee)
    validation = (
        frame_set(args.val, **labels) if args.val else validation_frames(args.committee)
    )
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
            ["mlpot-calibrate"] + list(sys.argv[1:] if argv is None else argv)
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
        members, reference = member_forces(calculator, *frame_set(source, **labels))
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
        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
