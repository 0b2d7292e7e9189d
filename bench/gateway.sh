#!/usr/bin/env bash
# Gateway benchmark, on loopback only: one proxy at a time on CPU 1 with one worker
# thread, wrk (1 thread, 64 connections) and the static backend on CPU 0.
#
#  - backend:      nginx `return 200` (its own nginx, one worker, on CPU 0);
#  - nginx-proxy:  nginx, one worker, plain `proxy_pass` with kept-alive upstream
#                  connections;
#  - haproxy-jwt:  HAProxy 2.6, one thread, `jwt_verify` RS256 of the bearer token, its
#                  `exp`, and a stick table counting requests per `sub` (limit far above
#                  the load);
#  - keygate (`keygate server`, every role in one process, `worker_threads = 1`, SQLite
#    in a temporary directory, bench/gateway/deployment.toml), set up through its REST
#    APIs by bench/gateway/seed.py:
#      keygate-full  JWT validation + subscription + scope + throttling (resource,
#                    subscription with spike arrest, application policies) + request
#                    events, on /full/1.0.0;
#      keygate-off   the same backend through /off/1.0.0: auth scheme None, Unlimited
#                    policies;
#      keygate-10k   the full pipeline on a second node that also holds APIS (10,000)
#                    more APIs and SUBSCRIPTIONS (100,000) more subscriptions;
#      keygate-nopub the full pipeline on a third node whose file sets `[apim.throttling]
#                    enable_data_publishing = false`: no request events, the rest the
#                    same (keygate-full / keygate-nopub is the cost of publishing them).
# Runs alternate between the cases so that all see the same machine; medians and p99.
#
# Usage: bench/gateway.sh [seconds per run, default 15]
# Environment: CASES (the cases to run, default all of them: "nginx-proxy haproxy-jwt
# keygate-full keygate-off keygate-10k keygate-nopub"; only their servers are started,
# e.g. CASES="keygate-full keygate-nopub"), RUNS (3), OFFSET (300: the first node's ports
# are 8280/9443 + OFFSET, the unpublishing node's + OFFSET + 150, the seeded node's +
# OFFSET + 200), PORT_BASE (19010: backend, nginx +1, HAProxy +2),
# APIS (10000), SUBSCRIPTIONS (100000), BENCH_RUST_LOG (the nodes' RUST_LOG, default
# `info,keygate::access=off`: no access log, as the peers write none), KEYGATE_BIN (target/release/keygate, built when
# missing). Needs nginx and HAProxy 2.6 (installed from Debian when missing), wrk, curl,
# openssl, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
runs=${RUNS:-3}
offset=${OFFSET:-300}
many_offset=$((offset + 200))
nopub_offset=$((offset + 150))
read -r -a cases <<<"${CASES:-nginx-proxy haproxy-jwt keygate-full keygate-off keygate-10k keygate-nopub}"
for c in "${cases[@]}"; do
  case $c in
    nginx-proxy | haproxy-jwt | keygate-full | keygate-off | keygate-10k | keygate-nopub) ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
# selected CASE...: whether any of the cases runs.
selected() {
  local c want
  for want in "$@"; do
    for c in "${cases[@]}"; do [ "$c" = "$want" ] && return 0; done
  done
  return 1
}
port_base=${PORT_BASE:-19010}
apis=${APIS:-10000}
subscriptions=${SUBSCRIPTIONS:-100000}
password=bench-admin-Passw0rd
backend_port=$port_base
nginx_port=$((port_base + 1))
haproxy_port=$((port_base + 2))
# No access log, as the peers write none.
log_filter=${BENCH_RUST_LOG:-info,keygate::access=off}
bin=${KEYGATE_BIN:-target/release/keygate}
[ -x "$bin" ] || cargo build --release -p keygate
bin=$(realpath "$bin")
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

. bench/lib.sh

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# cpu_ticks PID: CPU time (user + system, clock ticks) of a process and its children so
# far (nginx's master and worker).
cpu_ticks() {
  local p total=0
  for p in "$1" $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

# load NAME PID URL [wrk arguments...]: one wrk run on CPU 0 against the server PID;
# prints "req/s p99_ms cpu_share cpu_us_per_request" (the share of a CPU the server
# got, and its CPU time per request: other work on the machine lowers the first, not
# the second). Any non-2xx answer fails the benchmark.
load() {
  local name=$1 pid=$2 url=$3 out before after requests
  shift 3
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 0 wrk -t1 -c64 -d"${duration}s" --latency "$@" "$url")
  after=$(cpu_ticks "$pid")
  if grep -q 'Non-2xx' <<<"$out" || ! grep -q 'Requests/sec' <<<"$out"; then
    printf '%s: failed requests\n%s\n' "$name" "$out" >&2
    exit 1
  fi
  requests=$(awk '/requests in/{print $1}' <<<"$out")
  printf '%s %s %s %s\n' "$(awk '/Requests\/sec/{print $2}' <<<"$out")" \
    "$(awk '$1=="99%"{print $2}' <<<"$out" | to_ms)" \
    "$(awk -v t=$((after - before)) -v hz="$hz" -v d="$duration" 'BEGIN{printf "%.2f", t / hz / d}')" \
    "$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN{printf "%.1f", 1e6 * t / hz / n}')"
}

# wait_for URL [curl arguments...]: until URL answers 200 (30 s at most).
wait_for() {
  local url=$1 i
  shift
  for i in $(seq 1 600); do
    [ "$(curl -ks -o /dev/null -w '%{http_code}' "$@" "$url")" = 200 ] && return 0
    sleep 0.05
  done
  echo "no 200 from $url" >&2
  exit 1
}

# The backend on CPU 0 beside wrk, the same for every proxy.
mkdir -p "$work/backend" "$work/nginx"
cat >"$work/backend/nginx.conf" <<N
worker_processes 1;
daemon off;
pid $work/backend/nginx.pid;
error_log $work/backend/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server { listen 127.0.0.1:$backend_port; location / { return 200 '{"hello":"world"}'; } }
}
N
taskset -c 0 nginx -p "$work/backend/" -c "$work/backend/nginx.conf" &
backend_pid=$!
pids+=("$backend_pid")

# The peers on CPU 1, configured as bench/README.md describes.
cat >"$work/nginx/nginx.conf" <<N
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream be { server 127.0.0.1:$backend_port; keepalive 256; }
  server { listen 127.0.0.1:$nginx_port; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
N
if selected nginx-proxy; then
  taskset -c 1 nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" &
  nginx_pid=$!
  pids+=("$nginx_pid")
fi

openssl genrsa -out "$work/key.pem" 2048 2>/dev/null
openssl rsa -in "$work/key.pem" -pubout -out "$work/pub.pem" 2>/dev/null
jwt_header=$(printf '{"alg":"RS256","typ":"JWT","kid":"k1"}' | b64url)
jwt_payload=$(printf '{"iss":"https://localhost:9443/oauth2/token","sub":"admin","aud":"client1","exp":%d,"scope":"default"}' "$(($(date +%s) + 86400))" | b64url)
jwt_signature=$(printf '%s.%s' "$jwt_header" "$jwt_payload" | openssl dgst -sha256 -sign "$work/key.pem" -binary | b64url)
haproxy_token=$jwt_header.$jwt_payload.$jwt_signature
cat >"$work/haproxy.cfg" <<H
global
  nbthread 1
  maxconn 5000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend gw
  bind 127.0.0.1:$haproxy_port
  stick-table type string len 64 size 100k expire 60s store http_req_rate(60s)
  http-request set-var(txn.bearer) http_auth_bearer
  http-request deny status 401 unless { var(txn.bearer) -m found }
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny status 401 unless { var(txn.alg) -m str RS256 }
  http-request deny status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$work/pub.pem") -m int 1 }
  http-request set-var(txn.now) date()
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request deny status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('\$.sub')
  http-request track-sc0 var(txn.sub)
  http-request deny status 429 if { sc_http_req_rate(0) gt 100000000 }
  default_backend be
backend be
  server s1 127.0.0.1:$backend_port
H
if selected haproxy-jwt; then
  taskset -c 1 haproxy -f "$work/haproxy.cfg" &
  haproxy_pid=$!
  pids+=("$haproxy_pid")
fi

# A CA and a certificate for localhost signed by it, for every node's management
# listener: the control plane verifies its bearer tokens against the key manager's JWKS
# over HTTPS, trusting the system's roots (SSL_CERT_FILE: this CA) and no self-signed
# certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=keygate bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$work/localhost.key.pem" -out "$work/localhost.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$work/leaf.ext"
openssl x509 -req -in "$work/localhost.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/leaf.ext" -out "$work/localhost.cert.pem" 2>/dev/null

# start_keygate NAME OFFSET [PUBLISH]: a fresh node (unpinned while it is set up); sets
# node_pid. The offset goes into the file (`[server] offset`) so that the default
# key-manager service URL follows it; PUBLISH (true) becomes `[apim.throttling]
# enable_data_publishing`.
start_keygate() {
  local dir=$work/$1 i
  mkdir -p "$dir/data/tls"
  sed -e "s/^worker_threads = 1$/worker_threads = 1\noffset = $2/" \
    -e "s/^enable_data_publishing = true$/enable_data_publishing = ${3:-true}/" \
    bench/gateway/deployment.toml >"$dir/deployment.toml"
  grep -q "^enable_data_publishing = ${3:-true}$" "$dir/deployment.toml"
  cp "$work/localhost.cert.pem" "$work/localhost.key.pem" "$dir/data/tls/"
  (cd "$dir" && SSL_CERT_FILE=$work/ca.pem RUST_LOG=$log_filter exec "$bin" server --config deployment.toml >keygate.log 2>&1) &
  node_pid=$!
  pids+=("$node_pid")
  for i in $(seq 1 600); do
    curl -sf --cacert "$work/ca.pem" -o /dev/null "https://localhost:$((9443 + $2))/health/ready" && return 0
    kill -0 "$node_pid" 2>/dev/null || { cat "$dir/keygate.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$1 not ready" >&2
  exit 1
}

# The replica's revision, from the gateway's metrics.
revision() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^keygate_gateway_replica_revision /{print $2}'; }

# settle GATEWAY_PORT: until the replica's revision stays the same for two seconds.
settle() {
  local last=none now
  while now=$(revision "$1"); [ "$now" != "$last" ]; do
    last=$now
    sleep 2
  done
}

backend_url=http://127.0.0.1:$backend_port/
wait_for "$backend_url"
selected nginx-proxy && wait_for "http://127.0.0.1:$nginx_port/"
selected haproxy-jwt && wait_for "http://127.0.0.1:$haproxy_port/x" -H "Authorization: Bearer $haproxy_token"

echo "== keygate $("$bin" --version | awk '{print $2}'), nginx $(nginx -v 2>&1 | sed 's/.*\///'), HAProxy $(haproxy -v | awk 'NR==1{print $3}'); $(nproc) cores; ${duration}s x $runs runs, wrk -t1 -c64"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

one_port=$((8280 + offset))
many_port=$((8280 + many_offset))
nopub_port=$((8280 + nopub_offset))
# Every thread of a node on CPU 1 once it is set up.
if selected keygate-full keygate-off; then
  start_keygate one "$offset"
  one_pid=$node_pid
  seeded=$(python3 bench/gateway/seed.py "https://127.0.0.1:$((9443 + offset))" "$backend_url" "$password")
  eval "$(grep '^token=' <<<"$seeded")"
  one_token=$token
  wait_for "http://127.0.0.1:$one_port/full/1.0.0/x" -H "Authorization: Bearer $one_token"
  wait_for "http://127.0.0.1:$one_port/off/1.0.0/x"
fi
if selected keygate-nopub; then
  start_keygate nopub "$nopub_offset" false
  nopub_pid=$node_pid
  seeded=$(python3 bench/gateway/seed.py "https://127.0.0.1:$((9443 + nopub_offset))" "$backend_url" "$password")
  eval "$(grep '^token=' <<<"$seeded")"
  nopub_token=$token
  wait_for "http://127.0.0.1:$nopub_port/full/1.0.0/x" -H "Authorization: Bearer $nopub_token"
fi
if selected keygate-10k; then
  start_keygate many "$many_offset"
  many_pid=$node_pid
  seeded=$(python3 bench/gateway/seed.py "https://127.0.0.1:$((9443 + many_offset))" "$backend_url" "$password" \
    --apis "$apis" --subscriptions "$subscriptions")
  eval "$(grep -E '^(token|seed_seconds)=' <<<"$seeded")"
  many_token=$token
  echo "seeded $apis APIs and $subscriptions subscriptions through the REST APIs in ${seed_seconds} s"
  wait_for "http://127.0.0.1:$many_port/full/1.0.0/x" -H "Authorization: Bearer $many_token"
  settle "$many_port"
fi
for p in ${one_pid:-} ${nopub_pid:-} ${many_pid:-}; do
  taskset -a -p -c 1 "$p" >/dev/null
done

# run_case NAME: one load of a case.
run_case() {
  case $1 in
    backend) load "$1" "$backend_pid" "$backend_url" ;;
    nginx-proxy) load "$1" "$nginx_pid" "http://127.0.0.1:$nginx_port/" ;;
    haproxy-jwt) load "$1" "$haproxy_pid" "http://127.0.0.1:$haproxy_port/x" -H "Authorization: Bearer $haproxy_token" ;;
    keygate-full) load "$1" "$one_pid" "http://127.0.0.1:$one_port/full/1.0.0/x" -H "Authorization: Bearer $one_token" ;;
    keygate-off) load "$1" "$one_pid" "http://127.0.0.1:$one_port/off/1.0.0/x" ;;
    keygate-10k) load "$1" "$many_pid" "http://127.0.0.1:$many_port/full/1.0.0/x" -H "Authorization: Bearer $many_token" ;;
    keygate-nopub) load "$1" "$nopub_pid" "http://127.0.0.1:$nopub_port/full/1.0.0/x" -H "Authorization: Bearer $nopub_token" ;;
  esac
}

# Warm every case up (connections, caches) before measuring.
for c in backend "${cases[@]}"; do
  duration=3 run_case "$c" >/dev/null
done
declare -A rps p99 share cost
for i in $(seq 1 "$runs"); do
  for c in backend "${cases[@]}"; do
    res=$(run_case "$c")
    read -r r p cpu us <<<"$res"
    rps[$c]+="$r " p99[$c]+="$p " share[$c]+="$cpu " cost[$c]+="$us "
    printf 'run %s %-14s %10s req/s  p99 %6s ms  CPU %4s  %6s us CPU/request\n' "$i" "$c" "$r" "$p" "$cpu" "$us"
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

m() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "== medians (backend alone on CPU 0, the proxy on CPU 1)"
declare -A med mp99 mcost
for c in backend "${cases[@]}"; do
  med[$c]=$(m "${rps[$c]}")
  mp99[$c]=$(m "${p99[$c]}")
  mcost[$c]=$(m "${cost[$c]}")
  printf '%-14s %10.0f req/s  p99 %6.2f ms  CPU %4.2f  %6.1f us CPU/request  (runs: %s)\n' "$c" "${med[$c]}" "${mp99[$c]}" "$(m "${share[$c]}")" "${mcost[$c]}" "${rps[$c]% }"
done
ratio() { awk -v a="$2" -v b="$3" -v g="$4" -v n="$1" 'BEGIN{printf "%-34s %.2fx (goal >= %s) %s\n", n, a/b, g, (a/b >= g ? "met" : "NOT met")}'; }
# goal A B GOAL: the ratio A / B by req/s, when both cases ran.
goal() { [ -n "${med[$1]:-}" ] && [ -n "${med[$2]:-}" ] && ratio "$1 / $2" "${med[$1]}" "${med[$2]}" "$3" || true; }
# goal_cpu A B GOAL: the same per CPU second (B's CPU per request over A's).
goal_cpu() { [ -n "${mcost[$1]:-}" ] && [ -n "${mcost[$2]:-}" ] && ratio "$1 / $2" "${mcost[$2]}" "${mcost[$1]}" "$3" || true; }
goal keygate-full nginx-proxy 1.0
goal keygate-full haproxy-jwt 2.5
goal keygate-full keygate-off 0.9
goal keygate-10k keygate-full 0.9
goal keygate-full keygate-nopub 0.95
if [ -n "${mp99[keygate-full]:-}" ] && [ -n "${mp99[nginx-proxy]:-}" ]; then
  awk -v k="${mp99[keygate-full]}" -v n="${mp99[nginx-proxy]}" 'BEGIN{d=k-n; printf "%-34s %+.2f ms (goal <= +1 ms) %s\n", "keygate-full p99 - nginx-proxy p99", d, (d <= 1 ? "met" : "NOT met")}'
fi
echo "== the same goals per CPU time (requests per CPU-second: 1e6 / us per request)"
goal_cpu keygate-full nginx-proxy 1.0
goal_cpu keygate-full haproxy-jwt 2.5
goal_cpu keygate-full keygate-off 0.9
goal_cpu keygate-10k keygate-full 0.9
goal_cpu keygate-full keygate-nopub 0.95
