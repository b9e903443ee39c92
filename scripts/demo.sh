#!/usr/bin/env bash
# The main job: a 3-tier application's recovery plan, failed over group by
# group by the `failover-plan` runbook on the embedded Site Recovery simulator
# (no cloud account), at an accelerated speed. On a fresh machine with only
# rustup and cargo it installs and builds everything first.
#
# Environment: DRBOOK_DATA_DIR (default target/demo), DEMO_SPEED (default 60:
# one simulated minute per second).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
cargo build --locked --release -p drbook
cargo build --locked --target wasm32-wasip2 --profile runbook \
    -p failover-plan -p commit-plan -p reprotect-plan -p failback-plan -p dr-drill

export DRBOOK_DATA_DIR="${DRBOOK_DATA_DIR:-$PWD/target/demo}"
drbook=target/release/drbook
runbooks=target/wasm32-wasip2/runbook

# Each example declares what it may start in its Cargo.toml
# ([package.metadata.drbook] operations); written into the module as its
# capability manifest, as tests/build.rs does, so its jobs are held to it.
for dir in runbooks/*/; do
    operations=$(sed -n 's/^operations = \[\(.*\)\]$/\1/p' "$dir/Cargo.toml" | tr -d '",')
    name=$(basename "$dir" | tr - _)
    # shellcheck disable=SC2086 # one --operation value per word
    if ! said=$("$drbook" runbook grant "$runbooks/$name.wasm" --operation $operations 2>&1); then
        echo "$said" >&2
        exit 1
    fi
done

# A fresh demo fabric: eastus -> westus, 12 VMs, and its recovery plan.
"$drbook" fabric init --demo --force
plan="$DRBOOK_DATA_DIR/plans/contoso-3tier.toml"
"$drbook" fabric show
echo
"$drbook" plan validate "$plan"
echo
"$drbook" --speed "${DEMO_SPEED:-60}" run "$runbooks/failover_plan.wasm" --plan "$plan" --type planned
echo
"$drbook" fabric show
