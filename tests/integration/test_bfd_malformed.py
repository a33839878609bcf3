#!/usr/bin/env python3
"""BFD (issue 5, item 5d): malformed BFD control packets are dropped and counted, never
crash tandemd nor corrupt its health table. First over XDP, then (same test, tandemd
restarted with [bfd] receive_path = "user-space") over the fallback receiver.

A BFD session runs Up between tandemd and FRR's bfdd (50 ms x 3; the BGP peer to FRR
over IPv4 has bfd = true). From a third namespace ("spk", 192.0.2.4 / 2001:db8::4) the
test sends crafted packets to tandemd's UDP 3784 with plain UDP sockets, IP_TTL /
IPV6_UNICAST_HOPS set per packet. Each crafted packet is "poisoned": apart from its one
defect it is a packet of the live session (My Discriminator = FRR's, Your Discriminator
= tandemd's) saying AdminDown or Down with other timers, so that any one of them
accepted would take the session Down (or change the remote timers tandemd reports).
Kinds, one counter each (validation order of docs/healthbpf.md):

    bad_length       Length 0, 23, 25 and 255 in 24 bytes, 24 < Length 48 > 40 bytes
    zero_detect_mult Detect Mult 0
    bad_ttl          TTL 254, 64 and 1 (IPv4), hop limit 254 and 64 (IPv6)
    truncated        0, 1, 8 and 23 bytes (IPv4 and IPv6)
    bad_version      version 0, 2 and 7
    zero_my_discriminator, multipoint (M bit), authentication (A bit, no auth section),
    zero_your_discriminator (state Up, Your Discriminator 0: would open an ADDR slot)
    random           a flood of random bytes (0-48 bytes, mostly TTL 255), each classified
                     beforehand by the same rules; any that would be valid is not sent.

Asserted after each batch: tandemd alive; the session Up on both sides with no Down in
either log, the same discriminators and remote timers, tandemd's up/down transition
counts unchanged, the BGP session (bfd = true) never reset; each per-reason counter of
`tandemctl bfd --json` grew by exactly the number of packets of that reason sent (and
waited for: then checked again after a quiet second, so nothing counts twice);
`valid` grew exactly as much as the session's own packets_in (+-2 for the two reads:
no valid packet went to another slot), `table_full`/`events_lost` unchanged and
`events` unchanged (no slot was created, no state/timer change was signalled).
"""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bfdd import Bfdd, bfdd_binary  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.netns import in_netns  # noqa: E402
from lab.tandem import require_tandemctl  # noqa: E402
from lab.topology import FRR, SPEAKER, TANDEM, StandardLab  # noqa: E402

INTERVAL_MS = 50
REPEAT = int(os.environ.get("BFD_MALFORMED_REPEAT", "10"))  # copies of each crafted variant
RANDOM = int(os.environ.get("BFD_MALFORMED_RANDOM", "2000"))  # random-bytes flood size
BFD_PORT = 3784
SRC_PORT = 49152  # RFC 5881 §4: source port 49152-65535

FLAG_A, FLAG_M = 0x04, 0x01
REJECT = ("bad_ttl", "truncated", "bad_version", "bad_length", "zero_detect_mult", "multipoint",
          "zero_my_discriminator", "zero_your_discriminator", "authentication")


def bfd_packet(state=0, diag=7, flags=0, mult=7, length=24, my=1, your=1, tx=1_000_000, rx=1_000_000,
               echo=0, version=1):
    return struct.pack("!BBBBIIIII", ((version & 7) << 5) | (diag & 0x1f), ((state & 3) << 6) | (flags & 0x3f),
                       mult, length, my, your, tx, rx, echo)


def reason(payload, ttl):
    """The counter tandemd must raise for this datagram (docs/healthbpf.md, Validation);
    None if it is a valid BFD control packet."""
    if ttl != 255:
        return "bad_ttl"
    if len(payload) < 24:
        return "truncated"
    if payload[0] >> 5 != 1:
        return "bad_version"
    if payload[3] < 24 or payload[3] > len(payload):
        return "bad_length"
    if payload[2] == 0:
        return "zero_detect_mult"
    if payload[1] & FLAG_M:
        return "multipoint"
    my, your = struct.unpack("!II", payload[4:12])
    if my == 0:
        return "zero_my_discriminator"
    if your == 0 and payload[1] >> 6 in (2, 3):
        return "zero_your_discriminator"
    if payload[1] & FLAG_A:
        return "authentication"
    return None


def crafted(frr_id, td_id):
    """[(family, payload, ttl, expected counter)] of the crafted kinds, REPEAT copies each."""
    def p(**kw):
        base = dict(state=0, diag=7, my=frr_id, your=td_id)
        base.update(kw)
        return bfd_packet(**base)

    variants = []
    for st in (0, 1):  # AdminDown, Down: accepted, either would take the session Down
        variants += [
            (4, p(state=st, length=0), 255), (4, p(state=st, length=23), 255),
            (4, p(state=st, length=25), 255), (4, p(state=st, length=255), 255),
            (4, p(state=st, length=48) + bytes(16), 255),
            (4, p(state=st, mult=0), 255),
            (4, p(state=st), 254), (4, p(state=st), 64), (4, p(state=st), 1),
            (6, p(state=st), 254), (6, p(state=st), 64),
            (4, p(state=st, version=0), 255), (4, p(state=st, version=2), 255), (4, p(state=st, version=7), 255),
            (4, p(state=st, my=0), 255),
            (4, p(state=st, flags=FLAG_M), 255),
            (4, p(state=st, flags=FLAG_A), 255),
        ]
        for n in (0, 1, 8, 23):
            variants += [(4, p(state=st)[:n], 255), (6, p(state=st)[:n], 255)]
    # Up with Your Discriminator 0 (a packet of a new session would open an ADDR slot).
    variants += [(4, bfd_packet(state=3, diag=0, mult=3, my=frr_id, your=0), 255),
                 (4, bfd_packet(state=2, diag=0, mult=3, my=0x5eed, your=0), 255)]
    out = []
    for fam, payload, ttl in variants:
        r = reason(payload, ttl)
        assert r is not None, f"crafted packet would be valid: {payload.hex()}"
        out += [(fam, payload, ttl, r)] * REPEAT
    return out


def random_flood(n, frr_id, td_id, rng):
    """n random datagrams, none valid. Half are random bytes (a quarter of those with
    tandemd's discriminator as Your Discriminator, half with version 1, to reach the
    later checks); half are a poisoned packet of the live session with 1-3 random bytes
    replaced and its size sometimes changed, so that a wrongly accepted one would land
    in the live session's slot."""
    out, skipped = [], 0
    while len(out) < n:
        if rng.random() < 0.5:
            payload = bytearray(rng.randbytes(rng.randint(0, 48)))
            if len(payload) >= 12 and rng.random() < 0.25:
                payload[8:12] = struct.pack("!I", td_id)
            if len(payload) >= 4 and rng.random() < 0.5:
                payload[0] = (payload[0] & 0x1f) | 0x20
        else:
            payload = bytearray(bfd_packet(state=rng.choice((0, 1)), my=frr_id, your=td_id))
            for _ in range(rng.randint(1, 3)):
                payload[rng.randrange(24)] = rng.randrange(256)
            if rng.random() < 0.3:
                payload = payload[:rng.randint(0, 48)] + rng.randbytes(max(0, rng.randint(-24, 24)))
        ttl = 255 if rng.random() < 0.9 else rng.choice((1, 64, 128, 254))
        r = reason(bytes(payload), ttl)
        if r is None:
            skipped += 1
            continue
        out.append((4 if rng.random() < 0.8 else 6, bytes(payload), ttl, r))
    return out, skipped


class Sender:
    """UDP sockets in a namespace, bound to its address and a BFD source port."""

    def __init__(self, node, v4, v6):
        with in_netns(node.ns):
            self.s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s4.bind((v4, SRC_PORT))
            self.s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            self.s6.bind((v6, SRC_PORT))

    def send(self, packets, pace=20):
        """Send [(family, payload, ttl, reason)], a 2 ms pause every `pace` packets so
        that neither the veth backlog nor the user-space receiver's socket buffer drops
        any (the counters are compared exactly)."""
        for i, (fam, payload, ttl, _) in enumerate(packets):
            if fam == 4:
                self.s4.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
                self.s4.sendto(payload, (TANDEM.v4, BFD_PORT))
            else:
                self.s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
                self.s6.sendto(payload, (TANDEM.v6, BFD_PORT))
            if i % pace == pace - 1:
                time.sleep(0.002)

    def close(self):
        self.s4.close()
        self.s6.close()


def tally(packets):
    t = {}
    for *_, r in packets:
        t[r] = t.get(r, 0) + 1
    return t


def snapshot(td):
    r = td.ctl("bfd")
    sess = [s for s in r.get("sessions", []) if s["peer"] == FRR.v4]
    check(len(sess) == 1 and len(r.get("sessions", [])) == 1, f"exactly one BFD session (FRR v4): {r}")
    counters = {c["name"]: int(c.get("value", 0)) for c in r.get("counters", [])}
    return r, sess[0], counters


def wait_up(td, bfdd, timeout=20):
    bfdd.wait_status(TANDEM.v4, "up", timeout=timeout)
    wait_until(lambda: snapshot(td)[1]["local_state"] == "Up", timeout, "tandemd: BFD session Up", interval=0.1)


def frr_downs(bfdd):
    return sum(1 for ln in bfdd.log_text().splitlines() if "up -> down" in ln.lower())


def run_batch(label, td, bfdd, frr, sender, packets):
    """Send one batch and assert everything the module docstring lists."""
    want = tally(packets)
    _, s0, c0 = snapshot(td)
    f0 = bfdd.peer(TANDEM.v4)
    frr_down0, off = frr_downs(bfdd), td.log_offset()
    bgp0 = frr.neighbor(TANDEM.v4).get("connectionsEstablished")
    t0 = time.monotonic()
    sender.send(packets)
    sent_s = time.monotonic() - t0

    def grown():
        c = snapshot(td)[2]
        return all(c.get(k, 0) - c0.get(k, 0) >= n for k, n in want.items())

    try:
        wait_until(grown, 10, f"{label}: every rejection counted", interval=0.2)
    except Exception:
        c = snapshot(td)[2]
        raise AssertionError(f"{label}: counters after sending {want}: "
                             f"{ {k: c.get(k, 0) - c0.get(k, 0) for k in c} }")
    time.sleep(1.0)  # nothing counted twice or late
    check(td.alive(), f"{label}: tandemd alive")
    _, s1, c1 = snapshot(td)
    delta = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1}
    for k in REJECT:
        check(delta.get(k, 0) == want.get(k, 0),
              f"{label}: counter {k} grew by {delta.get(k, 0)}, {want.get(k, 0)} such packets sent ({delta})")
    for k in ("table_full", "events_lost", "events", "expired"):
        check(delta.get(k, 0) == 0, f"{label}: counter {k} changed by {delta.get(k, 0)} ({delta})")
    pin = int(s1["packets_in"]) - int(s0["packets_in"])
    check(abs(delta.get("valid", 0) - pin) <= 2,
          f"{label}: valid +{delta.get('valid', 0)} but the session's packets_in +{pin}: a valid packet "
          "went to another slot")
    check(pin > 0, f"{label}: FRR's packets still arrive ({pin})")
    # The session: Up on both sides, no flap, nothing of the poisoned packets in it.
    check(s1["local_state"] == "Up" and s1["remote_state"] == "Up", f"{label}: tandemd's session {s1}")
    for k in ("up_transitions", "down_transitions", "local_discriminator", "remote_discriminator",
              "remote_min_tx_us", "remote_min_rx_us", "remote_detect_mult", "tx_interval_us", "detect_time_us"):
        check(str(s1.get(k)) == str(s0.get(k)), f"{label}: {k} {s0.get(k)} -> {s1.get(k)}")
    check(not td.log_lines(r"bfd: peer .*-> Down", since=off), f"{label}: tandemd logged a BFD Down: "
          f"{td.log_lines(r'bfd: peer .*-> Down', since=off)}")
    f1 = bfdd.peer(TANDEM.v4)
    check(f1.get("status") == "up" and frr_downs(bfdd) == frr_down0, f"{label}: FRR's bfdd saw no Down ({f1})")
    check(f1.get("id") == f0.get("id") and f1.get("remote-id") == f0.get("remote-id"),
          f"{label}: FRR's discriminators unchanged")
    check(frr.neighbor(TANDEM.v4).get("connectionsEstablished") == bgp0,
          f"{label}: the BGP session with bfd = true was not reset")
    shown = ", ".join(f"{k} +{delta[k]}" for k in REJECT if delta.get(k))
    log(f"[ measured ] {label}: {len(packets)} packets sent in {sent_s:.2f} s; counters {shown}; "
        f"valid +{delta.get('valid', 0)} = session packets_in +{pin}")
    return delta


def exercise(path, td, bfdd, frr, sender, rng):
    """Both batches against the running tandemd on `path` ("xdp" or "user-space")."""
    wait_up(td, bfdd)
    r, s, _ = snapshot(td)
    check(r.get("path", "").startswith(path), f"tandemctl bfd path {r.get('path')} ({path} wanted)")
    check(td.log_lines(rf"bfd: receive path {path}"), f"tandemd logs receive path {path}")
    log(f"[{path}] session Up: tandemd discriminator {s['local_discriminator']}, FRR's {s['remote_discriminator']}, "
        f"path {r.get('path')}")
    time.sleep(1.0)  # poll sequences over: no events in steady state from here on
    td_id, frr_id = int(s["local_discriminator"]), int(s["remote_discriminator"])
    run_batch(f"[{path}] crafted", td, bfdd, frr, sender, crafted(frr_id, td_id))
    flood, skipped = random_flood(RANDOM, frr_id, td_id, rng)
    log(f"[{path}] random flood: {len(flood)} datagrams ({skipped} valid draws not sent): {tally(flood)}")
    run_batch(f"[{path}] random flood", td, bfdd, frr, sender, flood)

    # Control: the same poisoned packet without a defect is accepted and takes the
    # session Down (so the batches above would have shown a wrongly accepted packet).
    off = td.log_offset()
    _, s0, c0 = snapshot(td)
    good = bfd_packet(state=0, diag=7, my=frr_id, your=td_id)
    check(reason(good, 255) is None, "the control packet is valid")
    sender.send([(4, good, 255, None)] * 3)
    line = td.wait_log(r"bfd: peer .*Up -> Down", timeout=5, since=off)[0]
    check("Neighbor" in line, f"[{path}] control: AdminDown from the live session's discriminators: {line}")
    log(f"[{path}] control (valid AdminDown, no defect) accepted: {line}")
    wait_up(td, bfdd, timeout=30)
    c1 = snapshot(td)[2]
    check(all(c1.get(k, 0) == c0.get(k, 0) for k in REJECT), f"[{path}] control: no rejection counted")


def body(args):
    bfdd_binary()
    args.tandemctl = require_tandemctl(args.tandemctl or os.path.join(
        os.path.dirname(os.path.dirname(args.tandemd)), "tandemctl", "tandemctl"))
    rng = random.Random(int(os.environ.get("BFD_MALFORMED_SEED", "5")))
    with Lab("bfdmal", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, frr=True, bird=False, speaker=True, tandem_networks=False)
        td, frr = top.tandem, top.frr
        td.tandemctl = args.tandemctl
        td.log_["level"] = "info"
        td.peer_defaults["hold_time"] = 90
        td.tables["bfd"] = {"enabled": True, "receive_path": "xdp", "interfaces": ["eth0"],
                            "desired_min_tx_ms": INTERVAL_MS, "required_min_rx_ms": INTERVAL_MS, "detect_mult": 3}
        for p in td.peers:
            if p["address"] == FRR.v4:
                p["bfd"] = True
        top.start(timeout=40)
        bfdd = Bfdd(frr)
        bfdd.add_peer(TANDEM.v4, local_address=FRR.v4, interval_ms=INTERVAL_MS, multiplier=3)
        bfdd.start()
        sender = Sender(top.snode, SPEAKER.v4, SPEAKER.v6)
        try:
            exercise("xdp", td, bfdd, frr, sender, rng)

            # The same over the fallback receiver: tandemd restarted with BPF disabled.
            check(td.stop() == 0, "tandemd exits 0 on SIGTERM")
            td.tables["bfd"]["receive_path"] = "user-space"
            off = td.log_offset()
            td.start()
            wait_up(td, bfdd, timeout=30)
            td.wait_peer(FRR.v4, timeout=30)
            frr.wait_established(TANDEM.v4, timeout=30)
            check(td.log_lines(r"bfd: receive path user-space", since=off), "restarted on the user-space path")
            exercise("user-space", td, bfdd, frr, sender, rng)
        finally:
            sender.close()


if __name__ == "__main__":
    main(body, needs=("frr",))
