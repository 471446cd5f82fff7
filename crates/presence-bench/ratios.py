#!/usr/bin/env python3
"""Prints the ratios of docs/PERFORMANCE.md from criterion's saved estimates.

Usage: python3 crates/presence-bench/ratios.py [TARGET_DIR ...]
(default: /work/target-bench and /work/target-peers). Uses the median point
estimate of each benchmark's last run ("new").
"""
import json
import os
import sys


def median_ns(root, group, func):
    path = os.path.join(root, "criterion", group, func, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except OSError:
        return None


def groups(root, prefix):
    base = os.path.join(root, "criterion")
    if not os.path.isdir(base):
        return []
    return sorted(g for g in os.listdir(base) if g.startswith(prefix))


def main():
    roots = sys.argv[1:] or ["/work/target-bench", "/work/target-peers"]
    for root in roots:
        for g in groups(root, "parse_"):
            typed = median_ns(root, g, "typed")
            floor = median_ns(root, g, "ignored_any_floor")
            if typed and floor:
                print(f"{g:60} typed {typed/1000:10.2f} µs  floor {floor/1000:10.2f} µs  "
                      f"typed/floor throughput {floor/typed:.3f}  (target >= 0.8)")
        for g in groups(root, "peers_parse_"):
            ours = median_ns(root, g, "presence_core")
            theirs = median_ns(root, g, "pubnub_0_9")
            if ours and theirs:
                print(f"{g:60} ours {ours/1000:10.2f} µs  pubnub {theirs/1000:10.2f} µs  "
                      f"ours/pubnub throughput {theirs/ours:.2f}  (target >= 2)")
        base = os.path.join(root, "criterion", "request_here_now")
        if os.path.isdir(base):
            for kind in ("unsigned", "signed"):
                for n in ("1", "10", "100"):
                    t = median_ns(root, "request_here_now", f"{kind}/{n}")
                    if t:
                        print(f"request here_now {kind:8} {n:>3} channels: {t/1000:8.3f} µs")


if __name__ == "__main__":
    main()
