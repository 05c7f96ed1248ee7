#!/usr/bin/env bash
# What the slow tier needs beyond setup.sh: the packages of scripts/apt-packages-slow.txt, and qemu-user
# registered for aarch64 through binfmt_misc (mmdebstrap runs the arm64 base's package scripts under it).
# As root both are done here; otherwise the missing piece is named with what to enable, and the tests that
# need it fail with their own coded error (IMAGE_NO_BINFMT, IMAGE_TOOL_MISSING).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[slow-tier] %s\n' "$*" >&2; }
root=0
[ "$(id -u)" -eq 0 ] && root=1

mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages-slow.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ $root = 1 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "sidewalk: IMAGE_TOOL_MISSING: Debian packages ${missing[*]} are missing: apt-get install --no-install-recommends ${missing[*]}"
  fi
fi

[ "$(uname -m)" = aarch64 ] && exit 0
binfmt=/proc/sys/fs/binfmt_misc
entry=/usr/lib/binfmt.d/qemu-aarch64.conf   # shipped by qemu-user-static (flag F: works inside namespaces)
if grep -qs '^enabled' "$binfmt/qemu-aarch64"; then
  exit 0
fi
if [ $root = 1 ] && [ -f "$entry" ]; then
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
  # An entry that exists but is disabled is switched on; otherwise the package's line is registered.
  if [ -e "$binfmt/qemu-aarch64" ]; then echo 1 > "$binfmt/qemu-aarch64"; else grep -v '^#' "$entry" > "$binfmt/register"; fi
  say "registered qemu-aarch64 in binfmt_misc ($(sed -n 2p "$binfmt/qemu-aarch64"))"
  exit 0
fi
say "sidewalk: IMAGE_NO_BINFMT: qemu-aarch64 is not registered in binfmt_misc: as root, apt-get install qemu-user-static; mount -t binfmt_misc binfmt_misc $binfmt (if unmounted); cat $entry > $binfmt/register (CI: docker/setup-qemu-action)"
