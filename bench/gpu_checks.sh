#!/usr/bin/env bash
# One call on a lent GPU machine (see README "Benchmarks"): train the bundled model, then time rendering
# and training of paper256. Writes results under $OUT. Needs .devstub (an imageio_ffmpeg stand-in: that
# machine has no ffmpeg, so sample videos are skipped there).
export PYTHONPATH=$PWD/.devstub:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
TRAIN_S=${TRAIN_S:-300}
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
# 1. the bundled model: synthetic data, then `sgv train` until SIGTERM (which writes a snapshot)
python3 -m engine.cli dataset synth --overwrite --out /tmp/shapes64 --videos 64 --frames 256 --res 64 --seed 0 2>&1 | tail -1
start=$(date +%s)
timeout -s TERM -k 60 "$TRAIN_S" python3 -m engine.cli train --data /tmp/shapes64 --outdir /tmp/run \
  --preset small --batch 32 --kimg 100000 --tick-kimg 10 --snap-kimg 100 --workers 6 --aug ${AUG:-ada} --quiet 2> "$OUT/train_stderr.txt"
echo "train exit $? after $(( $(date +%s) - start )) s"; tail -3 "$OUT/train_stderr.txt"
cp /tmp/run/model-latest.safetensors /tmp/run/log.jsonl /tmp/run/training_options.json "$OUT/" 2>/dev/null
cp "$(ls /tmp/run/samples/grid-*.png | tail -1)" "$OUT/grid-latest.png" 2>/dev/null
tail -1 /tmp/run/log.jsonl
# 2. rendering speed, paper256 on CUDA (fp32, channels_last, bf16), t = 0 / 1e3 / 1e6
[ -n "$SKIP_RENDER" ] || timeout 100 python3 bench/render.py --presets paper256 --devices cuda 2>&1 | tee "$OUT/render_bench.txt" | tail -15
# 3. training speed, paper256 on CUDA
[ -n "$SKIP_TRAIN_BENCH" ] || timeout 110 python3 bench/train.py --presets paper256 --batch 16 --steps 10 2>&1 | tee "$OUT/train_bench.txt" | tail -4
