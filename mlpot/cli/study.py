"""``mlpot-study``: the equivariant-vs-invariant study from one config.

Examples
--------
::

    mlpot-study examples/study/small.yaml --output studies/small
    mlpot-study examples/study/full.yaml      # continue it the same way
    mlpot-study examples/study/full.yaml --jobs 2   # two runs at a time

``--jobs N`` trains N runs at a time, each in its own process with one torch
thread (``OMP_NUM_THREADS=1``); on an N-core machine this is much faster than
one run at a time with N threads, since small molecules are bound by the number
of operations, not by arithmetic. Every run's checkpoints are the same as with
``--jobs 1`` (the default: one run after the other in this process, with
torch's usual threads). Each section is analysed in the main process as soon
as its runs are trained, and recorded in the folder's ``results.json``; a
recorded section is not run again, so a folder that kept only its
``results.json``, ``study.yaml`` and figures continues with the rest.
"""

import argparse
import json
import logging
import sys
import traceback
from typing import List, Optional

from mlpot.study import load_study_config, run_study
from mlpot.study.parallel import RunFailed
from mlpot.study.report import findings
from mlpot.study.run import RESULTS_FILE


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mlpot-study``; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 on an error in the config or data or in a training run,
        130 when interrupted.
    """
    args = _parser().parse_args(argv)
    logger = logging.getLogger("mlpot.study")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if not args.quiet else logging.WARNING)
    try:
        config = load_study_config(args.config)
        report = run_study(config, args.output, jobs=args.jobs)
    except RunFailed as error:
        if not isinstance(error.error, (ValueError, OSError)):
            # not a problem of the config or data: show where the worker failed
            traceback.print_exception(error.error, file=sys.stderr)
        print(f"mlpot-study: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"mlpot-study: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nmlpot-study: interrupted; run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    finally:
        logger.removeHandler(handler)
    print(f"report: {report}")
    if not args.quiet:
        results = json.loads((report.parent / RESULTS_FILE).read_text())
        print("\n".join(["", "Findings:", *findings(results)]))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpot-study",
        description="Equivariant vs invariant potentials: learning curves, "
        "accuracy against training time, high-energy generalisation, latent "
        "geometry and symmetry, written to a folder of figures and a Markdown "
        "report. Each run and each section are recorded in the folder's "
        "results.json when they finish; rerun the same command to continue an "
        "interrupted study.",
    )
    parser.add_argument(
        "config", help="study config (YAML), e.g. examples/study/small.yaml"
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="study folder (default: the config's output)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="train N runs at a time, each in its own process with one torch "
        "thread (OMP_NUM_THREADS=1); use the number of cores. Each run's "
        "checkpoints are the same as with 1 (default: 1, one run after the "
        "other in this process)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the report's path"
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
