#!/usr/bin/env bash
# Installs everything the project needs and builds it. Safe to run again: each step is skipped when done.
#   Debian packages (scripts/apt-packages.txt) via apt-get when run as root,
#   npm packages (package-lock.json), TypeScript build, native XNNPACK shim.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "run this script as root, or install them first: sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (native addons compile now; this takes a few minutes the first time)"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "building TypeScript"
rm -rf dist/test
npx tsc -p tsconfig.json
node scripts/build-native.mjs
