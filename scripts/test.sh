#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs every test with node's test runner.
#   bash scripts/test.sh                      everything (what CI runs, via npm test)
#   bash scripts/test.sh dist/test/runtime    only the tests under these compiled folders or files
#   SIDEWALK_SKIP_SETUP=1 bash scripts/test.sh ...   skip installing/building (after `npm run build`)
#   SIDEWALK_COVERAGE=1|0                             line coverage with its floor (.c8rc.json); default:
#                                                     on for the whole suite, off for chosen folders/files
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
run=(node --test --test-concurrency="${SIDEWALK_TEST_CONCURRENCY:-2}" --test-timeout="${SIDEWALK_TEST_TIMEOUT_MS:-600000}" "${files[@]}")
coverage=${SIDEWALK_COVERAGE:-$([ $# -eq 0 ] && echo 1 || echo 0)}
# c8 collects V8 coverage through NODE_V8_COVERAGE, so the CLI and services the tests start count too;
# it reports against the TypeScript sources (source maps) and fails the run below the floor.
[ "$coverage" != 1 ] || run=(node_modules/.bin/c8 --check-coverage "${run[@]}")
exec "${run[@]}"
