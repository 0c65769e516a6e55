#!/usr/bin/env bash
# MACE (mace-torch 0.3) on rMD17 ethanol, split 01 (950 train + 50 validation frames
# written by benchmarks/peers/export_split.py), as MACE's README trains a model:
# correlation 3, 2 layers, r_max 5 Å, EMA 0.99, AMSGrad, lr 0.01, with the batch size
# (5) and loss weights (energy 1, forces 1000) of the MACE paper's rMD17 models; E0s
# fitted on the training energies (rMD17 has no isolated-atom energies). Training
# stops when benchmarks/peers/cpu_budget.py has spent its CPU budget, or at
# --max_num_epochs when that is given (stage two, MACE's raised energy weight for
# the last epochs, needs the number of epochs in advance).
#
#   bash benchmarks/peers/mace-ethanol.sh RUN_DIR NAME HIDDEN_IRREPS DTYPE [ARG ...]
#
# e.g. NAME mace, HIDDEN_IRREPS '128x0e + 128x1o' (the README's recommended size),
# DTYPE float64 (its default); further ARGs go to mace_run_train after these
# settings and override them (e.g. --max_num_epochs=60 --stage_two
# --start_stage_two=48). RUN_DIR holds train.xyz, val.xyz and test.xyz; the model
# is written to RUN_DIR/NAME/models/mace.model. A second call with
# --max_num_epochs set to the epoch of the last checkpoint resumes from it, trains
# no further and writes the model of that (best) checkpoint.
set -euo pipefail
run=$1
work=$run/$2
exec "${MACE_RUN_TRAIN:-.venv-mace/bin/mace_run_train}" \
    --name=mace --seed=123 \
    --train_file="$run/train.xyz" --valid_file="$run/val.xyz" --test_file="$run/test.xyz" \
    --energy_key=energy --forces_key=forces --E0s=average \
    --model=MACE --hidden_irreps="$3" --correlation=3 --num_interactions=2 \
    --r_max=5.0 --batch_size=5 --valid_batch_size=10 --lr=0.01 \
    --energy_weight=1 --forces_weight=1000 \
    --ema --ema_decay=0.99 --amsgrad --default_dtype="$4" --device=cpu \
    --max_num_epochs=1000000 --patience=1000000 --eval_interval=1 \
    --restart_latest --save_cpu \
    --work_dir="$work" --log_dir="$work/logs" --model_dir="$work/models" \
    --checkpoints_dir="$work/checkpoints" --results_dir="$work/results" \
    "${@:5}"
