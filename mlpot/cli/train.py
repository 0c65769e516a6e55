"""``mlpot-train``: train a potential from a YAML config, or resume a run.

Examples
--------
::

    mlpot-train training/example-ethanol-small.yaml --set train.max_epochs=20
    mlpot-train training/example-ethanol-small.yaml --set output=runs/a train.seed=1
    mlpot-train --resume runs/a --set train.max_epochs=200
"""

import argparse
import json
import sys
from typing import List, Optional

from mlpot.fileio import LockHeldError
from mlpot.model.io import read_checkpoint
from mlpot.train import fit, load_config, load_resume_config
from mlpot.train.config_files import RESUME_OVERRIDES


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-train``; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 on an error in the config or data, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.help_config:
        from mlpot.train.config_reference import config_reference

        print(config_reference(), end="")
        return 0
    if (args.config is None) == (args.resume is None):
        parser.error("give either CONFIG.yaml or --resume RUN_DIR")
    overrides = list(args.overrides)
    if args.quiet:
        overrides.append("train.quiet=true")
    resume = args.resume is not None
    run_dir = args.resume or "RUN_DIR"
    try:
        if resume:
            config = load_resume_config(args.resume, overrides)
        else:
            config = load_config(args.config, overrides)
        run_dir = config.output
        best = fit(config, resume=resume, command=["mlpot-train", *argv])
    except (ValueError, OSError, LockHeldError) as error:
        print(f"mlpot-train: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nmlpot-train: interrupted; continue with "
            f"`mlpot-train --resume {run_dir}`",
            file=sys.stderr,
        )
        return 130
    if not config.train.quiet:
        _print_summary(best)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpot-train",
        description="Train an mlpot potential on energies and forces.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="YAML run config (sections data, model, train, output)",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last completed epoch",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="SECTION.KEY=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="override config values (YAML syntax), e.g. train.lr=1e-3; when "
        f"resuming only {', '.join(RESUME_OVERRIDES)}",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar or summary (for CI)"
    )
    parser.add_argument(
        "--help-config",
        action="store_true",
        help="print every config key with its type, default and meaning, and exit",
    )
    return parser


def _print_summary(best) -> None:
    if best.is_dir():  # a committee: one summary per member
        from mlpot.model.committee import COMMITTEE_FILE

        members = json.loads((best / COMMITTEE_FILE).read_text())["members"]
        print(f"committee of {len(members)} members: {best}")
        for member in members:
            _print_summary(best / member)
        return
    metadata = read_checkpoint(best)["metadata"]
    print(
        f"best checkpoint: {best} (epoch {metadata['best_epoch']} of "
        f"{metadata['epochs_run']}, stopped: {metadata['stopped_because']})"
    )
    for split, errors in metadata["metrics"].items():
        print(
            f"{split:>5}: energy MAE {errors['energy_mae_meV']:.4g} meV, "
            f"RMSE {errors['energy_rmse_meV']:.4g} meV; forces MAE "
            f"{errors['forces_mae_meV_per_A']:.4g} meV/Å, "
            f"RMSE {errors['forces_rmse_meV_per_A']:.4g} meV/Å"
        )


if __name__ == "__main__":
    sys.exit(main())
