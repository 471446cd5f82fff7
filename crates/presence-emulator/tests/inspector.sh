#!/usr/bin/env bash
# The inspector in a real browser (issue 13, item 4): starts the emulator binary with
# an admin token, makes occupants join (one with state, two channels, a group), loads
# /_emulator/#token=… in headless Chromium and checks from the DOM the page rendered
# (after its script read the admin API's stream) that the channels, the occupants, the
# state and a join event are shown; saves a screenshot.
#
#   bash crates/presence-emulator/tests/inspector.sh     (needs Debian's `chromium`)
#
# The static page holds no channel, occupant or event: each check fails on a page
# whose script did not render.
set -euo pipefail
cd "$(dirname "$0")/../../.."
target=${CARGO_TARGET_DIR:-target}
cargo build -q -p presence-emulator --bin presence-emulator
bin="$target/debug/presence-emulator"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "inspector.sh: chromium is not installed (apt-get install -y chromium)" >&2
    exit 1
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/presence-inspector.XXXXXX")
token="inspector-$$-token"

"$bin" --listen 127.0.0.1:0 --keyset demo --admin-token "$token" >"$out/emulator.out" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q 'listening on' "$out/emulator.out" && break
    sleep 0.1
done
origin=$(sed -n 's/^presence-emulator listening on //p' "$out/emulator.out")
port=${origin##*:}
[ -n "$port" ] || { cat "$out/emulator.out" >&2; exit 1; }

# One GET over bash's /dev/tcp (no HTTP client needed); prints the status line.
get() {
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" >&3
    head -n 1 <&3
    exec 3<&-
}
hb=/v2/presence/sub-key/demo/channel
get "$hb/lobby,hall/heartbeat?uuid=ann&heartbeat=60&state=%7B%22lobby%22%3A%7B%22mood%22%3A%22happy%22%7D%7D" | grep -q ' 200 '
get "$hb/lobby/heartbeat?uuid=bob" | grep -q ' 200 '
get "$hb/hall/leave?uuid=ann" | grep -q ' 200 '
get "/v1/channel-registration/sub-key/demo/channel-group/rooms?add=lobby,hall&uuid=x" | grep -q ' 200 '

url="$origin/_emulator/#token=$token"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
       --user-data-dir="$out/profile" --virtual-time-budget=5000)
"$browser" "${flags[@]}" --dump-dom "$url" >"$out/dom.html" 2>"$out/chromium.log"
"$browser" "${flags[@]}" --window-size=1400,900 --screenshot="$out/inspector.png" "$url" \
    >/dev/null 2>>"$out/chromium.log"

passed=0
failed=0
pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1" >&2; failed=$((failed + 1)); }
check() {
    if grep -qF -- "$1" "$out/dom.html"; then pass "$2"; else fail "$2 (no $1 in the DOM)"; fi
}
check 'data-channel="lobby"' 'channel lobby is shown'
check 'class="occ" title="occupancy">2<' 'lobby shows occupancy 2'
check 'data-uuid="ann"' 'occupant ann is shown'
check 'data-uuid="bob"' 'occupant bob is shown'
check '{"mood":"happy"}' "ann's state is shown"
check 'data-action="join"' 'a join event is in the feed'
check 'data-action="leave"' 'the leave event is in the feed'
check 'rooms' 'the channel group is shown'
check 'live</span>' 'the stream is connected (the token from the fragment was taken)'
if grep -qF 'data-channel="hall"' "$out/dom.html"; then
    fail "hall has no occupant left but is shown"
else
    pass "hall, empty since ann left, is not shown"
fi
if [ -s "$out/inspector.png" ]; then pass "screenshot saved"; else fail "no screenshot"; fi
# The checks can fail: without its script the page shows none of it.
"$browser" "${flags[@]}" --blink-settings=scriptEnabled=false --dump-dom "$url" \
    >"$out/dom-no-script.html" 2>>"$out/chromium.log"
if grep -qE 'data-(channel|uuid|action)=' "$out/dom-no-script.html"; then
    fail "the page without its script already shows data"
else
    pass "the page without its script shows no channel, occupant or event"
fi
echo "screenshot: $out/inspector.png"
echo "inspector: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
    echo "DOM saved in $out/dom.html" >&2
    exit 1
fi
