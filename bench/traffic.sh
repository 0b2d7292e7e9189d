#!/usr/bin/env bash
# Revocation latency through the traffic manager, in one process: from handing a revocation
# to the node's producer until both of two subscribers (two gateways) have it on
# keygate.token.revocation, over N revocations sent one after another (default 1000).
# Paths: the in-process bus alone, producer → traffic manager over plain TCP → bus, and the
# same over TLS. Prints p50, p99 and max per path. Needs a release build of the example.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
cargo build --release -q -p keygate-traffic --example revocation_latency
echo "revocation latency, $count revocations, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
target/release/examples/revocation_latency "$count"
