#!/usr/bin/env bash
# Throughput checks for a lent GPU (README "Benchmarks", issue "More model per GPU-minute"): each figure with and
# without torch.compile, in about 6 minutes; results under $OUT. Training the bundled model is the other
# prepared call, bench/train_bundled.sh (run it in the same window with what is left).
#
#   OUT=/tmp/out bash bench/gpu_checks.sh
#   MODE=max-autotune OUT=/tmp/out bash bench/gpu_checks.sh      # another torch.compile mode
#   PY=.venv/bin/python DEVICES=cpu PRESET_R=tiny PRESET_T=tiny OUT=/tmp/gc bash bench/gpu_checks.sh  # on a CPU
set -u
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
MODE=${MODE:-reduce-overhead}; DEVICES=${DEVICES:-cuda}
PRESET_R=${PRESET_R:-paper256}; PRESET_T=${PRESET_T:-small}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PY:-python3}
exec > >(tee -a "$OUT/gpu_checks.txt") 2>&1
command -v nvidia-smi >/dev/null && nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
# 1. rendering: batch 1 and 16, fp32 / channels_last / bf16 / fp16 paths, plus the fp32 path compiled (parity printed)
timeout 240 $PY bench/render.py --presets "$PRESET_R" --devices "$DEVICES" --batches 1,16 --reps 20 \
  --compile "$MODE" | tail -14
# 2. training: the small preset at batch 32 (the bundled model's) and 128, eager vs compiled
for batch in 32 128; do
  timeout 240 $PY bench/train.py --presets "$PRESET_T" --batch $batch --steps 30 --compile "$MODE" | tail -3
done
# 3. training paper256 at batch 16, eager vs compiled
timeout 200 $PY bench/train.py --presets "$PRESET_R" --batch 16 --steps 10 --compile "$MODE" | tail -3
