#!/usr/bin/env bash
# The main job on the embedded default: train the small S4T model on the
# embedded world's source style (or reuse the checkpoint of an earlier run),
# then adapt it to every embedded target domain with BN-adapt (BatchNorm
# statistics only), S4T as the reference runs it and S4T with our options
# chosen on the validation domains, and print one table: S4T's gain beyond
# BatchNorm statistics at a glance.
#
#   bash tools/demo.sh [--seeds 0 1 2]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=work_dirs/synthetic_r18_source
CKPT=$WORK/iter_400.pth
if [ -f "$CKPT" ]; then
  echo "[demo] reusing the source checkpoint $CKPT"
else
  echo "[demo] training the source model (400 iterations; the first run also renders the dataset)"
  "$PY" tools/train.py configs/s4t/synthetic_r18_source.py --work-dir "$WORK"
fi
echo "[demo] BN-adapt, S4T (reference) and S4T (ours) on the embedded target domains"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--seeds 0)
"$PY" tools/compare_methods.py \
  --configs configs/baselines/synthetic_r18_bn_adapt_tta.py \
            configs/s4t/synthetic_r18_s4t_tta.py \
            configs/s4t/synthetic_r18_s4t_ours_tta.py \
  --names bn_adapt s4t s4t_ours --checkpoints "$CKPT" \
  --work-dir work_dirs/demo "${args[@]}"
