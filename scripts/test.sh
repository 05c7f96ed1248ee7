#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs every test with node's test runner.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=decision).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency=2 --test-timeout=600000 "$@" "${files[@]}"
