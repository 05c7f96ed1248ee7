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
# The slow tier (scripts/test-slow.sh) sets the file pattern, concurrency and timeout below.
pattern=${SIDEWALK_TEST_FILES:-*.test.js}
mapfile -t files < <(find "${roots[@]}" -name "$pattern" | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files ($pattern) under: ${roots[*]}" >&2
  exit 1
fi
exec node --test --test-concurrency="${SIDEWALK_TEST_CONCURRENCY:-2}" --test-timeout="${SIDEWALK_TEST_TIMEOUT_MS:-600000}" "${files[@]}"
