#!/usr/bin/env bash
# The slow tier: tests named *.slow.ts (compiled to dist/test/**/*.slow.js), not part of `npm test`,
# run one file at a time with a 30-minute timeout through scripts/test.sh, after scripts/slow-prereqs.sh
# (slow-tier Debian packages, qemu-aarch64 binfmt registration when root).
#   bash scripts/test-slow.sh                       every slow test
#   bash scripts/test-slow.sh dist/test/image       only those under these compiled folders or files
#   SIDEWALK_SKIP_SETUP=1 bash scripts/test-slow.sh ...   skip installing/building (after `npm run build`)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/slow-prereqs.sh
SIDEWALK_COVERAGE=0 SIDEWALK_TEST_FILES='*.slow.js' SIDEWALK_TEST_CONCURRENCY=1 SIDEWALK_TEST_TIMEOUT_MS=1800000 exec bash scripts/test.sh "$@"
