#!/usr/bin/env bash
# Out-of-distribution frames for the ethanol committee's calibration: a committee
# of the training/ethanol-committee.yaml recipe (4 members, 5 CPU minutes each)
# trained on the 800 lowest-energy frames of the rMD17 ethanol training file
# (750 train + 50 validation), to be scored on the 200 highest-energy training
# frames and on the test frames above its highest training energy, beside the
# test frames within it (training/card.sh ethanol-committee does the scoring).
# Rerunning resumes.
#   OMP_NUM_THREADS=1 training/ethanol-committee-ood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/ethanol-committee-ood
mkdir -p "$out/data"
python - "$out/data" <<'PY'
import sys
from pathlib import Path

from mlpot.analysis.learning import energy_split
from mlpot.data import read_frames, write_store

folder = Path(sys.argv[1])
if not (folder / "test-above.h5").is_file():
    shared = Path("../shared/data/md17")
    train = read_frames(shared / "rmd17_ethanol_train_01.npz")
    test = read_frames(shared / "rmd17_ethanol_test_01.npz")
    low, high = energy_split(train.energy, 0.8)
    write_store(folder / "lowest-0.8.h5", train.subset(low))
    write_store(folder / "highest-0.2.h5", train.subset(high))
    within = test.energy <= train.energy[low].max()
    write_store(folder / "test-within.h5", test.subset(within.nonzero()[0]))
    write_store(folder / "test-above.h5", test.subset((~within).nonzero()[0]))
PY
if [ -f "$out/lowest-0.8/config.yaml" ]; then
  mlpot-train --resume "$out/lowest-0.8" --quiet
else
  mlpot-train training/ethanol-committee.yaml --quiet --set \
    data.train="$out/data/lowest-0.8.h5" data.test="$out/data/test-within.h5" \
    data.energy_unit=eV data.n_train=750 data.n_val=50 train.max_time=300 \
    output="$out/lowest-0.8"
fi
