# Shared by the benchmark scripts (sourced, not run): a scratch directory `$work` and a
# `pids` list whose processes are stopped, and the directory removed, when the script
# exits; and the small helpers every script needs.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Median of the numbers on standard input, one a line.
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# wrk's latency ("850.00us", "12.34ms", "1.55s") in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f\n", v}'; }
# CPU ticks (user + system) of a process and all its threads.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# HTTP Basic credentials for USER PASSWORD.
basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
