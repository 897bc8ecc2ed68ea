#!/usr/bin/env bash
# `o365-auth token` as a whole process (warm service, cached token) side by side in one run
# with a bare /bin/true and python-o365 handing out a cached token; prints medians and ratios.
# The issue's target: o365-auth token's median ≤ 1.5× /bin/true's.
#
# Usage: scripts/bench-token.sh [ROUNDS]   (default 2000; python-o365 runs every 20th round)
#
# Everything runs on this machine: the entra-emulator in the benchmark process, the release
# o365-auth-daemon on a temporary socket and passphrase store. python-o365 is measured when
# target/interop-venv exists (scripts/install-deps.sh makes it). See crates/cli/benches/token.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --quiet -p o365-auth --bench token -- "${1:-2000}"
