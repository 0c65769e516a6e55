#!/usr/bin/env bash
# Copy a run's best checkpoint into models/ (a committee run: its members'
# best checkpoints, into models/NAME/) and write its model card (card.sh).
# Ethane models first get the torsion analysis of examples/ethane_torsion.py
# (about 6 minutes), which their card shows. A single model replaces the shipped
# one only when its test force MAE is lower (better_than_shipped.py), unless
# --even-if-worse is given; otherwise it exits with status 3 and changes nothing.
#   training/ship.sh ethanol-equivariant
#   training/ship.sh ethanol-committee
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
even_if_worse=${2:-}
if [[ -n $even_if_worse && $even_if_worse != --even-if-worse ]]; then
  echo "ship.sh: unknown option $even_if_worse (the one option is --even-if-worse)" >&2
  exit 2
fi
if [ -f "runs/$name/committee.json" ]; then
  rm -rf "models/$name.old"
  if [ -d "models/$name" ]; then mv "models/$name" "models/$name.old"; fi
  python -c 'import sys; from mlpot.model.committee import copy_committee; copy_committee(*sys.argv[1:])' \
    "runs/$name" "models/$name"
  rm -rf "models/$name.old"
  training/card.sh "$name"
  exit
fi
if [[ -z $even_if_worse ]]; then
  status=0
  python training/better_than_shipped.py "$name" || status=$?
  if (( status == 3 )); then
    echo "ship.sh: kept models/$name.ckpt; training/ship.sh $name --even-if-worse replaces it" >&2
    exit 3
  fi
  (( status == 0 )) || exit "$status"
fi
cp "runs/$name/best.ckpt" "models/$name.ckpt.tmp" && mv "models/$name.ckpt.tmp" "models/$name.ckpt"
if [[ $name == ethane-* ]]; then
  python examples/ethane_torsion.py --model "models/$name.ckpt" --out "runs/$name-torsion"
fi
training/card.sh "$name"
