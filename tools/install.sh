#!/usr/bin/env bash
# Install s4t_mm and its pinned OpenMMLab stack into the current Python.
#
#   bash tools/install.sh            runtime (+ odsF metric)
#   bash tools/install.sh --tests    runtime + test requirements
#
# Idempotent: what is already installed at the right version is skipped, so a
# second run takes seconds. The first run on a new machine builds mmcv 2.1.0
# with its CPU ops from source (about 10 minutes on 2 cores); pip caches the
# built wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --tests) WITH_TESTS=1 ;;
    *) echo "unknown option '$arg'; valid: --tests" >&2; exit 2 ;;
  esac
done
say() { echo "[install] $*"; }
pip_q() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

if ! "$PY" -c "import torch, sys; sys.exit(not torch.__version__.startswith('2.13.0'))" 2>/dev/null; then
  say "torch 2.13.0 (CPU build)"
  pip_q torch==2.13.0
fi
say "runtime requirements (mmengine 0.10.7, mmsegmentation 1.2.2, ...)"
pip_q -r requirements/runtime.txt -r requirements/optional.txt

if ! "$PY" -c "import mmcv, mmcv._ext, sys; sys.exit(mmcv.__version__ != '2.1.0')" 2>/dev/null; then
  say "mmcv 2.1.0 with CPU ops: building from source if pip has no cached wheel"
  say "(about 10 minutes on 2 cores the first time; progress every 30 s)"
  pip_q "setuptools<70" wheel ninja
  log=$(mktemp)
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
    "$PY" -m pip install -v --disable-pip-version-check --no-build-isolation \
    -r requirements/mmcv.txt >"$log" 2>&1 &
  pid=$!
  start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    if kill -0 "$pid" 2>/dev/null; then
      done_files=$(grep -c -E '^ *\[[0-9]+/[0-9]+\]' "$log" || true)
      last=$(grep -o -E '\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 || true)
      say "building mmcv: $((SECONDS - start)) s, ${last:-preparing} (${done_files} compile steps logged)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$log" >&2
    say "mmcv build failed; full log: $log" >&2
    exit 1
  fi
  say "mmcv ready after $((SECONDS - start)) s"
fi
# The mmcv build needs setuptools<70; torch 2.13 asks for >=77, and
# setuptools >= 81 drops pkg_resources, which mmengine imports.
pip_q "setuptools>=77,<81"

if [ "$WITH_TESTS" = 1 ]; then
  say "test requirements"
  pip_q -r requirements/tests.txt
fi
say "s4t_mm (editable)"
pip_q --no-build-isolation --no-deps -e .
"$PY" -c "import mmcv._ext, mmseg.models, s4t_mm; print('[install] ok: s4t_mm', s4t_mm.__version__)"
