#!/usr/bin/env bash
# Runs every test of drbook. On a fresh machine with only rustup and cargo it
# installs what it needs first. The test crate's build script builds every
# runbook and test guest for wasm32-wasip2.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
# Azure's Python SDK test (crates/drbook/tests/azure_sdk_cli.rs) and the Azure
# CLI's (crates/drbook/tests/azure_cli_credential_cli.rs) make venvs: Debian's
# python3 needs python3-venv for that.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
# The registry tests (crates/module-oci/tests/, crates/drbook/tests/oci_cli.rs)
# start Debian's CNCF distribution registry on 127.0.0.1 (.ci/run gets it
# through this script).
if ! command -v docker-registry >/dev/null; then
  apt-get update -qq && apt-get install -y -qq docker-registry
fi
# The evidence reports' PDFs are printed by headless Chromium and read back
# by pdftotext in crates/drbook/tests/report_cli.rs (no skip: they must be
# there); the console's browser test (crates/drbook/tests/console_browser_cli.rs)
# drives Chromium through chromedriver (under CI it fails without them).
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
command -v chromedriver >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium-driver; }
command -v pdftotext >/dev/null || { apt-get update -qq && apt-get install -y -qq poppler-utils; }
# PostgreSQL's tests (the job store's conformance suite in crates/store-postgres,
# crates/drbook/tests/postgres_cli.rs) start a throwaway cluster with its
# server binaries (initdb, pg_ctl; .ci/run installs them). Under CI they always
# run, and fail if the cluster cannot start; elsewhere they run where the
# binaries are, and are skipped, loudly, where they are not.
postgres=(--features drbook/postgres-tests,drbook-store-postgres/testing)
skipped_postgres=""
if [ -z "${CI:-}" ] && [ -z "${DRBOOK_PG_BIN:-}" ] && ! command -v initdb >/dev/null \
  && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  skipped_postgres="SKIPPED: postgres (install postgresql to enable: apt-get install postgresql)"
  echo "$skipped_postgres" >&2
  postgres=()
fi
cargo test --locked "${postgres[@]}" "$@"
# The SDK is a guest crate (not a default member); its tests and doc examples
# run natively.
cargo test --locked -p drbook-sdk "$@"
if [ -n "$skipped_postgres" ]; then
  echo "$skipped_postgres" >&2
fi
