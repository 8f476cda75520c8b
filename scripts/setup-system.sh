#!/usr/bin/env bash
# Installs the Debian packages the product and its tests need, only when something is missing.
set -euo pipefail
# Product needs; the engines add theirs here. (PostgreSQL is only for tests: .ci/run installs it.)
# chromium: the browser end-to-end tests (Playwright drives Debian's build, no download).
packages=(espeak-ng chromium)
missing=()
for pkg in "${packages[@]+"${packages[@]}"}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "setup: please install these Debian packages: ${missing[*]}" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
