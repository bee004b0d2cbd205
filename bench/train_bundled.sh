#!/usr/bin/env bash
# One prepared call for a 15-minute GPU window (README "Benchmarks", assets/models/README.md): retrain the
# bundled model on the same synthetic data with the same options for TRAIN_S seconds, measure it against the
# bundled model (bench/quality.py: fsd2048, contrast, edge strength), then train the cascade's SR level on top
# of it for SR_S seconds if `sgv train-sr` exists. A cut-off run still leaves a model: the newest snapshot is
# copied to $OUT every COPY_S seconds while training runs, and SIGTERM makes `sgv train` write a final one.
#
#   OUT=/tmp/out bash bench/train_bundled.sh                       # on the GPU (defaults: ~10 min of work)
#   TINY=1 TRAIN_S=60 SR_S=40 OUT=/tmp/tb bash bench/train_bundled.sh   # the same steps on a CPU, tiny config
#   BATCH=128 COMPILE=reduce-overhead DEVICE_DATA=1 OUT=/tmp/out bash bench/train_bundled.sh   # (what gpu_checks.sh finds fastest)
# (R1's gamma follows the batch: 0.0002·res²/batch; the learning rate stays upstream's 0.0025 at any batch.)
#
# $OUT gets at most 8 files (what a device call brings back): model-latest.safetensors (the new base),
# sr-latest.safetensors (the SR level), quality.json (old vs new), samples.png (bench/bundled.py strip),
# grid-latest.png (the run's last sample grid), train-log.jsonl, sr-log.jsonl, log.txt (everything printed).
# Nothing here replaces assets/models/default.safetensors: that is decided on quality.json.
set -u
OUT=${OUT:-/tmp/train_bundled_out}; mkdir -p "$OUT"
WORK=${WORK:-/tmp/train_bundled}; rm -rf "$WORK"; mkdir -p "$WORK"
TRAIN_S=${TRAIN_S:-360}; SR_S=${SR_S:-120}; COPY_S=${COPY_S:-20}
exec > >(tee -a "$OUT/log.txt") 2>&1
PY=${PY:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
if ! $PY -c "import imageio_ffmpeg" 2>/dev/null; then  # the GPU machine has no ffmpeg: sample videos are skipped
  mkdir -p "$WORK/stub/imageio_ffmpeg"
  printf 'def get_ffmpeg_exe():\n    raise RuntimeError("no ffmpeg on this machine")\n' > "$WORK/stub/imageio_ffmpeg/__init__.py"
  export PYTHONPATH=$WORK/stub:$PWD
fi
if [ -n "${TINY:-}" ]; then  # CPU check: tiny nets, tiny data, the same steps
  RES=32; VIDEOS=8; FRAMES=32
  TRAIN_ARGS="--preset tiny --res 32 --batch 4 --tick-kimg 0.02 --snap-kimg 0.05 --workers 1 --device cpu"
  SR_ARGS="--preset sr-tiny --batch 2 --frames 2 --window 1 --tick-kimg 0.01 --snap-kimg 0.02 --workers 1 --device cpu"
  Q_ARGS="--num-videos 8 --device cpu"  # (the bundled model is 64²: not compared)
else  # assets/models/README.md's command, snapshots every 50 kimg (~80 s) instead of 100
  RES=64; VIDEOS=64; FRAMES=256
  TRAIN_ARGS="--preset small --batch ${BATCH:-32} --tick-kimg 10 --snap-kimg 50 --workers 6 --aug noaug --compile ${COMPILE:-off} ${DEVICE_DATA:+--data-on-device}"
  SR_ARGS="--preset sr-small --scale 2 --window 4 --batch 16 --tick-kimg 5 --snap-kimg 20 --workers 4"
  Q_ARGS="--bundled"
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

# 1. data (the SR level's 2x data is written in the background while the base trains)
$PY -m engine.cli dataset synth --overwrite --out "$WORK/shapes$RES" --videos $VIDEOS --frames $FRAMES --res $RES --seed 0 2>&1 | tail -1
HAS_SR=""; $PY -m engine.cli train-sr --help >/dev/null 2>&1 && HAS_SR=1
if [ -n "$HAS_SR" ]; then
  nice -n 5 $PY -m engine.cli dataset synth --overwrite --out "$WORK/shapes$((2 * RES))" --videos $VIDEOS \
    --frames $FRAMES --res $((2 * RES)) --seed 0 > "$WORK/sr_data.txt" 2>&1 &
  SR_DATA_PID=$!
fi

# copy_latest RUN NAME: every COPY_S s, the run's newest model to $OUT/NAME (atomically: a .part, then mv)
copy_latest() {
  while sleep "$COPY_S"; do
    [ -f "$1/model-latest.safetensors" ] && cp "$1/model-latest.safetensors" "$OUT/$2.part" && mv -f "$OUT/$2.part" "$OUT/$2"
  done
}

# 2. the base: `sgv train` until TRAIN_S, then SIGTERM (final snapshot)
start=$(date +%s)
copy_latest "$WORK/run" model-latest.safetensors & COPY_PID=$!
timeout -s TERM -k 60 "$TRAIN_S" $PY -m engine.cli train --data "$WORK/shapes$RES" --outdir "$WORK/run" \
  --kimg 100000 $TRAIN_ARGS --quiet
echo "train exit $? after $(( $(date +%s) - start )) s"
kill "$COPY_PID" 2>/dev/null; wait "$COPY_PID" 2>/dev/null; rm -f "$OUT"/*.part
cp "$WORK/run/model-latest.safetensors" "$OUT/model-latest.safetensors"
cp "$WORK/run/log.jsonl" "$OUT/train-log.jsonl"
cp "$(ls "$WORK"/run/samples/grid-*.png | tail -1)" "$OUT/grid-latest.png" 2>/dev/null
tail -1 "$WORK/run/log.jsonl"; echo

# 3. quality: the bundled (old) model and the new one, same data, same run
$PY bench/quality.py --ckpt "$OUT/model-latest.safetensors" --data "$WORK/shapes$RES" $Q_ARGS \
  --json "$OUT/quality.json"
$PY bench/bundled.py --ckpt "$OUT/model-latest.safetensors" --frames 32 --strip "$OUT/samples.png" | tail -2

# 4. the SR level on the new base, if this tree has `sgv train-sr`
if [ -n "$HAS_SR" ]; then
  wait "$SR_DATA_PID"; tail -1 "$WORK/sr_data.txt"
  start=$(date +%s)
  copy_latest "$WORK/sr" sr-latest.safetensors & COPY_PID=$!
  timeout -s TERM -k 60 "$SR_S" $PY -m engine.cli train-sr --data "$WORK/shapes$((2 * RES))" \
    --base "$OUT/model-latest.safetensors" --outdir "$WORK/sr" --kimg 100000 $SR_ARGS --quiet
  echo "train-sr exit $? after $(( $(date +%s) - start )) s"
  kill "$COPY_PID" 2>/dev/null; wait "$COPY_PID" 2>/dev/null; rm -f "$OUT"/*.part
  cp "$WORK/sr/model-latest.safetensors" "$OUT/sr-latest.safetensors"
  cp "$WORK/sr/log.jsonl" "$OUT/sr-log.jsonl"
  tail -1 "$WORK/sr/log.jsonl"; echo
else
  echo "no sgv train-sr in this tree: SR level skipped"
fi
ls -la "$OUT"
