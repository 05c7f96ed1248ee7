#!/usr/bin/env bash
# The main job: replay the bundled sample ride through the bundled demo model, in real time, with the
# simulated speed limiter, showing decisions live and serving /metrics on 127.0.0.1:${SIDEWALK_DEMO_PORT:-9101}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=work-data/demo
mkdir -p "$out"
rm -f "$out/limiter.jsonl"
port=${SIDEWALK_DEMO_PORT:-9101}
echo "Sidewalk Guard demo: demo/sample-ride.mp4 through demo/model (synthetic scenes; a demo, not for road use)."
echo "Metrics: http://127.0.0.1:${port}/metrics   Limiter commands: ${out}/limiter.jsonl   Decisions: ${out}/decisions.jsonl"
exec node dist/bin/sidewalk.js replay demo/sample-ride.mp4 --model demo/model --realtime \
  --metrics-port "$port" --limiter-log "$out/limiter.jsonl" --out "$out/decisions.jsonl" "$@"
