#!/usr/bin/env bash
# Start-up time of `keygate server` with no configuration: from exec to the first 200 from
# /health/ready on the management port, over N runs (default 10) — cold (empty data
# directory: migrations, admin account, certificate) and warm (the same directory again).
# Prints each run's milliseconds and the medians. Needs a release build and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
offset=${OFFSET:-0}   # added to every port, e.g. OFFSET=1000 beside a running keygate
bin=${KEYGATE_BIN:-target/release/keygate}
[ -x "$bin" ] || cargo build --release -q -p keygate
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }

one_run() { # data dir
  local dir=$1 start ready pid
  start=$(now_ms)
  (cd "$dir" && exec "$bin" server --port-offset "$offset" >/dev/null 2>&1) &
  pid=$!
  until curl -ksf -o /dev/null "https://127.0.0.1:$((9443 + offset))/health/ready"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "server exited" >&2; exit 1; fi
    sleep 0.005
  done
  ready=$(now_ms)
  kill -TERM "$pid"; wait "$pid"
  echo $((ready - start))
}

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cold=(); warm=()
for i in $(seq 1 "$runs"); do
  d="$work/run$i"; mkdir -p "$d"
  cold+=("$(one_run "$d")")
  warm+=("$(one_run "$d")")
done
echo "cold runs (ms): ${cold[*]}"
echo "warm runs (ms): ${warm[*]}"
printf 'median cold %s ms, median warm %s ms (%s runs)\n' \
  "$(printf '%s\n' "${cold[@]}" | median)" "$(printf '%s\n' "${warm[@]}" | median)" "$runs"
