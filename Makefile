# The two commands a fresh Debian 12 machine needs: `make run` and `make test`.
# Everything else here is a step of those two.

CARGO ?= cargo
APP_FEATURES := --features custom-protocol
TARGET_DIR := target/debug

.PHONY: run test deps test-deps ui binaries lint test-rust test-ui test-e2e clean

run: deps ui
	$(CARGO) build -p o365-auth-app $(APP_FEATURES)
	$(TARGET_DIR)/o365-auth-app

test: test-deps
	scripts/test-all.sh

deps:
	scripts/install-deps.sh run

test-deps:
	scripts/install-deps.sh test

ui:
	npm --prefix ui run build

# Every binary the end-to-end tests use, built once.
binaries: ui
	$(CARGO) build -p o365-auth-app $(APP_FEATURES)
	$(CARGO) build -p o365-auth -p entra-emulator --bins

lint: ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features o365-auth-app/custom-protocol -- -D warnings
	npm --prefix ui run lint
	npm --prefix ui run check

test-rust:
	scripts/test-all.sh rust

test-ui:
	scripts/test-all.sh ui

test-e2e:
	scripts/test-all.sh e2e

clean:
	$(CARGO) clean
	rm -rf ui/dist artifacts
