#!/usr/bin/env bash
# Regenerates the bundled DEMO model (demo/model/): renders a labelled synthetic dataset with the same
# scene renderer the synthetic camera uses (runtime/camera/scenes.ts), trains the tiny CNN on it with
# `sidewalk train`, and copies the float32 bundle (model.tflite + manifest.json, demo_only: true) into
# demo/model/. Deterministic from the seeds below as far as TensorFlow allows.
# Needs: a built tree (npm run build), ffmpeg, python3 >= 3.10 (the trainer's venv is created on first use).
#   bash scripts/make-demo-model.sh [--keep-work]
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[make-demo-model] %s\n' "$*" >&2; }

SEED=1
PER_CLASS=300
INPUT_SIZE=64
VERSION=1.0.0

keep=0
[ "${1:-}" = "--keep-work" ] && keep=1
work=$(mktemp -d "${TMPDIR:-/tmp}/sidewalk-demo-model.XXXXXX")
cleanup() { if [ "$keep" = 1 ]; then say "work folder kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

if [ ! -f dist/host-tools/train/demo-dataset.js ] || [ ! -f dist/bin/sidewalk.js ]; then
  say "building TypeScript"
  npx tsc -p tsconfig.json || true   # emits even when other areas have type errors
fi

say "rendering the synthetic dataset ($PER_CLASS training images per class)"
node dist/host-tools/train/demo-dataset.js --out "$work/data" --per-class "$PER_CLASS" --seed "$SEED" >/dev/null

say "training (tiny CNN, ${INPUT_SIZE}x${INPUT_SIZE})"
node dist/bin/sidewalk.js train --data "$work/data" --out "$work/train" --arch tiny --input-size "$INPUT_SIZE" \
  --epochs 40 --patience 6 --batch-size 32 --seed "$SEED" --variants float32 \
  --name sidewalk-demo --model-version "$VERSION" --location demo --demo-only

mkdir -p demo/model
cp "$work/train/float32/model.tflite" "$work/train/float32/manifest.json" demo/model/
accuracy=$(node -e 'const m=JSON.parse(require("fs").readFileSync("demo/model/manifest.json","utf8")); console.log(m.metrics.test_accuracy, m.metrics.test_samples)')
say "demo/model/ updated: held-out synthetic test accuracy (accuracy, images): $accuracy"
