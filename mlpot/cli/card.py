"""``mlpot-card``: write the Markdown model card of a checkpoint.

The card is generated, never typed: data provenance, split and training
settings come from the checkpoint's metadata; test errors come from a fresh
evaluation on the test file the run recorded (the same code as ``mlpot-eval``);
latency and an optional MD check are measured on this machine.

Examples
--------
::

    mlpot-card models/ethanol-equivariant.ckpt           # models/ethanol-equivariant.md
    mlpot-card models/ethanol-equivariant.ckpt --md-ps 2 # with a 500 K Langevin check
    mlpot-card models/ethane-equivariant.ckpt --analysis runs/torsion/summary.json
    mlpot-card models/ethanol-committee --calibration calibration.json

A committee folder gets a committee card (``FOLDER.md`` beside the folder):
the mean's errors, each member's, the latency of the committee and of one
member, and the calibration figures of ``mlpot-calibrate``.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from mlpot.cards import calculator_latency, committee_card, model_card
from mlpot.data import read_frames
from mlpot.fileio import atomic_path
from mlpot.model.committee import is_committee, load_committee, member_paths
from mlpot.model.io import model_from_checkpoint, read_checkpoint
from mlpot.train.report import evaluate_file


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-card``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="mlpot-card", description=__doc__.splitlines()[0].strip("`: ")
    )
    parser.add_argument("checkpoint", help="checkpoint file or committee folder")
    parser.add_argument("-o", "--output", help="card path (default: CKPT with .md)")
    parser.add_argument("--test", help="test file (default: the run's data.test)")
    parser.add_argument("--recipe", help="training config to name in the card")
    parser.add_argument(
        "--name",
        help="the model's name in the card (default: the checkpoint's file name, "
        "or its run folder's name for a run's best.ckpt/last.ckpt)",
    )
    parser.add_argument(
        "--level-of-theory",
        help="reference method of the training data, e.g. 'PBE/def2-SVP' "
        "(default: what the data file records)",
    )
    parser.add_argument("--md-ps", type=float, default=0.0, help="Langevin check (ps)")
    parser.add_argument("--md-temperature", type=float, default=500.0, help="K")
    parser.add_argument("--json", help="also write the measured figures as JSON")
    parser.add_argument(
        "--analysis",
        metavar="SUMMARY.json",
        help="add the figures of an analysis run with the model, e.g. the "
        "summary.json of examples/ethane_torsion.py",
    )
    parser.add_argument(
        "--calibration",
        action="append",
        default=[],
        metavar="CALIBRATION.json",
        help="committees: a JSON of mlpot-calibrate (repeatable)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing OUTPUT that is not a model card",
    )
    args = parser.parse_args(argv)
    source = Path(args.checkpoint)
    output = Path(args.output or source.parent / f"{source.stem}.md")
    try:
        _check_output(output, source, args.overwrite)
        card, figures = (
            _committee_card(args) if is_committee(args.checkpoint) else _card(args)
        )
    except (OSError, ValueError) as error:
        print(f"mlpot-card: error: {error}", file=sys.stderr)
        return 1
    with atomic_path(output) as tmp:
        tmp.write_text(card)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def _check_output(output: Path, source: Path, overwrite: bool) -> None:
    """Refuse a card path that is the checkpoint, a folder, or a file that is no card.

    A card (Markdown whose first line is a heading) is rewritten; anything
    else needs ``--overwrite``, and the checkpoint itself is never replaced.
    """
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise ValueError(
            f"the card would replace the checkpoint {source}; give another path "
            "with -o CARD.md"
        )
    if output.is_dir():
        raise ValueError(f"{output} is a folder; give the card's file path with -o")
    if output.is_file() and not overwrite and not _is_card(output):
        raise ValueError(
            f"{output} exists and is not a model card; give another path with -o, "
            "or --overwrite to replace it"
        )


def _is_card(path: Path) -> bool:
    """Whether ``path`` holds Markdown that starts with a heading, as cards do."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().startswith("# ")
    except (UnicodeDecodeError, OSError):
        return False


def model_name(checkpoint, name: Optional[str] = None) -> str:
    """``name``, or the checkpoint's stem, or its run folder's name for a run's
    ``best.ckpt``/``last.ckpt``."""
    if name:
        return name
    path = Path(checkpoint).resolve()
    return path.parent.name if path.stem in ("best", "last") else path.stem


def _shown_path(checkpoint) -> str:
    """The checkpoint's path as a card shows it: ``models/NAME.ckpt`` for a
    shipped model, else relative to the working directory (a card names no
    folder of this machine)."""
    from mlpot.pretrained_models import PACKAGED_MODELS_DIR

    path = Path(checkpoint).resolve()
    if path.parent == PACKAGED_MODELS_DIR:
        return f"models/{path.name}"
    return os.path.relpath(path)


def _step(text: str) -> None:
    print(f"mlpot-card: {text} ...", file=sys.stderr, flush=True)


def _card(args):
    from mlpot.analysis.stability import langevin_bond_check
    from mlpot.calculator import CALCULATOR_FOR_FAMILY

    checkpoint = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(checkpoint, args.checkpoint)
    metadata = checkpoint["metadata"]
    data_config = metadata.get("config", {}).get("data", {}) or {}
    test = args.test or data_config.get("test")
    keys = {name: data_config.get(name) for name in ("energy_key", "forces_key")}
    if not test:
        raise ValueError(
            "the checkpoint records no test file; name one with --test FILE"
        )
    _step(f"evaluating on {test}")
    report = evaluate_file(model, test, checkpoint=args.checkpoint, **keys)
    first = read_frames(test, **keys).to_atoms(0)
    _step("timing force calls (float64, float32)")
    timings = {
        dtype: calculator_latency(model, first, dtype)
        for dtype in ("float64", "float32")
    }
    latency = {dtype: timing["median_ms"] for dtype, timing in timings.items()}
    call_threads = timings["float64"]["threads"]
    md_check = None
    if args.md_ps > 0:
        _step(f"{args.md_ps:g} ps of Langevin MD at {args.md_temperature:g} K")
        md_check = langevin_bond_check(
            first,
            CALCULATOR_FOR_FAMILY[checkpoint["model_family"]](model),
            temperature_K=args.md_temperature,
            duration_ps=args.md_ps,
        )
        md_check.update(temperature_K=args.md_temperature, duration_ps=args.md_ps)
    analysis = json.loads(Path(args.analysis).read_text()) if args.analysis else None
    card = model_card(
        checkpoint,
        model_name(args.checkpoint, args.name),
        report,
        latency,
        md_check,
        args.recipe,
        analysis,
        level_of_theory=args.level_of_theory,
        checkpoint_path=_shown_path(args.checkpoint),
        call_threads=call_threads,
    )
    figures = {
        "test": report,
        "latency_ms": latency,
        "call_threads": call_threads,
        "md_check": md_check,
    }
    if analysis:
        figures["analysis"] = analysis
    return card, figures


def _committee_card(args):
    checkpoints = [read_checkpoint(path) for path in member_paths(args.checkpoint)]
    committee = load_committee(args.checkpoint)
    data_config = checkpoints[0]["metadata"].get("config", {}).get("data", {}) or {}
    test = args.test or data_config.get("test")
    keys = {name: data_config.get(name) for name in ("energy_key", "forces_key")}
    if not test:
        raise ValueError("the members record no test file; name one with --test FILE")
    _step(f"evaluating the committee and its members on {test}")
    report = evaluate_file(committee, test, checkpoint=args.checkpoint, **keys)
    member_reports = [
        evaluate_file(member, test, checkpoint=str(path), **keys)
        for member, path in zip(
            committee.members, member_paths(args.checkpoint), strict=True
        )
    ]
    first = read_frames(test, **keys).to_atoms(0)
    _step("timing force calls of the committee and of one member (float64)")
    timings = {
        "committee, float64": calculator_latency(committee, first),
        "one member, float64": calculator_latency(committee.members[0], first),
    }
    latency = {label: timing["median_ms"] for label, timing in timings.items()}
    call_threads = timings["committee, float64"]["threads"]
    calibrations = [json.loads(Path(path).read_text()) for path in args.calibration]
    name = args.name or Path(args.checkpoint).resolve().name
    card = committee_card(
        checkpoints,
        name,
        report,
        member_reports,
        latency,
        calibrations,
        args.recipe,
        level_of_theory=args.level_of_theory,
        path=_shown_path(args.checkpoint),
        call_threads=call_threads,
    )
    figures = {
        "test": report,
        "members": member_reports,
        "latency_ms": {"float64": latency["committee, float64"], **latency},
        "call_threads": call_threads,
        "calibration": calibrations,
    }
    return card, figures
