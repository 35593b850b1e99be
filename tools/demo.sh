#!/usr/bin/env bash
# The main job on the embedded default: train the small S4T model on the
# embedded world's source style (or reuse the checkpoint of an earlier run),
# then adapt it with S4T to every embedded target domain and print the
# source-only vs adapted table with delta_m.
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
echo "[demo] test-time adaptation with S4T on the embedded target domains"
"$PY" tools/test_time_adapt.py configs/s4t/synthetic_r18_s4t_tta.py \
  --checkpoint "$CKPT" --work-dir work_dirs/synthetic_r18_s4t_tta "$@"
