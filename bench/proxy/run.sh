#!/usr/bin/env bash
# Proxy benchmark, one command: installs wrk, haproxy and nginx (Debian packages) and the Node
# peers (http-proxy, @fastify/http-proxy, fastify) into .tmp/bench-peers — never package.json —
# builds, and runs dist/bench/proxy/run.js with the given options (see bench/proxy/run.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."

PIDS=.tmp/bench-proxy/pids
cleanup() {
  # run.js stops its servers itself; this catches a run.js that was killed outright.
  if [[ -f $PIDS ]]; then
    while read -r pid; do
      [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
    done <"$PIDS"
    rm -f "$PIDS"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
for tool in wrk haproxy nginx; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk haproxy nginx >&2
fi

PEERS=.tmp/bench-peers
if [[ ! -d $PEERS/node_modules/http-proxy || ! -d $PEERS/node_modules/@fastify/http-proxy ]]; then
  echo "installing the Node peers into $PEERS" >&2
  mkdir -p "$PEERS"
  npm install --prefix "$PEERS" --no-audit --no-fund --no-save http-proxy @fastify/http-proxy fastify >&2
fi

npx tsc -p tsconfig.json --incremental false || echo "tsc reported errors elsewhere in the tree; running what was emitted" >&2
node dist/bench/proxy/run.js "$@"
