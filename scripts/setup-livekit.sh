#!/usr/bin/env bash
# Builds the pinned livekit-server into .tools/bin once (the LiveKit transport and its tests use it).
# A real LiveKit server, never a substitute: built from its Go module with cgo off (a static
# binary). v1.13.5's go.mod has no `replace` lines, so `go install module@version` accepts it;
# later commits added some, keep the pin. Set LIVEKIT_SERVER_VERSION to build another one.
set -euo pipefail
version="${LIVEKIT_SERVER_VERSION:-v1.13.5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
target="$bin/livekit-server"
if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -qx "livekit-server version ${version#v}"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is needed to build livekit-server $version (OPENCHARACTERS_TRANSPORT=livekit); skipped" >&2
  exit 0
fi
echo "setup: building livekit-server $version (a few minutes, once)"
mkdir -p "$bin"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
CGO_ENABLED=0 GOBIN="$build" go install "github.com/livekit/livekit-server/cmd/server@$version"
mv "$build/server" "$target"
"$target" --version
