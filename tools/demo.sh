#!/usr/bin/env bash
# The main job on the embedded default: train the small S4T model on the
# embedded world's source style (or reuse the checkpoint of an earlier run),
# then adapt it to every embedded appearance domain and two scene shifts
# (corridor, hall) with BN-adapt (BatchNorm statistics only), S4T as the
# reference runs it and S4T-safe (ours, the shift-response normalisation
# policy), and print one table: S4T's gain beyond BatchNorm statistics, and
# where the safe policy keeps the source model, at a glance. All of it is
# the benchmark tool on the demo's method table, configs/benchmark/demo.py,
# in one worker process per core: the terminal shows one line per stage and
# the table, the logs go to work_dirs/demo/ (--verbose: everything in one
# process, mmengine's full output on the terminal).
#
#   bash tools/demo.sh [--seeds 0 1 2] [--verbose] [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" tools/benchmark_methods.py configs/benchmark/demo.py \
  --work-dir work_dirs/demo "$@"
