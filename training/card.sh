#!/usr/bin/env bash
# Write the model card of a shipped model (models/NAME.md and NAME.json): test
# errors, latency on this machine (run it on an idle machine), a 2 ps Langevin check
# at 500 K for equivariant models, and the torsion analysis that ship.sh left in
# runs/NAME-torsion/ for ethane models.
#   training/card.sh ethanol-equivariant
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
extra=()
[[ $name == *-equivariant ]] && extra+=(--md-ps 2)
summary="runs/$name-torsion/summary.json"
[[ $name == ethane-* && -f $summary ]] && extra+=(--analysis "$summary")
mlpot-card "models/$name.ckpt" --recipe "training/$name.yaml" "${extra[@]}" --json "models/$name.json"
python training/models_table.py
