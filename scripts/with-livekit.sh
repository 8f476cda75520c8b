#!/usr/bin/env bash
# Runs a command (`make run TRANSPORT=livekit`: `opencharacters serve …`) next to a local
# livekit-server on loopback, with a key pair made for this run, and stops the server after it.
# LIVEKIT_PORT (7880), LIVEKIT_TCP_PORT (7881), LIVEKIT_UDP_PORT (7882) and LIVEKIT_NODE_IP
# (127.0.0.1: callers on this machine; your LAN address for other machines) change where it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup-livekit.sh"
server="$root/.tools/bin/livekit-server"
[ -x "$server" ] || { echo "livekit-server is missing: scripts/setup-livekit.sh builds it (needs Go)" >&2; exit 1; }
port="${LIVEKIT_PORT:-7880}"
node_ip="${LIVEKIT_NODE_IP:-127.0.0.1}"
bind="127.0.0.1"; [ "$node_ip" != "127.0.0.1" ] && bind="0.0.0.0"
dir="$(mktemp -d)"
key="API$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$dir/livekit.yaml" <<YAML
port: $port
bind_addresses: ['$bind']
rtc:
  tcp_port: ${LIVEKIT_TCP_PORT:-7881}
  udp_port: ${LIVEKIT_UDP_PORT:-7882}
  node_ip: $node_ip
  use_external_ip: false
keys:
  $key: $secret
logging:
  level: warn
YAML
chmod 600 "$dir/livekit.yaml"
"$server" --config "$dir/livekit.yaml" &
livekit=$!
trap 'kill $livekit 2>/dev/null; wait $livekit 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  kill -0 $livekit 2>/dev/null || { echo "livekit-server did not start" >&2; exit 1; }
  sleep 0.1
done
echo "livekit-server on ws://$node_ip:$port"
OPENCHARACTERS_TRANSPORT=livekit \
OPENCHARACTERS_LIVEKIT__URL="ws://$node_ip:$port" \
OPENCHARACTERS_LIVEKIT__API_KEY="$key" \
OPENCHARACTERS_LIVEKIT__API_SECRET="$secret" \
  "$@"
