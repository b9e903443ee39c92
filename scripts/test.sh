#!/usr/bin/env bash
# Runs every test of drbook. On a fresh machine with only rustup and cargo it
# installs what it needs first. The test crate's build script builds every
# runbook and test guest for wasm32-wasip2.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
cargo test --locked "$@"
# The SDK is a guest crate (not a default member); its tests and doc examples
# run natively.
cargo test --locked -p drbook-sdk "$@"
