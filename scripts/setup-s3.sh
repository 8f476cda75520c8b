#!/usr/bin/env bash
# Builds the S3-compatible server the tests run against (Versity Gateway, Apache-2.0) into .tools/bin,
# only when it is missing. It comes from the Go module proxy at a pinned release and checks SigV4
# signatures, presigned URLs and their expiry like AWS does, so the S3 blob store is tested for real.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
bin_dir="$PWD/.tools/bin"
[ -x "$bin_dir/versitygw" ] && exit 0
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is needed to build versitygw (the S3 server the tests use); install golang-go" >&2
  [ "${CI:-}" = "1" ] && exit 1
  exit 0
fi
mkdir -p "$bin_dir"
echo "setup: building versitygw $VERSITYGW_VERSION into .tools/bin (once; a few minutes)"
start=$(date +%s)
CGO_ENABLED=0 GOBIN="$bin_dir" GOFLAGS=-trimpath \
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
"$bin_dir/versitygw" --version >/dev/null
echo "setup: versitygw built in $(( $(date +%s) - start )) s"
