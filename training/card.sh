#!/usr/bin/env bash
# Write the model card of a shipped model (models/NAME.md and NAME.json): test
# errors, latency on this machine (run it on an idle machine), a 2 ps Langevin check
# at 500 K for equivariant models, and the torsion analysis that ship.sh left in
# runs/NAME-torsion/ for ethane models. A committee's card has the calibration of
# its spread (mlpot-calibrate) in and out of distribution;
# for ethanol that needs the low-energy committee of ethanol-committee-ood.sh.
#   training/card.sh ethanol-equivariant
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
if [[ $name == *-committee ]]; then
  calibrations=()
  calibrate() {  # calibrate COMMITTEE NAME [ARGS...]: JSON in runs/, figure in models/
    mlpot-calibrate "$1" --json "runs/$2-calibration.json" \
      --figure "models/$2-calibration.png" "${@:3}"
    calibrations+=(--calibration "runs/$2-calibration.json")
  }
  case $name in
    ethane-committee)
      test=data/ethane/ethane-gfn2-test.h5
      calibrate "models/$name" "$name" --set test=$test \
        --set md-1500K=data/ethane/ethane-gfn2-hot1500.h5 \
        --set C-C-stretched=data/ethane/ethane-gfn2-stretch-cc.h5 \
        --set C-H-stretched=data/ethane/ethane-gfn2-stretch-ch.h5 ;;
    ethanol-committee)
      test=../shared/data/md17/rmd17_ethanol_test_01.npz
      calibrate "models/$name" "$name" --set test=$test
      split=runs/ethanol-committee-ood/data
      calibrate runs/ethanol-committee-ood/lowest-0.8 ethanol-committee-ood \
        --set test-within=$split/test-within.h5 --set test-above=$split/test-above.h5 \
        --set train-highest-0.2=$split/highest-0.2.h5 \
        --note "A committee of this recipe trained on the 800 lowest-energy frames of the training file (training/ethanol-committee-ood.sh), on test frames within and above its training energies and on the 200 highest-energy training frames" ;;
  esac
  mlpot-card "models/$name" --test "$test" --recipe "training/$name.yaml" \
    "${calibrations[@]}" --json "models/$name.json"
  python training/models_table.py
  exit
fi
extra=()
[[ $name == *-equivariant ]] && extra+=(--md-ps 2)
summary="runs/$name-torsion/summary.json"
[[ $name == ethane-* && -f $summary ]] && extra+=(--analysis "$summary")
mlpot-card "models/$name.ckpt" --recipe "training/$name.yaml" "${extra[@]}" --json "models/$name.json"
python training/models_table.py
