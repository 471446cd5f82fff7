#!/usr/bin/env bash
# CI smoke run of every fuzz target on stable (see docs/FUZZING.md).
#
#   fuzz/smoke.sh [seconds-per-target]     (default 5)
#
# Builds every target once (`-s none`: no sanitizer, works on stable), then runs each
# for a few seconds over its committed seeds. New inputs go to a throw-away corpus
# directory so the committed seeds are never modified. Fails on the first crash.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
targets=$(cargo fuzz list)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
start=$(date +%s)
cargo fuzz build -s none
for t in $targets; do
  mkdir -p "$corpus/$t"
  echo "== $t (${secs}s)"
  rc=0
  cargo fuzz run -s none "$t" "$corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -max_len=65536 -print_final_stats=1 >"$corpus/$t.log" 2>&1 || rc=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units)' "$corpus/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$corpus/$t.log"
    echo "smoke: $t FAILED (exit $rc); reproduce with: cargo fuzz run -s none $t fuzz/artifacts/$t/<crash-file>"
    exit "$rc"
  fi
done
echo "smoke: all targets passed in $(( $(date +%s) - start ))s"
