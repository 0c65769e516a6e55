#!/usr/bin/env bash
# Hot reference data for a molecule outside MD17, for checking that mlpot-train's
# defaults train stably on data they were not tuned on
# (benchmarks/default_robustness.py): acetamide (CH3CONH2; with N, an element none of
# the shipped models has seen) in Langevin MD at 1000 K, labelled with GFN2-xTB
# (tblite), 1000 frames 20 steps (10 fs) apart. Reruns resume.
set -euo pipefail
cd "$(dirname "$0")/.."
mlpot-data generate data/acetamide/acetamide-gfn2-1000K.h5 --molecule CH3CONH2 \
    --temperature 1000 --interval 20 --frames 1000 --seed 1 --no-progress
