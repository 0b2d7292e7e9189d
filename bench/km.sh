#!/usr/bin/env bash
# Key manager benchmark, on loopback only.
#
#  1. client_credentials → RS256 JWT access tokens (RFC 9068), persisted to SQLite:
#     keygate (release build, `keygate server` with bench/km/deployment.toml, clients
#     registered by DCR) against panva's oidc-provider 9 (bench/km/op.mjs, JWT access
#     tokens RS256, in-memory storage) under the same wrk load: 1 thread, 32 connections,
#     HTTP Basic client authentication (bench/km/token.lua). Runs alternate between the
#     two servers so that both see the same machine.
#  2. introspection of an opaque token by the client it was issued to (introspect.lua).
#  3. per core: keygate with one worker thread pinned to CPU 1 (wrk pinned to CPU 0)
#     against `openssl speed rsa2048` signs/s on one core, and against the RS256 JWS
#     keygate's own signer (aws-lc) makes per second on that core
#     (crates/keygate-jose/examples/sign_speed.rs, built when missing): its ceiling.
#
# Usage: bench/km.sh [seconds per run, default 15]
# Environment: RUNS (3, medians are reported), OFFSET (200: keygate on 9443+OFFSET),
# OP_PORT (19003), KEYGATE_BIN (target/release/keygate, built when missing).
# Needs curl, node (npm), wrk (installed from Debian when missing), taskset, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
runs=${RUNS:-3}
offset=${OFFSET:-200}
op_port=${OP_PORT:-19003}
port=$((9443 + offset))
admin=(-u admin:bench-admin-Passw0rd)
bin=${KEYGATE_BIN:-target/release/keygate}
[ -x "$bin" ] || cargo build --release -p keygate
bin=$(realpath "$bin")
command -v wrk >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
[ -d bench/km/node_modules/oidc-provider ] || (cd bench/km && npm ci --no-audit --no-fund)

. bench/lib.sh


# load NAME URL LUA [wrk prefix...]: one wrk run; prints "req/s p99_ms"; any non-2xx fails.
load() {
  local name=$1 url=$2 script=$3 out
  shift 3
  out=$("$@" wrk -t1 -c32 -d"${duration}s" --latency -s "$script" "$url")
  if grep -q 'Non-2xx' <<<"$out" || ! grep -q 'Requests/sec' <<<"$out"; then
    printf '%s: failed requests\n%s\n' "$name" "$out" >&2
    exit 1
  fi
  printf '%s %s\n' "$(awk '/Requests\/sec/{print $2}' <<<"$out")" \
    "$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)"
}

# start_keygate THREADS [prefix...]: a fresh node from the bench config; THREADS is
# `all` or a worker thread count.
start_keygate() {
  local threads=$1 dir
  shift
  dir=$work/keygate-$threads
  mkdir -p "$dir"
  cp bench/km/deployment.toml "$dir/"
  if [ "$threads" != all ]; then
    sed -i "s/^# worker_threads = .*/worker_threads = $threads/" "$dir/deployment.toml"
  fi
  (cd "$dir" && exec "$@" "$bin" server --config deployment.toml --port-offset "$offset" >keygate.log 2>&1) &
  keygate_pid=$!
  pids+=("$keygate_pid")
  until curl -ksf -o /dev/null "https://127.0.0.1:$port/health/ready"; do
    kill -0 "$keygate_pid" 2>/dev/null || { cat "$dir/keygate.log" >&2; exit 1; }
    sleep 0.05
  done
  # Clients through dynamic client registration, as an administrator.
  local registered
  registered=$(register bench-jwt JWT)
  read -r jwt_id jwt_secret <<<"$registered"
  registered=$(register bench-opaque OAUTH)
  read -r opaque_id opaque_secret <<<"$registered"
}

stop_keygate() {
  kill "$keygate_pid" && wait "$keygate_pid" 2>/dev/null || true
}

# register NAME TOKEN_TYPE: a client_credentials client by DCR; prints "client_id secret".
register() {
  curl -ksf "${admin[@]}" -H 'Content-Type: application/json' \
    -d "{\"client_name\":\"$1\",\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"client_secret_basic\",\"token_type_extension\":\"$2\"}" \
    "https://127.0.0.1:$port/client-registration/v1/register" |
    python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])'
}

# token URL ID SECRET: one client_credentials token.
token() {
  curl -ksf -u "$2:$3" -d grant_type=client_credentials -d scope=default "$1" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

# The JOSE header of a JWT.
jose_header() { cut -d. -f1 <<<"$1" | tr '_-' '/+' | awk '{n=length($0)%4; if(n) $0=$0 substr("===",1,4-n); print}' | base64 -d; }

expect_rs256_jwt() {
  local header
  header=$(jose_header "$2")
  grep -q '"alg":"RS256"' <<<"$header" && grep -q '"typ":"at+jwt"' <<<"$header" ||
    { echo "$1 did not issue an RS256 at+jwt: $header" >&2; exit 1; }
}

kg=https://127.0.0.1:$port
op=http://127.0.0.1:$op_port

echo "== keygate $("$bin" --version | awk '{print $2}') and oidc-provider $(node -p "require('./bench/km/node_modules/oidc-provider/package.json').version"), $(nproc) cores, ${duration}s x $runs runs, wrk -t1 -c32"
start_keygate all
(cd bench/km && exec node op.mjs >"$work/op.log" 2>&1) &
op_pid=$!
pids+=("$op_pid")
until curl -sf -o /dev/null "$op/.well-known/openid-configuration"; do
  kill -0 "$op_pid" 2>/dev/null || { cat "$work/op.log" >&2; exit 1; }
  sleep 0.05
done
expect_rs256_jwt keygate "$(token "$kg/oauth2/token" "$jwt_id" "$jwt_secret")"
expect_rs256_jwt oidc-provider "$(token "$op/token" client1 secret1)"

kg_basic=$(basic "$jwt_id" "$jwt_secret")
op_basic=$(basic client1 secret1)
# Warm both up (connections, caches, JIT) before measuring.
duration=3 BENCH_BASIC=$kg_basic load warmup "$kg" bench/km/token.lua >/dev/null
duration=3 BENCH_BASIC=$op_basic BENCH_PATH=/token load warmup "$op" bench/km/token.lua >/dev/null
kg_rps=() kg_p99=() op_rps=() op_p99=()
for i in $(seq 1 "$runs"); do
  res=$(BENCH_BASIC=$kg_basic load keygate "$kg" bench/km/token.lua)
  read -r r p <<<"$res"
  kg_rps+=("$r") kg_p99+=("$p")
  echo "run $i keygate        $r tokens/s  p99 ${p} ms"
  res=$(BENCH_BASIC=$op_basic BENCH_PATH=/token load oidc-provider "$op" bench/km/token.lua)
  read -r r p <<<"$res"
  op_rps+=("$r") op_p99+=("$p")
  echo "run $i oidc-provider  $r tokens/s  p99 ${p} ms"
done
kill "$op_pid" && wait "$op_pid" 2>/dev/null || true

opaque=$(token "$kg/oauth2/token" "$opaque_id" "$opaque_secret")
case $opaque in *.*) echo "bench-opaque got a JWT" >&2; exit 1 ;; esac
curl -ksf -u "$opaque_id:$opaque_secret" -d "token=$opaque" "$kg/oauth2/introspect" | grep -q '"active":true' ||
  { echo "the opaque token does not introspect as active" >&2; exit 1; }
in_rps=() in_p99=()
for i in $(seq 1 "$runs"); do
  res=$(BENCH_BASIC=$(basic "$opaque_id" "$opaque_secret") BENCH_TOKEN=$opaque load introspect "$kg" bench/km/introspect.lua)
  read -r r p <<<"$res"
  in_rps+=("$r") in_p99+=("$p")
  echo "run $i keygate introspection (opaque)  $r req/s  p99 ${p} ms"
done
stop_keygate

# One core: keygate's every thread on CPU 1, wrk on CPU 0; openssl on CPU 1.
start_keygate 1 taskset -c 1
kg_basic=$(basic "$jwt_id" "$jwt_secret")
duration=3 BENCH_BASIC=$kg_basic load warmup "$kg" bench/km/token.lua taskset -c 0 >/dev/null
one_rps=() one_p99=()
for i in $(seq 1 "$runs"); do
  res=$(BENCH_BASIC=$kg_basic load keygate-1core "$kg" bench/km/token.lua taskset -c 0)
  read -r r p <<<"$res"
  one_rps+=("$r") one_p99+=("$p")
  echo "run $i keygate one core  $r tokens/s  p99 ${p} ms"
done
stop_keygate
signs=$(taskset -c 1 openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/{print $(NF-1)}')
echo "openssl speed -seconds 3 rsa2048 on one core: $signs sign/s"
# The same signatures as keygate makes them (aws-lc, RS256 compact JWS): the ceiling of
# keygate's tokens/s on one core.
signer=target/release/examples/sign_speed
[ -x "$signer" ] || cargo build --release -p keygate-jose --example sign_speed
jws_signs=$(taskset -c 1 "$signer" 3 | awk '/signs\/s/{print $(NF-7)}')
echo "keygate-jose sign_speed (aws-lc RS256) on one core: $jws_signs sign/s"

m() { printf '%s\n' "$@" | median; }
kg_m=$(m "${kg_rps[@]}") op_m=$(m "${op_rps[@]}") one_m=$(m "${one_rps[@]}")
echo
echo "== medians"
printf '%-44s %10.0f tokens/s  p99 %7.2f ms\n' "keygate client_credentials (RS256, SQLite)" "$kg_m" "$(m "${kg_p99[@]}")"
printf '%-44s %10.0f tokens/s  p99 %7.2f ms\n' "oidc-provider client_credentials (RS256)" "$op_m" "$(m "${op_p99[@]}")"
printf '%-44s %10.0f req/s     p99 %7.2f ms\n' "keygate introspection (opaque)" "$(m "${in_rps[@]}")" "$(m "${in_p99[@]}")"
printf '%-44s %10.0f tokens/s  p99 %7.2f ms\n' "keygate on one core" "$one_m" "$(m "${one_p99[@]}")"
printf '%-44s %10.0f signs/s\n' "openssl rsa2048 on one core" "$signs"
printf '%-44s %10.0f signs/s\n' "aws-lc RS256 JWS on one core" "$jws_signs"
awk -v k="$kg_m" -v o="$op_m" 'BEGIN{printf "keygate / oidc-provider: %.2fx (goal >= 2x)\n", k/o}'
awk -v k="$one_m" -v s="$signs" 'BEGIN{printf "keygate one core / openssl signs per core: %.0f%% (goal >= 80%%)\n", 100*k/s}'
awk -v k="$one_m" -v s="$jws_signs" 'BEGIN{printf "keygate one core / aws-lc JWS signs per core: %.0f%%\n", 100*k/s}'
