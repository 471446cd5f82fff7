#!/usr/bin/env bash
# CI smoke run of every fuzz target on stable (see docs/FUZZING.md).
#
#   fuzz/smoke.sh [seconds-per-target]     (default 5)
#
# Builds every target once (`-s none`: no sanitizer, works on stable), then runs each
# for a few seconds over its committed seeds. New inputs go to a throw-away corpus
# directory so the committed seeds are never modified. Fails on the first crash.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
#
# FUZZ_BUILD_FLAGS: cargo-fuzz build flags, default `--dev` (unoptimised, with debug
# assertions: builds in about 60 % of the time of the optimised build, which matters more
# than executions per second for a smoke run). Set it to "" for the optimised build the
# long runs use (shares fuzz/target/<triple>/release with them).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
read -r -a flags <<<"${FUZZ_BUILD_FLAGS---dev}"
targets=$(cargo fuzz list)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
start=$(date +%s)
cargo fuzz build -s none "${flags[@]}"
for t in $targets; do
  mkdir -p "$corpus/$t"
  echo "== $t (${secs}s)"
  rc=0
  cargo fuzz run -s none "${flags[@]}" "$t" "$corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len=65536 -print_final_stats=1 >"$corpus/$t.log" 2>&1 || rc=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units)' "$corpus/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$corpus/$t.log"
    echo "smoke: $t FAILED (exit $rc); reproduce with: cargo fuzz run -s none ${flags[*]} $t fuzz/artifacts/$t/<crash-file>"
    exit "$rc"
  fi
done
echo "smoke: all targets passed in $(( $(date +%s) - start ))s"
