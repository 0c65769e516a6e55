"""Is a run's best checkpoint better than the shipped model of the same name?

Scores ``runs/NAME/best.ckpt`` on the test file of the shipped model's card
(``models/NAME.json``) and compares force MAEs. Exit status 0 when the run is
better, or when nothing of that name is shipped yet; 3 when it is not, so that
``training/ship.sh`` keeps the shipped model unless asked otherwise; 1 on an
error.

    python training/better_than_shipped.py ethanol-equivariant
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_BETTER = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="model name: runs/NAME and models/NAME.json")
    args = parser.parse_args()
    card = ROOT / "models" / f"{args.name}.json"
    checkpoint = ROOT / "runs" / args.name / "best.ckpt"
    if not checkpoint.is_file():
        print(f"{checkpoint} does not exist: train the run first", file=sys.stderr)
        return 1
    if not card.is_file():
        print(f"no shipped {args.name} to compare with")
        return 0
    from mlpot.train.report import evaluate_file

    shipped = json.loads(card.read_text())["test"]
    data = shipped["data"]
    path = Path(data["path"])
    report = evaluate_file(
        checkpoint,
        path if path.is_absolute() else ROOT / path,
        energy_unit=data["energy_unit"],
        format=data["format"],
    )
    new = report["metrics"]["forces_mae_meV_per_A"]
    old = shipped["metrics"]["forces_mae_meV_per_A"]
    verdict = "better" if new < old else "not better"
    print(
        f"{args.name}: run {new:.2f} meV/Å against shipped {old:.2f} meV/Å "
        f"on {data['file']} ({verdict})"
    )
    return 0 if new < old else NOT_BETTER


if __name__ == "__main__":
    sys.exit(main())
