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

emulator seeds are request lines (see fuzz_targets/emulator.rs) and are kept by hand in
fuzz/seeds/emulator/; this script does not touch them.

Run from anywhere: python3 fuzz/make_seeds.py  (deterministic; rewrites the directories)
"""
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


def main() -> None:
    fixtures = sorted(
        p for p in FIXTURES.iterdir() if p.is_file() and p.name != "SOURCES.md"
    )
    for target in RESPONSE_TARGETS + ["presence_event"]:
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
    for target, n in counts.items():
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
