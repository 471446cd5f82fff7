#!/usr/bin/env bash
# Interop: the official PubNub SDKs (Python `pubnub` from PyPI, Rust `pubnub` from
# crates.io) against presence-emulator. One command, run by .ci/run:
#
#   bash interop/run.sh                 # build + start the emulator, run both sides
#   bash interop/run.sh --python-only   # (or --rust-only) one side
#   bash interop/run.sh --origin 127.0.0.1:8090   # use an emulator already running
#                                                 # (it must serve the two keysets below)
#   bash interop/run.sh --switches-origin 127.0.0.1:8091   # and one with the switches on
#
# Besides the main emulator, run.sh starts a second one with the service's behaviours
# switched on (--realistic --rate-limit 10, keysets switches-cache and switches-rate) for
# the Python side's cache and 429 checks; with --origin and no --switches-origin those
# checks are skipped.
#
# Needs: Rust (cargo), Python >= 3.9 with venv + pip, and OpenSSL headers for the Rust
# SDK's native-tls (installed with apt-get when missing and running as root).
# Environment: CARGO_TARGET_DIR applies to the emulator build (default: the workspace's
# target/); INTEROP_TARGET_DIR is the Rust interop crate's (default: interop/target).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

PY_PUBNUB_VERSION="10.8.0"     # keep in step with python/requirements.txt
PLAIN_KEYSET="demo-interop"
SIGNED_KEYSET="sub-signed:pub-signed:sec-signed"
INTEROP_TARGET_DIR="${INTEROP_TARGET_DIR:-$HERE/target}"

run_python=1
run_rust=1
origin=""
switches_origin=""
SWITCHES_FLAGS=(--realistic --rate-limit 10 --keyset switches-cache --keyset switches-rate)
while [ $# -gt 0 ]; do
    case "$1" in
        --python-only) run_rust=0 ;;
        --rust-only) run_python=0 ;;
        --origin) origin="${2:?--origin needs host:port}"; shift ;;
        --switches-origin) switches_origin="${2:?--switches-origin needs host:port}"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "interop: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

start=$(date +%s)
say() { printf '[interop t+%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

mkdir -p "$INTEROP_TARGET_DIR"
emu_pid=""
switches_pid=""
rust_build_pid=""
cleanup() {
    if [ -n "$rust_build_pid" ] && kill -0 "$rust_build_pid" 2>/dev/null; then
        kill "$rust_build_pid" 2>/dev/null || true
    fi
    for pid in "$emu_pid" "$switches_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

# ---- prerequisites of the Rust SDK (reqwest with native-tls → openssl-sys) -----------
if [ "$run_rust" = 1 ] && ! { command -v pkg-config >/dev/null && pkg-config --exists openssl; }; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing pkg-config and libssl-dev (openssl-sys, for the Rust SDK's native-tls)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libssl-dev >/dev/null
    else
        echo "FAIL  interop: the Rust SDK needs OpenSSL headers and pkg-config (Debian: apt-get install pkg-config libssl-dev)" >&2
        exit 1
    fi
fi

# ---- Rust interop crate: build in the background while the rest gets ready -----------
rust_log="$INTEROP_TARGET_DIR/rust-build.log"
if [ "$run_rust" = 1 ]; then
    say "building the Rust interop crate (pubnub 0.9.0) in the background → $rust_log"
    ( cd "$HERE/rust" && CARGO_TARGET_DIR="$INTEROP_TARGET_DIR" \
        cargo build --locked --quiet >"$rust_log" 2>&1 ) &
    rust_build_pid=$!
fi

# ---- emulator ---------------------------------------------------------------------------
# The origin an emulator started with output to $1 (pid $2) prints first; exits on failure.
origin_of() {
    local o=""
    for _ in $(seq 1 100); do
        o="$(sed -n 's#^presence-emulator listening on http://##p' "$1" | sed -n 1p)"
        [ -n "$o" ] && break
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$o" ]; then
        echo "FAIL  interop: the emulator did not start; its log:" >&2
        cat "$1" >&2
        exit 1
    fi
    printf '%s' "$o"
}
if [ -z "$origin" ]; then
    say "building presence-emulator"
    ( cd "$ROOT" && cargo build --quiet -p presence-emulator --bin presence-emulator )
    emu_bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/presence-emulator"
    case "$emu_bin" in /*) ;; *) emu_bin="$ROOT/$emu_bin" ;; esac
    emu_log="$INTEROP_TARGET_DIR/emulator.log"
    "$emu_bin" --listen 127.0.0.1:0 --keyset "$PLAIN_KEYSET" --keyset "$SIGNED_KEYSET" \
        >"$emu_log" 2>&1 &
    emu_pid=$!
    origin="$(origin_of "$emu_log" "$emu_pid")"
    if [ "$run_python" = 1 ] && [ -z "$switches_origin" ]; then
        switches_log="$INTEROP_TARGET_DIR/emulator-switches.log"
        "$emu_bin" --listen 127.0.0.1:0 "${SWITCHES_FLAGS[@]}" >"$switches_log" 2>&1 &
        switches_pid=$!
        switches_origin="$(origin_of "$switches_log" "$switches_pid")"
    fi
fi

# Wait until it answers (GET /time/0 → 200) — python3 is a prerequisite anyway.
PY="$(command -v python3.11 || command -v python3)"
if ! "$PY" - "$origin" <<'EOF'
import sys, time, urllib.request
url = f"http://{sys.argv[1]}/time/0"
deadline = time.monotonic() + 10
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                break
    except Exception as e:  # noqa: BLE001
        if time.monotonic() > deadline:
            sys.exit(f"no answer from {url}: {e}")
    time.sleep(0.1)
EOF
then
    echo "FAIL  interop: the emulator at $origin does not answer" >&2
    exit 1
fi
say "emulator answering on http://$origin (keysets $PLAIN_KEYSET and ${SIGNED_KEYSET%%:*} signed)"

failed=()
py_result="skipped"
rust_result="skipped"

# ---- Python side ------------------------------------------------------------------------
if [ "$run_python" = 1 ]; then
    venv="$HERE/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv with $("$PY" --version 2>&1)"
        "$PY" -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pubnub') != '$PY_PUBNUB_VERSION')" 2>/dev/null; then
        say "pip install pubnub==$PY_PUBNUB_VERSION"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$HERE/python/requirements.txt" -c "$HERE/python/constraints.txt"
    fi
    say "python: official pubnub $PY_PUBNUB_VERSION against the emulator"
    switches_args=()
    if [ -n "$switches_origin" ]; then
        say "python: switches on http://$switches_origin (${SWITCHES_FLAGS[*]})"
        switches_args=(--switches-origin "$switches_origin")
    fi
    if "$venv/bin/python" "$HERE/python/test_presence.py" --origin "$origin" \
        --plain-keyset "$PLAIN_KEYSET" --signed-keyset "$SIGNED_KEYSET" "${switches_args[@]}"; then
        py_result="PASS"
    else
        py_result="FAIL"
        failed+=(python)
    fi
fi

# ---- Rust side --------------------------------------------------------------------------
if [ "$run_rust" = 1 ]; then
    say "waiting for the Rust interop build"
    if wait "$rust_build_pid"; then
        rust_build_pid=""
        say "rust: official pubnub 0.9.0 against the emulator"
        if "$INTEROP_TARGET_DIR/debug/presence-interop-rust" --origin "http://$origin" \
            --plain-keyset "$PLAIN_KEYSET" --signed-keyset "$SIGNED_KEYSET"; then
            rust_result="PASS"
        else
            rust_result="FAIL"
            failed+=(rust)
        fi
    else
        rust_build_pid=""
        echo "FAIL  rust: the interop crate did not build; cargo said:"
        cat "$rust_log"
        rust_result="FAIL (build)"
        failed+=(rust)
    fi
fi

say "python: $py_result, rust: $rust_result"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL  interop: ${failed[*]}"
    if [ -n "$emu_pid" ]; then echo "(emulator log: $emu_log)"; fi
    exit 1
fi
echo "PASS  interop"
