#!/usr/bin/env bash
# Revocation latency between nodes: from the revoke response at node A's key manager to the
# first refused call at A's gateway and at B's gateway (B shares A's database and broker),
# over N revocations one after another (default 1000), through RabbitMQ, through NATS, and
# in one node with the in-process bus. Each round: a fresh opaque token accepted (and
# cached) by both gateways, revoked at A, both gateways polled until they answer 401.
# Debug build of the test kit (the figures include polling over HTTP); needs RabbitMQ on
# 127.0.0.1:5672 and NATS on 127.0.0.1:4222.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
echo "revocation latency between nodes, $count revocations, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
for broker in amqp://guest:guest@127.0.0.1:5672 nats://127.0.0.1:4222 ""; do
  KEYGATE_BENCH_BROKER="$broker" KEYGATE_BENCH_REVOCATIONS="$count" \
    cargo test -q -p keygate-testkit --test bus_revocation revocation_latency -- --ignored --nocapture 2>/dev/null \
    | grep '^RESULT'
done
