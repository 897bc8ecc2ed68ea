#!/usr/bin/env bash
# The refresh scheduler with 10,000 accounts whose tokens expire within 10 minutes, the
# emulator adding 20 ms to every token request: refreshes before expiry, token requests per
# second against the cap, the service's peak RSS. Reported in BENCHMARKS.md ("Scheduler at
# scale"). A run of the three default variants takes about 45 minutes.
#
# Usage: scripts/bench-scheduler.sh [--accounts 10000] [--variants 10:random,20:random,20:sorted]
#            [--window 600] [--latency-ms 20] [--runs 1] [--lead 30] [--margin SECONDS]
#            [--max-seconds S] [--first-run 1] [--dir target/bench-scheduler]
# See crates/core/examples/bench_scheduler.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p o365-auth-core --example bench_scheduler
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
changed=""
git diff --quiet HEAD -- crates ':!crates/core/examples/bench_*' 2>/dev/null || changed=" + uncommitted changes under crates/"
echo "$(uname -srm), $(nproc) cores, $(uptime | sed 's/.*load/load/'); at $(git rev-parse --short HEAD)$changed"
exec "$target_dir/release/examples/bench_scheduler" "$@"
