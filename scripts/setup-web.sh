#!/usr/bin/env bash
# Installs the browser code the server serves but does not ship in git: LiveKit's client
# (livekit-client, Apache-2.0, pinned in src/opencharacters/portal/vendor/package-lock.json),
# which /sdk/opencharacters.js loads from /sdk/livekit-client.js for calls over LiveKit.
# Once: `npm ci` runs again only when the lock file changed. Without npm, WHIP calls still work.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/opencharacters/portal/vendor"
installed="$vendor/node_modules/.package-lock.json"
if [ -f "$installed" ] && [ "$installed" -nt "$vendor/package-lock.json" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm is needed to install livekit-client (browser calls over LiveKit); skipped" >&2
  exit 0
fi
echo "setup: installing livekit-client for /sdk/livekit-client.js"
# --ignore-scripts: only the package's prebuilt browser bundle is used, nothing runs at install.
(cd "$vendor" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
touch "$installed"
