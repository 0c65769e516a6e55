#!/usr/bin/env bash
# Copy a run's best checkpoint into models/ and write its model card.
#   training/ship.sh ethanol-equivariant
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
cp "runs/$name/best.ckpt" "models/$name.ckpt.tmp" && mv "models/$name.ckpt.tmp" "models/$name.ckpt"
md=()
[[ $name == *-equivariant ]] && md=(--md-ps 2)
mlpot-card "models/$name.ckpt" --recipe "training/$name.yaml" "${md[@]}" --json "models/$name.json"
python training/models_table.py
