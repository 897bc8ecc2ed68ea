#!/usr/bin/env bash
# Installs what building, running and testing o365-auth needs on Debian 12, and nothing that is
# already there. Usage: scripts/install-deps.sh [run|test]
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"

# Build and run the desktop app (Tauri v2 on WebKitGTK, Ayatana tray).
packages=(build-essential pkg-config file libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev libssl-dev libdbus-1-dev xdg-utils desktop-file-utils libglib2.0-bin)
if [ "$purpose" = test ]; then
  # A headless display, a session bus with an unlocked keyring, notifications, a real browser,
  # the X tools the app smoke test uses to find and photograph the window, and xclip to read
  # what the tray put on the clipboard.
  packages+=(xvfb xauth dbus gnome-keyring libsecret-tools notification-daemon chromium
    webkit2gtk-driver x11-utils xdotool xclip imagemagick python3 python3-venv)
  # The mail recipes of docs/cli.md, run by crates/cli/tests/recipes.rs: msmtp, mbsync with
  # Cyrus SASL's XOAUTH2 plugin, NeoMutt on a tmux pane.
  packages+=(msmtp isync libsasl2-modules-kdexoauth2 neomutt tmux)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in cargo node npm; do
  command -v "$tool" >/dev/null || { echo "install-deps: $tool is missing: install Rust (rustup) and Node.js >= 20.19" >&2; exit 1; }
done
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  { echo "install-deps: Node.js >= 20.19 is needed (Vite 8); found $(node --version)" >&2; exit 1; }

if [ "$purpose" = test ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest from crates.io (a few minutes, once)"
  cargo install cargo-nextest --locked --quiet
fi
# The app window's WebDriver smoke test: tauri-driver in front of Debian's WebKitWebDriver.
if [ "$purpose" = test ] && ! command -v tauri-driver >/dev/null 2>&1 &&
  [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "install-deps: installing tauri-driver from crates.io (a minute, once)"
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi

# npm ci only when the lock file changed since the last install.
npm_install() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in $dir"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
npm_install ui
if [ "$purpose" = test ]; then
  npm_install tests/e2e
  # The real python-o365 and MSAL from PyPI, for the token-file interoperability tests.
  venv=target/interop-venv
  if [ ! -f "$venv/installed" ] || [ tests/interop/requirements.txt -nt "$venv/installed" ]; then
    echo "install-deps: python-o365 and msal into $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
    touch "$venv/installed"
  fi
fi
exit 0
