#!/usr/bin/env bash
# Reference data for the ethane models: GFN2-xTB (tblite) energies and forces of
# Langevin MD at 300 K and 600 K and of torsion drives over the whole C-C circle
# (relaxed at each angle, and rigidly turned), each with a separate test set.
# Reruns resume; the stores are combined into one training and one test file.
# Three further test files lie outside the training distribution, for checking
# the committee's spread (mlpot-calibrate): MD at 1500 K,
# and the C-C and a C-H bond stretched to 0.85-1.6 times their length.
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/ethane
mkdir -p "$out/parts"
gen() { mlpot-data generate "$out/parts/$1.h5" --no-progress "${@:2}"; }

gen md300-train    --frames 600 --temperature 300 --interval 20 --seed 1
gen md600-train    --frames 400 --temperature 600 --interval 20 --seed 2
gen relaxed-train  --sampler torsion --mode relax --angles 72 --frames 360 --seed 3
gen rigid-train    --sampler torsion --mode perturb --angles 72 --frames 144 --rattle 0.05 --seed 4
gen md300-test     --frames 200 --temperature 300 --interval 20 --seed 11
gen relaxed-test   --sampler torsion --mode relax --angles 24 --frames 96 --seed 13

for split in train test; do
  rm -f "$out/ethane-gfn2-$split.h5"
  first=1
  for part in "$out"/parts/*-"$split".h5; do
    if [ $first = 1 ]; then
      mlpot-data convert "$part" "$out/ethane-gfn2-$split.h5"; first=0
    else
      mlpot-data convert "$part" "$out/ethane-gfn2-$split.h5" --append
    fi
  done
  mlpot-data info "$out/ethane-gfn2-$split.h5"
done

ood() { mlpot-data generate "$out/ethane-gfn2-$1.h5" --no-progress "${@:2}"; }
ood hot1500     --frames 200 --temperature 1500 --interval 20 --seed 21
ood stretch-cc  --sampler stretch --bond 0 1 --frames 48 --seed 22
ood stretch-ch  --sampler stretch --bond 0 2 --frames 48 --seed 23
