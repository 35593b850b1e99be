#!/usr/bin/env bash
# The main job on the embedded default: train the small S4T model on the
# embedded world's source style (or reuse the checkpoint of an earlier run),
# then adapt it to every embedded target domain with BN-adapt (BatchNorm
# statistics only), S4T as the reference runs it and S4T-safe (ours, the
# gated normalisation policy chosen on the validation domains), and print
# one table: S4T's gain beyond BatchNorm statistics, and what safety costs,
# at a glance. All of it is the benchmark tool on the
# demo's method table, configs/benchmark/demo.py.
#
#   bash tools/demo.sh [--seeds 0 1 2]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" tools/benchmark_methods.py configs/benchmark/demo.py \
  --work-dir work_dirs/demo "$@"
