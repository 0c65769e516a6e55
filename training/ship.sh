#!/usr/bin/env bash
# Copy a run's best checkpoint into models/ (a committee run: its members'
# best checkpoints, into models/NAME/) and write its model card (card.sh).
# Ethane models first get the torsion analysis of examples/ethane_torsion.py
# (about 6 minutes), which their card shows.
#   training/ship.sh ethanol-equivariant
#   training/ship.sh ethanol-committee
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
if [ -f "runs/$name/committee.json" ]; then
  rm -rf "models/$name.old"
  if [ -d "models/$name" ]; then mv "models/$name" "models/$name.old"; fi
  python -c 'import sys; from mlpot.model.committee import copy_committee; copy_committee(*sys.argv[1:])' \
    "runs/$name" "models/$name"
  rm -rf "models/$name.old"
  training/card.sh "$name"
  exit
fi
cp "runs/$name/best.ckpt" "models/$name.ckpt.tmp" && mv "models/$name.ckpt.tmp" "models/$name.ckpt"
if [[ $name == ethane-* ]]; then
  python examples/ethane_torsion.py --model "models/$name.ckpt" --out "runs/$name-torsion"
fi
training/card.sh "$name"
