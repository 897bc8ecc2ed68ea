#!/usr/bin/env bash
# The desktop app's cold start to tray ready, memory with the window hidden, and idle wake-ups
# (scripts/bench_app.py says how). Builds the release app, then runs it under Xvfb and a private
# D-Bus session with an unlocked gnome-keyring, as scripts/test-all.sh does for the tests.
# Usage: scripts/bench-app.sh [ROUNDS] [IDLE_SECONDS]   (defaults 10 and 60)
set -euo pipefail
cd "$(dirname "$0")/.."
npm --prefix ui run --silent build
cargo build --quiet --release -p o365-auth-app --features custom-protocol
home=$(mktemp -d -t o365-auth-bench-session.XXXXXX)
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/run" && chmod 700 "$home/run"
HOME="$home" XDG_RUNTIME_DIR="$home/run" xvfb-run -a -s "-screen 0 1280x900x24" dbus-run-session -- bash -c '
  printf %s bench-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec python3 scripts/bench_app.py target/release/o365-auth-app "$@"
' bench "${1:-10}" "${2:-60}"
