#!/usr/bin/env python3
"""Interop check: the official PubNub Python SDK against presence-emulator.

Usage:
    python test_presence.py --origin 127.0.0.1:PORT
        [--plain-keyset SUB] [--signed-keyset SUB:PUB:SECRET]
        [--switches-origin 127.0.0.1:PORT2]

Every presence operation the SDK exposes (heartbeat, here now in all its forms, where
now, set/get state, leave), the channel-group registry calls, and presence events over
subscribe, each with its typed result checked, once on a plain keyset and once on a
signed one (secret key set: every request carries `timestamp` + `signature`). A client
with a wrong secret key and one with no secret key must get 403 from the signed keyset.

With `--switches-origin`, an emulator started with `--realistic --rate-limit 10` and
the keysets `switches-cache` and `switches-rate`: the SDK sees the service's here-now
cache (the old answer within 3 s, the new one after) and a 429 with `Retry-After`
once a keyset goes past its rate limit (and is served again after waiting that long).

Prints one `PASS`/`FAIL`/`XFAIL` line per check, then `python: N passed, N failed`.
Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
import uuid as uuidlib
from typing import Any, Callable, Dict, List, Optional

from pubnub.callbacks import SubscribeCallback
from pubnub.endpoints.presence.leave import Leave
from pubnub.exceptions import PubNubException
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub
from pubnub.request_handlers.httpx import HttpxRequestHandler

# Checks known to fail, by name, with the reason. Strict: a listed check that passes is
# reported as a failure so the entry gets removed. Empty: the emulator passes everything.
EXPECTED_FAILURES: Dict[str, str] = {
    f"{label}: add_channel_to_channel_group with non-ASCII and '#' channel names": (
        "SDK divergence: pubnub 10.8.0 sends add=/remove= channel names without "
        "percent-encoding them (utils.join_items, not join_items_and_encode), so httpx "
        "refuses the URL client-side (UnicodeDecodeError for non-ASCII, InvalidURL for '#'); "
        "no request reaches the server"
    )
    for label in ("plain", "signed")
}

RESULTS = {"passed": 0, "failed": 0, "xfailed": 0}


def check(name: str, fn: Callable[[], Any]) -> None:
    """Runs one check: `fn` raises (AssertionError or anything) to fail."""
    reason = EXPECTED_FAILURES.get(name)
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        detail = f"{type(e).__name__}: {e}"
        if reason is not None:
            RESULTS["xfailed"] += 1
            print(f"XFAIL python/{name}: {detail} (expected: {reason})", flush=True)
        else:
            RESULTS["failed"] += 1
            print(f"FAIL  python/{name}: {detail}", flush=True)
            if os.environ.get("INTEROP_VERBOSE"):
                traceback.print_exc()
        return
    if reason is not None:
        RESULTS["failed"] += 1
        print(f"FAIL  python/{name}: passed but is listed as an expected failure ({reason})", flush=True)
    else:
        RESULTS["passed"] += 1
        print(f"PASS  python/{name}", flush=True)


def eq(actual: Any, expected: Any, what: str = "") -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def status_code_of(fn: Callable[[], Any]) -> int:
    """Runs `fn`, which must raise PubNubException; returns its HTTP status code."""
    try:
        fn()
    except PubNubException as e:
        return int(e.get_status_code())
    raise AssertionError("the call succeeded but must fail")


class Keys:
    def __init__(self, label: str, sub: str, pub: Optional[str] = None, secret: Optional[str] = None):
        self.label = label
        self.sub = sub
        self.pub = pub
        self.secret = secret


class RecordingHandler(HttpxRequestHandler):
    """The SDK's own httpx request handler, recording the headers of the last response:
    the SDK does not expose them (its ResponseInfo has no headers), and the checks of
    `Retry-After` need them. Requests and their handling are the SDK's, unchanged."""

    last_headers: Dict[str, str] = {}

    def _invoke_request(self, p_options, e_options, base_origin):
        res = super()._invoke_request(p_options, e_options, base_origin)
        if res is not None:
            RecordingHandler.last_headers = {k.lower(): v for k, v in res.headers.items()}
        return res


def client(origin: str, keys: Keys, user_id: str, *, secret: Optional[str] = None, daemon: bool = False,
           recording: bool = False) -> PubNub:
    config = PNConfiguration()
    config.subscribe_key = keys.sub
    if keys.pub:
        config.publish_key = keys.pub
    sec = secret if secret is not None else keys.secret
    if sec:
        config.secret_key = sec
    config.user_id = user_id
    config.origin = origin
    config.ssl = False
    config.daemon = daemon
    config.non_subscribe_request_timeout = 10
    config.connect_timeout = 5
    if recording:
        return PubNub(config, custom_request_handler=RecordingHandler)
    return PubNub(config)


def channel_map(result) -> Dict[str, Any]:
    """here_now result → {channel_name: PNHereNowChannelData}."""
    chans = result.channels
    if isinstance(chans, dict):  # the SDK returns {} when no channel is occupied
        return {}
    return {c.channel_name: c for c in chans}


def uuids_of(channel_data) -> List[str]:
    return sorted(o.uuid for o in channel_data.occupants)


def states_of(channel_data) -> Dict[str, Any]:
    return {o.uuid: o.state for o in channel_data.occupants}


class PresenceListener(SubscribeCallback):
    def __init__(self) -> None:
        self.events: List[Any] = []
        self.statuses: List[Any] = []
        self.cond = threading.Condition()

    def status(self, pubnub, status) -> None:
        with self.cond:
            self.statuses.append(status)
            self.cond.notify_all()

    def message(self, pubnub, message) -> None:
        pass

    def presence(self, pubnub, presence) -> None:
        with self.cond:
            self.events.append(presence)
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[Any], bool], timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e.event, e.uuid, e.channel, e.occupancy, e.state) for e in self.events]
                    raise AssertionError(f"no matching presence event within {timeout}s; saw {seen}")
                self.cond.wait(left)


def scenario(origin: str, keys: Keys, run: str) -> None:
    """Every presence operation on one keyset, with typed results checked."""
    L = keys.label
    p = f"py-{L}-{run}"
    # Names with characters that need percent-encoding (space, slash, non-ASCII, '#'),
    # which also exercise the signature canonicalisation on the signed keyset.
    # The SDK's channel-registry calls put channel names into `add=`/`remove=` without
    # percent-encoding them (see the XFAIL check below), so group members keep to
    # characters an HTTP client passes through (space, '/'); `lobby`, which is never in
    # a group, has the rest.
    lobby = f"{p}-lobby-ü#1"
    room = f"{p} room/x"
    annex = f"{p}-annex"
    grp = f"{p}-grp"
    alice_id, bob_id, carol_id = f"{p}-alice", f"{p} bob", f"{p}-carol@x"
    alice = client(origin, keys, alice_id)
    bob = client(origin, keys, bob_id)
    carol = client(origin, keys, carol_id)

    # --- channel-group registry -------------------------------------------------------
    def cg_add():
        r = alice.add_channel_to_channel_group(channels=[room, annex], channel_group=grp).sync()
        eq(r.status.is_error(), False, "status.is_error")
        eq(r.status.status_code, 200, "status code")

    def cg_list():
        r = alice.list_channels_in_channel_group(channel_group=grp).sync()
        eq(sorted(r.result.channels), sorted([room, annex]), "group channels")

    def cg_add_unencoded():
        odd = f"{grp}-odd"
        alice.add_channel_to_channel_group(channels=[f"{p}-ü", f"{p}-#1"], channel_group=odd).sync()
        r = alice.list_channels_in_channel_group(channel_group=odd).sync()
        eq(sorted(r.result.channels), sorted([f"{p}-ü", f"{p}-#1"]), "group channels")
        alice.remove_channel_group().channel_group(odd).sync()

    check(f"{L}: add_channel_to_channel_group", cg_add)
    check(f"{L}: list_channels_in_channel_group", cg_list)
    check(f"{L}: add_channel_to_channel_group with non-ASCII and '#' channel names", cg_add_unencoded)

    # --- heartbeat --------------------------------------------------------------------
    def hb_alice():
        r = alice.heartbeat().channels([lobby]).state({"mood": "ok", "n": 1}).sync()
        eq(r.status.status_code, 200, "status code")
        eq(r.result, True, "heartbeat result")

    def hb_bob():
        r = bob.heartbeat().channels([lobby, room]).sync()
        eq(r.result, True, "heartbeat result")

    def hb_carol_group():
        r = carol.heartbeat().channel_groups([grp]).sync()
        eq(r.result, True, "heartbeat result")

    check(f"{L}: heartbeat channel with state", hb_alice)
    check(f"{L}: heartbeat two channels", hb_bob)
    check(f"{L}: heartbeat channel group", hb_carol_group)

    # --- here now ---------------------------------------------------------------------
    def hn_single():
        r = alice.here_now(channels=[lobby]).sync().result
        eq(r.total_channels, 1, "total_channels")
        eq(r.total_occupancy, 2, "total_occupancy")
        eq(len(r.channels), 1, "channels")
        ch = r.channels[0]
        eq(ch.channel_name, lobby, "channel_name")
        eq(ch.occupancy, 2, "occupancy")
        eq(uuids_of(ch), sorted([alice_id, bob_id]), "uuids")
        eq(states_of(ch), {alice_id: None, bob_id: None}, "states without include_state")

    def hn_single_state():
        r = bob.here_now(channels=[lobby], include_state=True).sync().result
        ch = r.channels[0]
        eq(ch.occupancy, 2, "occupancy")
        eq(states_of(ch), {alice_id: {"mood": "ok", "n": 1}, bob_id: None}, "states")

    def hn_single_no_uuids():
        r = alice.here_now(channels=[lobby], include_uuids=False).sync().result
        eq(r.total_occupancy, 2, "total_occupancy")
        eq(r.channels[0].occupancy, 2, "occupancy")
        eq(r.channels[0].occupants, [], "occupants")

    def hn_multi():
        r = alice.here_now(channels=[lobby, room]).sync().result
        eq(r.total_channels, 2, "total_channels")
        eq(r.total_occupancy, 4, "total_occupancy")
        m = channel_map(r)
        eq(sorted(m), sorted([lobby, room]), "channel names")
        eq(m[lobby].occupancy, 2, "lobby occupancy")
        eq(uuids_of(m[lobby]), sorted([alice_id, bob_id]), "lobby uuids")
        eq(m[room].occupancy, 2, "room occupancy")
        eq(uuids_of(m[room]), sorted([bob_id, carol_id]), "room uuids")

    def hn_multi_state():
        r = alice.here_now(channels=[lobby, room], include_state=True).sync().result
        m = channel_map(r)
        eq(states_of(m[lobby]), {alice_id: {"mood": "ok", "n": 1}, bob_id: None}, "lobby states")
        eq(states_of(m[room]), {bob_id: None, carol_id: None}, "room states")

    def hn_multi_no_uuids():
        r = alice.here_now(channels=[lobby, room], include_uuids=False).sync().result
        eq(r.total_occupancy, 4, "total_occupancy")
        m = channel_map(r)
        eq({k: v.occupancy for k, v in m.items()}, {lobby: 2, room: 2}, "occupancies")
        eq([v.occupants for v in m.values()], [None, None], "occupants absent")

    def hn_group():
        r = alice.here_now(channel_groups=[grp]).sync().result
        eq(r.total_channels, 2, "total_channels")
        eq(r.total_occupancy, 3, "total_occupancy")
        m = channel_map(r)
        eq(uuids_of(m[room]), sorted([bob_id, carol_id]), "room uuids")
        eq(uuids_of(m[annex]), [carol_id], "annex uuids")

    def hn_channel_and_group():
        # One channel plus a group: the multi shape, channels of both.
        r = alice.here_now(channels=[lobby], channel_groups=[grp]).sync().result
        eq(r.total_channels, 3, "total_channels")
        eq(r.total_occupancy, 5, "total_occupancy")
        eq(sorted(channel_map(r)), sorted([lobby, room, annex]), "channels")

    def hn_pagination():
        r = alice.here_now(channels=[lobby]).limit(1).offset(1).sync().result
        eq(r.total_occupancy, 2, "total_occupancy counts everyone")
        eq(len(r.channels[0].occupants), 1, "one uuid per page")
        r0 = alice.here_now(channels=[lobby]).limit(1).offset(0).sync().result
        both = sorted([r0.channels[0].occupants[0].uuid, r.channels[0].occupants[0].uuid])
        eq(both, sorted([alice_id, bob_id]), "two pages give both uuids")

    def hn_global():
        r = alice.here_now().sync().result
        m = {k: v for k, v in channel_map(r).items() if k.startswith(p)}
        eq(sorted(m), sorted([lobby, room, annex]), "this run's channels")
        eq({k: v.occupancy for k, v in m.items()}, {lobby: 2, room: 2, annex: 1}, "occupancies")
        eq(uuids_of(m[annex]), [carol_id], "annex uuids")
        eq(r.total_channels, len(channel_map(r)), "total_channels")
        eq(r.total_occupancy, sum(c.occupancy for c in channel_map(r).values()), "total_occupancy")

    def hn_empty():
        r = alice.here_now(channels=[f"{p}-nobody"]).sync().result
        eq(r.total_occupancy, 0, "total_occupancy")
        eq(r.channels[0].occupancy, 0, "occupancy")

    check(f"{L}: here_now single channel", hn_single)
    check(f"{L}: here_now single channel include_state", hn_single_state)
    check(f"{L}: here_now single channel include_uuids=False", hn_single_no_uuids)
    check(f"{L}: here_now multiple channels", hn_multi)
    check(f"{L}: here_now multiple channels include_state", hn_multi_state)
    check(f"{L}: here_now multiple channels include_uuids=False", hn_multi_no_uuids)
    check(f"{L}: here_now channel group", hn_group)
    check(f"{L}: here_now channel + channel group", hn_channel_and_group)
    check(f"{L}: here_now limit/offset", hn_pagination)
    check(f"{L}: here_now global", hn_global)
    check(f"{L}: here_now empty channel", hn_empty)

    # --- where now --------------------------------------------------------------------
    def wn_self():
        r = alice.where_now().sync().result
        eq(sorted(r.channels), [lobby], "alice's channels")

    def wn_other():
        r = alice.where_now(user_id=bob_id).sync().result
        eq(sorted(r.channels), sorted([lobby, room]), "bob's channels")
        r = alice.where_now(user_id=carol_id).sync().result
        eq(sorted(r.channels), sorted([room, annex]), "carol's channels")

    def wn_nobody():
        r = alice.where_now(user_id=f"{p}-nobody").sync().result
        eq(r.channels, [], "channels")

    check(f"{L}: where_now self", wn_self)
    check(f"{L}: where_now other uuid", wn_other)
    check(f"{L}: where_now absent uuid", wn_nobody)

    # --- set / get state --------------------------------------------------------------
    alice_state = {"age": 30, "name": "Alice A", "tags": ["x", "y"], "ok": True}
    bob_state = {"level": 7, "motto": "a&b=c, d+e?"}
    carol_state = {"role": "mod"}

    def ss_single():
        r = alice.set_state(channels=[lobby], state=alice_state).sync()
        eq(r.result.state, alice_state, "echoed state")

    def gs_single():
        r = alice.get_state(channels=[lobby]).sync()
        eq(r.result.channels, {lobby: alice_state}, "state")

    def ss_multi():
        r = bob.set_state(channels=[lobby, room], state=bob_state).sync()
        eq(r.result.state, bob_state, "echoed state")

    def gs_multi_other():
        r = alice.get_state(channels=[lobby, room], uuid=bob_id).sync()
        eq(r.result.channels, {lobby: bob_state, room: bob_state}, "bob's states")

    def gs_single_other():
        r = bob.get_state(channels=[lobby], uuid=alice_id).sync()
        eq(r.result.channels, {lobby: alice_state}, "alice's state")

    def ss_group():
        # Python refuses groups without a channel; a channel plus a group applies the
        # state to the channel and every channel of the group.
        r = carol.set_state(channels=[annex], channel_groups=[grp], state=carol_state).sync()
        eq(r.result.state, carol_state, "echoed state")

    def gs_group():
        r = alice.get_state(channel_groups=[grp], uuid=carol_id).sync()
        eq(r.result.channels, {room: carol_state, annex: carol_state}, "carol's states")

    def hn_state_after_set():
        r = alice.here_now(channels=[lobby, room], include_state=True).sync().result
        m = channel_map(r)
        eq(states_of(m[lobby]), {alice_id: alice_state, bob_id: bob_state}, "lobby states")
        eq(states_of(m[room]), {bob_id: bob_state, carol_id: carol_state}, "room states")

    check(f"{L}: set_state single channel", ss_single)
    check(f"{L}: get_state single channel", gs_single)
    check(f"{L}: set_state multiple channels", ss_multi)
    check(f"{L}: get_state multiple channels, other uuid", gs_multi_other)
    check(f"{L}: get_state single channel, other uuid", gs_single_other)
    check(f"{L}: set_state channel + channel group", ss_group)
    check(f"{L}: get_state channel group, other uuid", gs_group)
    check(f"{L}: here_now include_state after set_state", hn_state_after_set)

    # --- leave ------------------------------------------------------------------------
    def leave_channel():
        r = Leave(bob).channels([room]).sync()
        eq(r.status.status_code, 200, "status code")
        eq(sorted(alice.where_now(user_id=bob_id).sync().result.channels), [lobby], "bob's channels")
        ch = alice.here_now(channels=[room]).sync().result.channels[0]
        eq((ch.occupancy, uuids_of(ch)), (1, [carol_id]), "room occupancy and uuids")

    def state_gone_with_occupancy():
        r = alice.get_state(channels=[lobby, room], uuid=bob_id).sync()
        eq(r.result.channels.get(lobby), bob_state, "lobby state kept")
        if r.result.channels.get(room):
            raise AssertionError(f"state on the left channel survived: {r.result.channels}")

    def leave_group():
        Leave(carol).channel_groups([grp]).sync()
        eq(alice.where_now(user_id=carol_id).sync().result.channels, [], "carol's channels")
        r = alice.here_now(channel_groups=[grp]).sync().result
        eq(r.total_occupancy, 0, "group occupancy")

    def leave_all():
        Leave(alice).channels([lobby]).sync()
        Leave(bob).channels([lobby]).sync()
        r = alice.here_now(channels=[lobby]).sync().result
        eq(r.total_occupancy, 0, "lobby occupancy")

    check(f"{L}: leave channel", leave_channel)
    check(f"{L}: state goes with occupancy", state_gone_with_occupancy)
    check(f"{L}: leave channel group", leave_group)
    check(f"{L}: leave last occupants", leave_all)

    # --- channel-group teardown -------------------------------------------------------
    def cg_remove_channel():
        alice.remove_channel_from_channel_group(channels=[annex], channel_group=grp).sync()
        r = alice.list_channels_in_channel_group(channel_group=grp).sync()
        eq(r.result.channels, [room], "group channels")

    def cg_remove_group():
        r = alice.remove_channel_group().channel_group(grp).sync()
        eq(r.status.is_error(), False, "status.is_error")
        r = alice.list_channels_in_channel_group(channel_group=grp).sync()
        eq(r.result.channels, [], "group channels")

    check(f"{L}: remove_channel_from_channel_group", cg_remove_channel)
    check(f"{L}: remove_channel_group", cg_remove_group)

    # --- presence events over subscribe ----------------------------------------------
    def events():
        ch = f"{p}-events"
        watcher_id = f"{p}-watcher"
        watcher = client(origin, keys, watcher_id, daemon=True)
        listener = PresenceListener()
        watcher.add_listener(listener)
        try:
            watcher.subscribe().channels([ch]).with_presence().execute()
            j = listener.wait_for(lambda e: e.event == "join" and e.uuid == watcher_id)
            eq((j.channel, j.occupancy), (ch, 1), "own join (channel, occupancy)")
            dave_id = f"{p}-dave"
            dave = client(origin, keys, dave_id)
            dave.heartbeat().channels([ch]).sync()
            j = listener.wait_for(lambda e: e.event == "join" and e.uuid == dave_id)
            eq((j.channel, j.occupancy), (ch, 2), "dave's join (channel, occupancy)")
            dave.set_state(channels=[ch], state={"typing": True}).sync()
            s = listener.wait_for(lambda e: e.event == "state-change" and e.uuid == dave_id)
            eq(s.state, {"typing": True}, "state-change data")
            Leave(dave).channels([ch]).sync()
            lv = listener.wait_for(lambda e: e.event == "leave" and e.uuid == dave_id)
            eq((lv.channel, lv.occupancy), (ch, 1), "dave's leave (channel, occupancy)")
            hn = dave.here_now(channels=[ch]).sync().result
            eq(uuids_of(hn.channels[0]), [watcher_id], "subscriber is present")
        finally:
            watcher.unsubscribe_all()
            watcher.stop()

    check(f"{L}: subscribe with_presence events (join, state-change, leave)", events)


def signing_negative(origin: str, keys: Keys, run: str) -> None:
    ch = f"py-neg-{run}"

    def wrong_secret():
        bad = client(origin, keys, f"py-neg-{run}", secret="not-the-secret")
        eq(status_code_of(lambda: bad.here_now(channels=[ch]).sync()), 403, "status")
        eq(status_code_of(lambda: bad.heartbeat().channels([ch]).sync()), 403, "status")

    def no_secret():
        unsigned = Keys("unsigned", keys.sub, keys.pub, None)
        c = client(origin, unsigned, f"py-neg-{run}")
        eq(status_code_of(lambda: c.where_now().sync()), 403, "status")

    def nothing_changed():
        good = client(origin, keys, f"py-neg-check-{run}")
        eq(good.here_now(channels=[ch]).sync().result.total_occupancy, 0, "occupancy after refused heartbeat")

    check("signed: wrong secret key gets 403", wrong_secret)
    check("signed: missing signature gets 403", no_secret)
    check("signed: refused heartbeat changed nothing", nothing_changed)


def switches(origin: str, run: str) -> None:
    """The service's behaviours the emulator switches on with `--realistic --rate-limit 10`."""
    ch = f"py-cache-{run}"
    cache_keys = Keys("switches", "switches-cache")
    ann_id, bob_id = f"py-cache-{run}-ann", f"py-cache-{run}-bob"
    ann = client(origin, cache_keys, ann_id)
    bob = client(origin, cache_keys, bob_id)

    def cached_here_now():
        eq(ann.heartbeat().channels([ch]).sync().result, True, "ann's heartbeat")
        first = bob.here_now(channels=[ch]).sync().result
        eq(uuids_of(first.channels[0]), [ann_id], "first answer")
        eq(bob.heartbeat().channels([ch]).sync().result, True, "bob's heartbeat")
        # Bob is present now, but the service's cache (3 s) still has the first answer,
        # also for another user asking.
        again = ann.here_now(channels=[ch]).sync().result
        eq((again.total_occupancy, uuids_of(again.channels[0])), (1, [ann_id]), "cached answer")
        # Once the cache time has passed (the emulator's clock is the real one here) the
        # live answer comes back; ask twice a second, within the rate limit.
        deadline = time.monotonic() + 10
        while True:
            time.sleep(0.5)
            now = bob.here_now(channels=[ch]).sync().result
            if now.total_occupancy == 2:
                eq(uuids_of(now.channels[0]), sorted([ann_id, bob_id]), "fresh answer")
                return
            eq(uuids_of(now.channels[0]), [ann_id], "cached answer while it lasts")
            if time.monotonic() > deadline:
                raise AssertionError("the cached here now never expired")

    def rate_limited():
        c = client(origin, Keys("switches", "switches-rate"), f"py-rate-{run}", recording=True)
        for i in range(200):
            try:
                c.here_now(channels=[f"py-rate-{run}"]).sync()
            except PubNubException as e:
                eq(int(e.get_status_code()), 429, f"status of request {i + 1}")
                if i < 10:
                    raise AssertionError(f"refused after {i} requests, the limit is 10 a second")
                retry_after = RecordingHandler.last_headers.get("retry-after")
                eq(retry_after, "1", "Retry-After")
                if "Too Many Requests" not in str(e):
                    raise AssertionError(f"429 body not in the SDK's error: {e}")
                # Waiting as told gets the keyset served again.
                time.sleep(int(retry_after))
                eq(c.here_now(channels=[f"py-rate-{run}"]).sync().result.total_occupancy, 0,
                   "served after Retry-After")
                return
        raise AssertionError("200 requests and no 429")

    check("switches: here_now is cached for 3 s (--realistic)", cached_here_now)
    check("switches: past --rate-limit a 429 with Retry-After, served after waiting", rate_limited)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origin", default=os.environ.get("EMULATOR_ORIGIN", "127.0.0.1:8090"),
                    help="host:port of the emulator (no scheme)")
    ap.add_argument("--plain-keyset", default="demo-interop")
    ap.add_argument("--signed-keyset", default="sub-signed:pub-signed:sec-signed")
    ap.add_argument("--switches-origin", default=None,
                    help="host:port of an emulator with --realistic --rate-limit 10 and the keysets "
                         "switches-cache and switches-rate (optional)")
    args = ap.parse_args()
    origin = args.origin.removeprefix("http://")
    sub, pub, sec = args.signed_keyset.split(":", 2)
    run = uuidlib.uuid4().hex[:8]
    from importlib.metadata import version  # noqa: PLC0415

    print(f"python: pubnub {version('pubnub')} against http://{origin}, run {run}", flush=True)

    scenario(origin, Keys("plain", args.plain_keyset), run)
    scenario(origin, Keys("signed", sub, pub, sec), run)
    signing_negative(origin, Keys("signed", sub, pub, sec), run)

    def unknown_key():
        c = client(origin, Keys("x", f"no-such-key-{run}"), "py-x")
        eq(status_code_of(lambda: c.here_now(channels=["a"]).sync()), 400, "status")

    check("plain: unknown subscribe key gets 400", unknown_key)

    if args.switches_origin:
        switches(args.switches_origin.removeprefix("http://"), run)

    print(f"python: {RESULTS['passed']} passed, {RESULTS['failed']} failed"
          + (f", {RESULTS['xfailed']} xfailed" if RESULTS["xfailed"] else ""), flush=True)
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
