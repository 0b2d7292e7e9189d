#!/usr/bin/env bash
# Key manager CPU time per token, which a loaded machine changes much less than tokens/s.
#
# keygate (bench/km/deployment.toml, `worker_threads = 1`, every thread pinned to CPU 1)
# issues client_credentials RS256 JWTs, persisted to SQLite, under `wrk -t1 -c32` pinned
# to CPU 0 (bench/km/token.lua); the node's CPU time (/proc/<pid>/stat utime + stime, all
# its threads) over each run is divided by the tokens wrk counted. With PEER=1 panva's
# oidc-provider (bench/km/op.mjs, one Node.js process) is measured the same way. With
# PERF=FILE the last keygate run is also recorded by `perf record -g` into FILE.
#
# Usage: bench/km-cpu.sh [seconds per run, default 10]
# Environment: RUNS (3), OFFSET (200: keygate on 9443+OFFSET), OP_PORT (19003),
# KEYGATE_BIN (target/release/keygate), PEER (0), PERF (unset), RUST_LOG (passed on).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
runs=${RUNS:-3}
offset=${OFFSET:-200}
op_port=${OP_PORT:-19003}
port=$((9443 + offset))
bin=$(realpath "${KEYGATE_BIN:-target/release/keygate}")
hz=$(getconf CLK_TCK)
if [ "${PEER:-0}" = 1 ]; then
  [ -d bench/km/node_modules/oidc-provider ] || (cd bench/km && npm ci --no-audit --no-fund)
fi

. bench/lib.sh


# measure NAME PID URL BASIC [PATH]: one wrk run; prints tokens/s and CPU µs per token.
measure() {
  local name=$1 pid=$2 url=$3 basic=$4 path=${5:-/oauth2/token} before after out reqs rps
  before=$(ticks "$pid")
  out=$(BENCH_BASIC=$basic BENCH_PATH=$path taskset -c 0 wrk -t1 -c32 -d"${duration}s" -s bench/km/token.lua "$url")
  after=$(ticks "$pid")
  if grep -q 'Non-2xx' <<<"$out" || ! grep -q 'Requests/sec' <<<"$out"; then
    printf '%s: failed requests\n%s\n' "$name" "$out" >&2
    exit 1
  fi
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  awk -v n="$name" -v r="$rps" -v q="$reqs" -v t=$((after - before)) -v hz="$hz" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN{cpu=t/hz; printf "%-14s %8.0f tokens/s  %6.1f%% of a core  %6.1f us CPU/token  %6.0f tokens per CPU second  (load %s)\n", n, r, 100*cpu/'"$duration"', 1e6*cpu/q, q/cpu, l}'
}


echo "== $(date -u +%FT%TZ) keygate $("$bin" --version | awk '{print $2}'), ${duration}s x $runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
dir=$work/keygate
mkdir -p "$dir"
cp bench/km/deployment.toml "$dir/"
sed -i "s/^# worker_threads = .*/worker_threads = 1/" "$dir/deployment.toml"
(cd "$dir" && exec taskset -c 1 "$bin" server --config deployment.toml --port-offset "$offset" >keygate.log 2>&1) &
kg_pid=$!
pids+=("$kg_pid")
until curl -ksf -o /dev/null "https://127.0.0.1:$port/health/ready"; do
  kill -0 "$kg_pid" 2>/dev/null || { cat "$dir/keygate.log" >&2; exit 1; }
  sleep 0.05
done
registered=$(curl -ksf -u admin:bench-admin-Passw0rd -H 'Content-Type: application/json' \
  -d '{"client_name":"bench-jwt","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","token_type_extension":"JWT"}' \
  "https://127.0.0.1:$port/client-registration/v1/register" |
  python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])')
read -r id secret <<<"$registered"
kg_basic=$(basic "$id" "$secret")
BENCH_BASIC=$kg_basic taskset -c 0 wrk -t1 -c32 -d3s -s bench/km/token.lua "https://127.0.0.1:$port" >/dev/null
for i in $(seq 1 "$runs"); do
  if [ -n "${PERF:-}" ] && [ "$i" = "$runs" ]; then
    perf record -q -g -e cpu-clock -p "$kg_pid" -o "$PERF" -- sleep "$duration" 2>/dev/null &
    perf_pid=$!
    measure keygate "$kg_pid" "https://127.0.0.1:$port" "$kg_basic"
    wait "$perf_pid" || true
  else
    measure keygate "$kg_pid" "https://127.0.0.1:$port" "$kg_basic"
  fi
done
echo "tokens stored: $(ls -la "$dir/data" | awk '/apim/{printf "%s %s  ", $NF, $5}')"
kill "$kg_pid" && wait "$kg_pid" 2>/dev/null || true

if [ "${PEER:-0}" = 1 ]; then
  (cd bench/km && exec taskset -c 1 node op.mjs >"$work/op.log" 2>&1) &
  op_pid=$!
  pids+=("$op_pid")
  until curl -sf -o /dev/null "http://127.0.0.1:$op_port/.well-known/openid-configuration"; do
    kill -0 "$op_pid" 2>/dev/null || { cat "$work/op.log" >&2; exit 1; }
    sleep 0.05
  done
  op_basic=$(basic client1 secret1)
  BENCH_BASIC=$op_basic BENCH_PATH=/token taskset -c 0 wrk -t1 -c32 -d3s -s bench/km/token.lua "http://127.0.0.1:$op_port" >/dev/null
  for _ in $(seq 1 "$runs"); do
    measure oidc-provider "$op_pid" "http://127.0.0.1:$op_port" "$op_basic" /token
  done
fi
