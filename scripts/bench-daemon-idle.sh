#!/usr/bin/env bash
# The real o365-auth-daemon (release) idle: RSS and wake-ups with a few signed-in accounts.
# Reported in BENCHMARKS.md ("Idle headless service"). The issue's target: < 20 MB RSS.
#
# Usage: scripts/bench-daemon-idle.sh [SECONDS] [ACCOUNTS]   (defaults 60 and 4; 1-9 accounts)
#
# Setup, not measured: the entra-emulator binary on a free loopback port with one tenant of
# ACCOUNTS users and a public app with User.Read and offline_access consented by an admin; a
# first daemon on a temporary socket and passphrase store (no keyring needed), the app added
# and every user signed in with the password flow through the real o365-auth CLI; that
# daemon stopped. Measured: a second daemon started on that store (what a login session
# gets), left alone for SECONDS from the moment it answers `status` (that one call is the
# only client it sees): VmRSS/VmHWM from /proc/PID/status every 5 s, context switches summed
# over its threads from /proc/PID/task/*/status (voluntary = the thread slept and was woken),
# timeslices from /proc/PID/task/*/schedstat, CPU time from /proc/PID/stat, and, when perf
# works, `perf stat -e context-switches,cpu-migrations,task-clock -p PID` over the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
accounts="${2:-4}"
tenant="5f1c0c6e-9b8a-4d3e-8a52-53a4e1b0d7c2"
client="3b0e8f4c-6a7d-4c1e-9f2b-7d5a6c8e9f01"
password="bench-password"

cargo build --quiet --release -p o365-auth --bins
cargo build --quiet --release -p entra-emulator --bin entra-emulator
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
daemon_bin="$target_dir/release/o365-auth-daemon"
cli_bin="$target_dir/release/o365-auth"
emulator_bin="$target_dir/release/entra-emulator"

work="$(mktemp -d "${TMPDIR:-/tmp}/bench-daemon-idle.XXXXXX")"
emulator_pid=""
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; fi
  if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then kill "$emulator_pid"; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

{
  echo 'messages_per_user = 0'
  echo '[[tenants]]'
  echo "id = \"$tenant\""
  echo 'display_name = "Bench"'
  echo 'domains = ["bench.onmicrosoft.com"]'
  for i in $(seq 1 "$accounts"); do
    echo '[[tenants.users]]'
    echo "username = \"user$i@bench.onmicrosoft.com\""
    echo "display_name = \"User $i\""
    echo "password = \"$password\""
  done
  echo '[[tenants.apps]]'
  echo "client_id = \"$client\""
  echo 'display_name = "bench"'
  echo 'allow_public_client_flows = true'
  echo 'delegated_permissions = ["User.Read", "offline_access"]'
  echo 'pre_consented_scopes = ["User.Read", "offline_access"]'
  echo 'redirect_uris = [{ uri = "http://localhost", kind = "public_client" }]'
} > "$work/emulator.toml"

"$emulator_bin" --config "$work/emulator.toml" --port 0 > "$work/emulator.out" 2> "$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/emulator.out" 2>/dev/null && break
  sleep 0.05
done
authority="$(sed -n 's/^entra-emulator listening on //p' "$work/emulator.out")"
[ -n "$authority" ] || { echo "the emulator did not start:" >&2; cat "$work/emulator.log" >&2; exit 1; }

export O365_AUTH_SOCKET="$work/run/ipc.sock" O365_AUTH_NO_AUTOSTART=1
echo "bench passphrase" > "$work/passphrase"
start_daemon() {
  "$daemon_bin" --socket "$O365_AUTH_SOCKET" --store "$work/store.sqlite3" \
    --passphrase-file "$work/passphrase" --log-file "$work/daemon.log" < /dev/null &
  daemon_pid=$!
  for _ in $(seq 1 600); do
    "$cli_bin" status > /dev/null 2>&1 && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; exit 1
}
stop_daemon() {
  "$cli_bin" stop > /dev/null 2>&1 || kill "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}

start_daemon
"$cli_bin" app add bench --client-id "$client" --tenant "$tenant" --authority "$authority" > /dev/null
for i in $(seq 1 "$accounts"); do
  echo "$password" | "$cli_bin" login --password --username "user$i@bench.onmicrosoft.com" > /dev/null
done
"$cli_bin" token --account "user1@bench.onmicrosoft.com" > /dev/null
stop_daemon

# What is measured starts here.
start_daemon
pid="$daemon_pid"
signed_in="$("$cli_bin" accounts 2>/dev/null | grep -c '@bench.onmicrosoft.com' || true)"

status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
snapshot() { # per thread: tid voluntary nonvoluntary timeslices
  for task in /proc/"$pid"/task/*; do
    awk -v tid="${task##*/}" '
      FILENAME ~ /status$/ && $1 == "voluntary_ctxt_switches:" { v = $2 }
      FILENAME ~ /status$/ && $1 == "nonvoluntary_ctxt_switches:" { n = $2 }
      FILENAME ~ /schedstat$/ { s = $3 }
      END { print tid, v + 0, n + 0, s + 0 }' "$task/status" "$task/schedstat" 2>/dev/null || true
  done
}
# Sums the differences over the threads alive at both snapshots; says how many came and went.
delta() {
  awk 'NR == FNR { v[$1] = $2; n[$1] = $3; s[$1] = $4; next }
       ($1 in v) { dv += $2 - v[$1]; dn += $3 - n[$1]; ds += $4 - s[$1]; both++; delete v[$1]; next }
       { born++ }
       END { gone = 0; for (t in v) gone++; print dv + 0, dn + 0, ds + 0, both + 0, born + 0, gone }' "$1" "$2"
}
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"; }
thread_names() { for task in /proc/"$pid"/task/*; do cat "$task/comm"; done | sort | uniq -c | awk '{ printf "%s×%s ", $1, $2 }'; }

snapshot > "$work/threads0"
cpu0="$(cpu_ticks)"
threads0="$(thread_names)"
rss0="$(status_kib VmRSS)"
perf_out="$work/perf-stat.txt"
perf_pid=""
if perf stat -e task-clock -p "$pid" -- true > /dev/null 2>&1; then
  perf stat -e context-switches,cpu-migrations,task-clock -p "$pid" -o "$perf_out" -- sleep "$seconds" &
  perf_pid=$!
fi
samples=""
elapsed=0
while [ "$elapsed" -lt "$seconds" ]; do
  step=$(( seconds - elapsed < 5 ? seconds - elapsed : 5 ))
  sleep "$step"
  elapsed=$((elapsed + step))
  samples="$samples $elapsed:$(mib "$(status_kib VmRSS)")"
done
[ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
rss1="$(status_kib VmRSS)"
hwm="$(status_kib VmHWM)"
snapshot > "$work/threads1"
read -r dvol dinvol dslices both born gone < <(delta "$work/threads0" "$work/threads1")
cpu1="$(cpu_ticks)"
threads1="$(thread_names)"

changed=""
git diff --quiet HEAD -- crates ':!crates/core/examples/bench_*' 2>/dev/null || changed=" + uncommitted changes under crates/"
printf '%s, %s cores, at %s%s\n' "$(uname -srm)" "$(nproc)" "$(git rev-parse --short HEAD)" "$changed"
printf 'o365-auth-daemon idle for %s s with %s signed-in accounts (pid %s; %s)\n' "$seconds" "$signed_in" "$pid" "$(uptime | sed 's/.*load/load/')"
printf '  VmRSS %s MiB after start, %s MiB after %s s (MiB every 5 s:%s); VmHWM %s MiB\n' \
  "$(mib "$rss0")" "$(mib "$rss1")" "$seconds" "$samples" "$(mib "$hwm")"
printf '  at the end: RssAnon %s MiB, RssFile %s MiB, RssShmem %s MiB; largest mappings by Rss (KiB):\n' \
  "$(mib "$(status_kib RssAnon)")" "$(mib "$(status_kib RssFile)")" "$(mib "$(status_kib RssShmem)")"
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6) } $1 == "Rss:" { rss[name] += $2 }
     END { for (n in rss) print rss[n], n }' "/proc/$pid/smaps" | sort -rn | head -6 | sed 's/^/    /'
printf '  threads at start: %s\n  threads at end:   %s\n' "$threads0" "$threads1"
printf '  over the %s s, summed over the %s threads alive at both ends (%s started, %s ended meanwhile): %s voluntary + %s involuntary context switches (%s/s), %s timeslices; %s ms CPU (whole process)\n' \
  "$seconds" "$both" "$born" "$gone" "$dvol" "$dinvol" "$(awk -v n=$((dvol + dinvol)) -v s="$seconds" 'BEGIN { printf "%.2f", n / s }')" \
  "$dslices" "$(( (cpu1 - cpu0) * 10 ))"
if [ -s "$perf_out" ]; then
  echo "  perf stat -p $pid over the same $seconds s:"
  grep -E "context-switches|cpu-migrations|task-clock" "$perf_out" | sed 's/^ */    /'
fi
