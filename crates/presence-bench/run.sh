#!/usr/bin/env bash
# Runs every benchmark of docs/PERFORMANCE.md in sequence and prints the machine
# and its load before each one. Usage (from the repository root):
#   bash crates/presence-bench/run.sh [--peers]   # --peers adds bench-peers (builds pubnub 0.9)
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "nproc: $(nproc)"
grep -m1 'model name' /proc/cpuinfo || true
rustc --version
for b in parse parse_ratio request emulator emulator_memory emulator_http emulator_longpoll e2e roster fleet; do
  echo; echo "== $b  ($(uptime))"
  cargo bench -q -p presence-bench --bench "$b" 2>&1 | grep -v '^Benchmarking\|^\s*$\|^Found\|^  [0-9]* (\|^Gnuplot\|^WARNING' || true
done
if [ "${1:-}" = "--peers" ]; then
  for b in peers_parse peers_e2e; do
    echo; echo "== $b  ($(uptime))"
    cargo bench -q --manifest-path bench-peers/Cargo.toml --bench "$b" 2>&1 \
      | grep -v '^Benchmarking\|^\s*$\|^Found\|^  [0-9]* (\|^Gnuplot\|^WARNING' || true
  done
fi
echo; echo "== done ($(uptime))"
