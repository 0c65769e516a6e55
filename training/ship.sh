#!/usr/bin/env bash
# Copy a run's best checkpoint into models/ and write its model card. Equivariant
# models get a 2 ps Langevin check at 500 K; ethane models get the torsion analysis
# of examples/ethane_torsion.py (about 6 minutes) in their card.
#   training/ship.sh ethanol-equivariant
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
cp "runs/$name/best.ckpt" "models/$name.ckpt.tmp" && mv "models/$name.ckpt.tmp" "models/$name.ckpt"
extra=()
[[ $name == *-equivariant ]] && extra+=(--md-ps 2)
if [[ $name == ethane-* ]]; then
  python examples/ethane_torsion.py --model "models/$name.ckpt" --out "runs/$name-torsion"
  extra+=(--analysis "runs/$name-torsion/summary.json")
fi
mlpot-card "models/$name.ckpt" --recipe "training/$name.yaml" "${extra[@]}" --json "models/$name.json"
python training/models_table.py
