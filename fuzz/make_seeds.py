#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from crates/presence-core/tests/fixtures/.

Response targets get every fixture body with the 2-byte prefix of fuzz/src/lib.rs:
byte0 = (variant << 2) | (status >> 8), byte1 = status & 0xff. So a 200 with variant 0
starts with b"\\x00\\xc8", a 403 with b"\\x01\\x93". Success bodies are written with 200,
error bodies with their own status and also with 200 (the "false 200" of PROTOCOL.md
section 10.7), non-JSON bodies with 200 and 502. Bodies of the target's own operation
are written once per request shape (variant) the target knows.

presence_event takes raw JSON (no prefix): every `m[*].d` payload of the subscribe
fixtures, plus every subscribe body whole.

json_reader takes raw bytes (no prefix): every fixture body whole.

emulator seeds are request targets, one per line (see fuzz_targets/emulator.rs): each
scenario below as one file, and every line on its own. Signed requests (keyset `signed`)
carry a valid v2 signature for the time the target handles them (T0 + line number).

Run from anywhere: python3 fuzz/make_seeds.py  (deterministic; rewrites the directories)
"""
import base64
import hashlib
import hmac
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/presence-core/tests/fixtures"
SEEDS = ROOT / "fuzz/seeds"

RESPONSE_TARGETS = [
    "here_now", "where_now", "heartbeat", "leave", "set_state", "get_state",
    "error_classifier", "subscribe",
]

# Request shapes (variants) per target, and which fixture names use which shape.
VARIANTS = {
    "here_now": [
        (0, re.compile(r"^here_now_single_")),
        (1, re.compile(r"^here_now_multi_")),
        (2, re.compile(r"^here_now_(channel_and_group|group_only)_")),
        (3, re.compile(r"^here_now_global_")),
    ],
    "get_state": [
        (0, re.compile(r"^get_state_single_")),
        (1, re.compile(r"^get_state_multi_")),
        (2, re.compile(r"^get_state_multi_")),
    ],
    "set_state": [
        (0, re.compile(r"^set_state_")),
        (1, re.compile(r"^set_state_")),
    ],
}


def prefix(status: int, variant: int = 0) -> bytes:
    assert 100 <= status <= 599 and 0 <= variant < 64
    return bytes([(variant << 2) | (status >> 8), status & 0xFF])


def statuses(name: str) -> list[int]:
    if name.startswith("error_false_200_"):
        return [200]
    m = re.match(r"^error_(?:heartbeat_|pam_)?(\d{3})_", name)
    if m:
        return [int(m.group(1)), 200]
    if name.startswith("error_pam_"):
        return [403, 200]
    if name.startswith("error_"):
        return [200, 500]
    if name.startswith("nonjson_"):
        return [200, 502]
    return [200]


def variants(target: str, name: str) -> list[int]:
    matched = [v for v, rx in VARIANTS.get(target, []) if rx.search(name)]
    return matched or [0]


T0 = 1_700_000_000
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def sig_encode(value: str) -> str:
    return "".join(
        chr(b) if b in UNRESERVED else f"%{b:02X}" for b in value.encode()
    )


def signed(path: str, params: list[tuple[str, str]], now: int, wire: dict) -> str:
    """A target for keyset `signed` (publish key `pub`, secret `sec`), signed at `now`.

    `params` are decoded values; `wire` maps a key to its on-the-wire form when it is
    not the plain encoding (the emulator decodes before checking)."""
    params = sorted(params + [("timestamp", str(now))])
    canonical = "&".join(f"{k}={sig_encode(v)}" for k, v in params)
    msg = f"GET\npub\n{path}\n{canonical}\n".encode()
    mac = hmac.new(b"sec", msg, hashlib.sha256).digest()
    sig = "v2." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    query = "&".join(f"{k}={wire.get(k, sig_encode(v))}" for k, v in params)
    return f"{path}?{query}&signature={sig}"


P = "/v2/presence/sub-key"
STATE = "%7B%22a%22%3A%7B%22mood%22%3A%22ok%22%7D%7D"


def emulator_scenarios() -> dict[str, list[str]]:
    sc = {
        "open_lifecycle": [
            f"{P}/sk/channel/a,b%20c/heartbeat?heartbeat=60&uuid=ann&state={STATE}",
            f"{P}/sk/channel/a,b%20c?uuid=bob&state=1",
            f"/v2/presence/sub_key/sk?uuid=bob&disable_uuids=1",
            f"{P}/sk?uuid=bob&state=1&limit=1&offset=0",
            f"{P}/sk/uuid/ann?uuid=bob",
            f"{P}/sk/channel/a/uuid/ann/data?uuid=ann&state=%7B%22k%22%3A%22v%22%7D",
            f"{P}/sk/channel/a,b%20c/uuid/ann?uuid=bob",
            f"{P}/sk/channel/a/uuid/ann?uuid=bob",
            f"/v2/subscribe/sk/a-pnpres/0?tt=0&uuid=w",
            f"/v2/subscribe/sk/a-pnpres,b%20c-pnpres/0?tt=17000000000000000&tr=1&uuid=w&heartbeat=60",
            f"{P}/sk/channel/a/leave?uuid=ann",
            f"{P}/sk/channel/a?uuid=bob&limit=2&offset=1",
        ],
        "groups": [
            "/v1/channel-registration/sub-key/sk/channel-group/g?add=a,b&uuid=u",
            "/v1/channel-registration/sub-key/sk/channel-group/g?uuid=u",
            "/v1/channel-registration/sub-key/sk/channel-group?uuid=u",
            f"{P}/sk/channel/,/heartbeat?channel-group=g&uuid=ann&heartbeat=30",
            f"{P}/sk/channel/,?channel-group=g%2Cg2&uuid=u",
            f"{P}/sk/channel/,/uuid/ann/data?channel-group=g&uuid=ann&state=%7B%22n%22%3A5%7D",
            f"{P}/sk/channel/,/uuid/ann?channel-group=g&uuid=u",
            "/v2/subscribe/sk/,/0?channel-group=g-pnpres&tt=0&uuid=w",
            f"{P}/sk/channel/,/leave?channel-group=g&uuid=ann",
            "/v1/channel-registration/sub-key/sk/channel-group/g?remove=a&uuid=u",
            "/v1/channel-registration/sub-key/sk/channel-group/g/remove?uuid=u",
        ],
        "pam": [
            f"{P}/pam/channel/ch/heartbeat?uuid=u&auth=tok",
            f"{P}/pam/channel/ch,other/heartbeat?uuid=u&auth=tok",
            f"{P}/pam/channel/ch?uuid=u",
            f"{P}/pam/channel/,?channel-group=g,h&uuid=u&auth=tok",
            f"{P}/pam/uuid/u?uuid=u&auth=tok",
            "/v2/subscribe/pam/ch-pnpres/0?tt=0&uuid=w&auth=tok",
        ],
        "bad_params": [
            f"{P}/sk/channel/a?uuid=u&limit=0",
            f"{P}/sk/channel/a?uuid=u&limit=1001",
            f"{P}/sk/channel/a?uuid=u&offset=-1",
            f"{P}/sk/channel/a/heartbeat?uuid=u&heartbeat=19",
            f"{P}/sk/channel/a/heartbeat?uuid=u&heartbeat=abc",
            f"{P}/sk/channel/a/uuid/u/data?uuid=u&state=%7Bnot%20json",
            f"{P}/sk/channel/a/uuid/u/data?uuid=u&state=%5B1%5D",
            f"{P}/sk/channel/a/heartbeat",
            f"{P}/sk/channel/a%ZZ/heartbeat?uuid=u",
            f"{P}/sk/channel/%FF%FE/heartbeat?uuid=%C3%28",
            f"{P}/nokey/channel/a?uuid=u",
            f"{P}/sk/channel/a?uuid=u&uuid=v&state=1&state=0&disable-uuids=1",
            "/v2/presence/sub-key/sk/channel/a/unknown?uuid=u",
            "/time/0",
            "/",
        ],
        "methods": [
            f"OPTIONS {P}/sk/channel/a?uuid=u",
            f"POST {P}/sk/channel/a/heartbeat?uuid=u",
            f"DELETE /v1/channel-registration/sub-key/sk/channel-group/g?uuid=u",
        ],
    }
    sc["signed"] = [
        signed(f"{P}/signed/channel/a%20b/heartbeat",
               [("heartbeat", "60"), ("uuid", "ann"), ("pnsdk", "fuzz/1")], T0 + 1,
               {}),
        signed(f"{P}/signed/channel/a%20b",
               [("uuid", "bob"), ("state", "1")], T0 + 2, {}),
        signed(f"{P}/signed/channel/a%20b/uuid/ann/data",
               [("uuid", "ann"), ("state", '{"k":"v w"}')], T0 + 3, {}),
        signed(f"{P}/signed/channel/,",
               [("uuid", "bob"), ("channel-group", "g1,g2")], T0 + 4,
               {"channel-group": "g1,g2"}),
        f"{P}/signed/channel/a?uuid=u&timestamp={T0}&signature=v2.AAAA",
        f"{P}/signed/channel/a?uuid=u",
    ]
    return sc


def main() -> None:
    fixtures = sorted(
        p for p in FIXTURES.iterdir() if p.is_file() and p.name != "SOURCES.md"
    )
    for target in RESPONSE_TARGETS + ["presence_event", "json_reader", "emulator"]:
        d = SEEDS / target
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    counts = {}
    for target in RESPONSE_TARGETS:
        n = 0
        for f in fixtures:
            body = f.read_bytes()
            stem = f.stem
            for status in statuses(stem):
                for variant in variants(target, stem) if status == 200 else [0]:
                    out = SEEDS / target / f"{stem}.s{status}.v{variant}"
                    out.write_bytes(prefix(status, variant) + body)
                    n += 1
        counts[target] = n
    n = 0
    for f in fixtures:
        if not f.name.startswith("subscribe_"):
            continue
        raw = f.read_bytes()
        (SEEDS / "presence_event" / f"{f.stem}.envelope").write_bytes(raw)
        n += 1
        for i, m in enumerate(json.loads(raw).get("m", [])):
            if "d" in m:
                out = SEEDS / "presence_event" / f"{f.stem}.m{i}.d"
                out.write_bytes(json.dumps(m["d"], ensure_ascii=False).encode())
                n += 1
    counts["presence_event"] = n
    for f in fixtures:
        (SEEDS / "json_reader" / f.name).write_bytes(f.read_bytes())
    counts["json_reader"] = len(fixtures)
    n = 0
    for name, lines in emulator_scenarios().items():
        (SEEDS / "emulator" / f"{name}.all").write_text("\n".join(lines))
        n += 1
        for i, line in enumerate(lines):
            # Alone, a line is handled at T0 + 1: signed lines are still inside the
            # emulator's 600 s signature window.
            (SEEDS / "emulator" / f"{name}.{i:02}").write_text(line)
            n += 1
    counts["emulator"] = n
    for target, n in counts.items():
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
