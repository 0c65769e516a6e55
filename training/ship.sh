#!/usr/bin/env bash
# Copy a run's best checkpoint into models/ and write its model card (card.sh).
# Ethane models first get the torsion analysis of examples/ethane_torsion.py
# (about 6 minutes), which their card shows.
#   training/ship.sh ethanol-equivariant
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
cp "runs/$name/best.ckpt" "models/$name.ckpt.tmp" && mv "models/$name.ckpt.tmp" "models/$name.ckpt"
if [[ $name == ethane-* ]]; then
  python examples/ethane_torsion.py --model "models/$name.ckpt" --out "runs/$name-torsion"
fi
training/card.sh "$name"
