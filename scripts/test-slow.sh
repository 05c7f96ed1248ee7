#!/usr/bin/env bash
# The slow tier: tests named *.slow.ts (compiled to dist/test/**/*.slow.js), not part of `npm test`.
#   bash scripts/test-slow.sh                       every slow test
#   bash scripts/test-slow.sh dist/test/build       only those under these compiled folders or files
#   SIDEWALK_SKIP_SETUP=1 bash scripts/test-slow.sh ...   skip installing/building (after `npm run build`)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SIDEWALK_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(dist/test)
mapfile -t files < <(find "${roots[@]}" -name '*.slow.js' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no slow test files under: ${roots[*]}" >&2
  exit 1
fi
exec node --test --test-concurrency=1 --test-timeout=1800000 "${files[@]}"
