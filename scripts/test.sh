#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs every test with node's test runner.
#   bash scripts/test.sh                      everything (what CI runs, via npm test)
#   bash scripts/test.sh dist/test/runtime    only the tests under these compiled folders or files
#   SIDEWALK_SKIP_SETUP=1 bash scripts/test.sh ...   skip installing/building (after `npm run build`)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SIDEWALK_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(dist/test)
mapfile -t files < <(find "${roots[@]}" -name '*.test.js' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files under: ${roots[*]}" >&2
  exit 1
fi
exec node --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
