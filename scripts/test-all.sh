#!/usr/bin/env bash
# Runs every test of o365-auth: lint, Rust, UI, end-to-end. `make test` calls it.
# Usage: scripts/test-all.sh [lint|rust|ui|e2e ...]   (no argument: all stages)
#
# The whole run happens inside a headless X display (Xvfb) and a private D-Bus session bus with
# an unlocked gnome-keyring and a notification server, as the desktop app and the keyring need.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(lint rust ui e2e)

if [ -z "${O365_AUTH_TEST_SESSION:-}" ]; then
  # A fresh HOME per run: a keyring left by an earlier run with another password stays locked.
  test_home=$(mktemp -d -t o365-auth-test-home.XXXXXX)
  trap 'rm -rf "$test_home"' EXIT
  rm -rf "$root/artifacts/junit"
  mkdir -p "$root/artifacts/junit"
  status=0
  # Cargo and rustup live under the real HOME; keep them.
  CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    HOME="$test_home" XDG_RUNTIME_DIR="$test_home/run" O365_AUTH_TEST_SESSION=1 \
    xvfb-run -a -s "-screen 0 1280x900x24" dbus-run-session -- "$0" "${stages[@]}" || status=$?
  python3 scripts/junit-summary.py "$root/artifacts/junit" || status=1
  exit "$status"
fi

# A CI run builds once from clean: incremental caches would only take disk (which CI has little of).
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
printf %s "o365-auth-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
/usr/lib/notification-daemon/notification-daemon >/dev/null 2>&1 &
notifier=$!
trap 'kill "$notifier" 2>/dev/null || true' EXIT
junit="$root/artifacts/junit"
failed=()

stage() {
  local name="$1"; shift
  echo "=== $name"
  if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}

lint() {
  cargo fmt --all -- --check &&
    npm --prefix ui run --silent build &&
    cargo clippy --workspace --all-targets --features o365-auth-app/custom-protocol -- -D warnings &&
    npm --prefix ui run --silent lint &&
    npm --prefix ui run --silent check
}

rust() {
  O365_AUTH_INTEROP_PYTHON="$PWD/target/interop-venv/bin/python" \
  cargo nextest run --workspace --exclude o365-auth-app --no-fail-fast --run-ignored all
  local rc=$?
  cp target/nextest/default/junit.xml "$junit/rust.xml" 2>/dev/null || true
  return $rc
}

ui() {
  npm --prefix ui run --silent test -- --reporter=default --reporter=junit --outputFile.junit="$junit/ui.xml"
}

e2e() {
  make --no-print-directory binaries &&
    O365_AUTH_BIN_DIR="$root/target/debug" O365_AUTH_ARTIFACTS="$root/artifacts" \
      PLAYWRIGHT_JUNIT_OUTPUT_NAME="$junit/e2e.xml" npm --prefix tests/e2e test
}

for name in "${stages[@]}"; do
  case "$name" in
    lint|rust|ui|e2e) stage "$name" "$name" ;;
    *) echo "unknown stage: $name (expected lint, rust, ui or e2e)" >&2; exit 2 ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed stages: ${failed[*]}"
  exit 1
fi
