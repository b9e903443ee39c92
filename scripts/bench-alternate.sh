#!/usr/bin/env bash
# Runs the benchmarks of two builds alternately, OLD then NEW, ROUNDS times,
# for comparisons such as issue 9's "none worse by more than 10 %".
#
#   scripts/bench-alternate.sh OLD_TARGET_DIR NEW_TARGET_DIR [ROUNDS]
#
# Each target dir must hold a release build of the benches, made beforehand in
# its own checkout: `CARGO_TARGET_DIR=DIR cargo bench --locked -p drbook-tests
# --no-run`. The newest binary of each bench in a dir is the one run. Run it
# with nothing else on the machine. Prints each bench's output, headed
# `=== round R BENCH old|new`.
set -euo pipefail
old=$1/release/deps
new=$2/release/deps
rounds=${3:-2}
newest() { ls -t "$1/$2"-* | grep -v '\.d$' | head -n 1; }
for round in $(seq 1 "$rounds"); do
  for bench in runtime jobs waiting_jobs webhooks; do
    for side in old new; do
      dir=$old
      [ "$side" = new ] && dir=$new
      bin=$(newest "$dir" "$bench")
      echo "=== round $round $bench $side ($bin)"
      case $bench in
        runtime | jobs) "$bin" --bench 2>&1 | grep -E '^[a-z_]+/|time:' ;;
        waiting_jobs) "$bin" 2>&1 | tail -n 3 ;;
        webhooks) "$bin" --quick 2>&1 | grep -E 'latency|202|throughput|ended' ;;
      esac
    done
  done
done
