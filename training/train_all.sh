#!/usr/bin/env bash
# Train, or continue, every shipped model; then ship each (models/NAME.ckpt + card).
# The ethane recipes read data made by training/ethane-data.sh (run it first).
# Each recipe has a total time budget (train.max_time), so running this again after
# an interruption picks up where it stopped.
#   training/train_all.sh                       # all shipped models
#   training/train_all.sh ethanol-equivariant   # one of them
set -euo pipefail
cd "$(dirname "$0")/.."
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(ethanol-equivariant ethanol-invariant ethane-equivariant ethane-invariant
         toluene-equivariant toluene-invariant aspirin-equivariant aspirin-invariant)
fi
for name in "${names[@]}"; do
  threads=()   # recipes with a CPU-time budget were measured at one torch thread
  if grep -q '^ *budget_clock: *cpu' "training/$name.yaml"; then threads=(OMP_NUM_THREADS=1); fi
  if [ -f "runs/$name/config.yaml" ]; then
    env "${threads[@]}" mlpot-train --resume "runs/$name" --quiet
  else
    env "${threads[@]}" mlpot-train "training/$name.yaml" --quiet
  fi
  training/ship.sh "$name" || [ $? -eq 3 ]   # 3: the shipped model was better, and stays
done
