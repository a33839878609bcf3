#!/usr/bin/env python3
"""Graceful restart, tandemd as the helper (RFC 4724 §4.2): FRR and then BIRD crash
and come back with a smaller table; tandemd keeps their routes, in its RIB and in the
kernel, the whole time, and after each peer's End-of-RIB removes exactly the routes
the peer no longer announces.

FRR (iBGP, `bgp graceful-restart` + `preserve-fw-state`, so its OPEN carries the GR
capability with the Forwarding State bit per family) and BIRD (eBGP, `graceful
restart on`) each originate 10,000 IPv4 /24s and 20 IPv6 /48s to tandemd, which
installs its best paths into kernel table 100 (protocol 201).

1. FRR's bgpd is killed with SIGKILL: no NOTIFICATION, the kernel closes the TCP
   connection. RFC 4724 §4.2: the helper keeps the peer's routes, marked stale, and
   keeps forwarding on them while the restart timer runs. bgpd is then started again
   with a configuration that lacks 5 IPv4 and 1 IPv6 of its networks. It re-announces
   the rest and sends End-of-RIB per family: tandemd must then remove the stale
   routes that were not re-announced — exactly those 6 — and nothing else.
2. The same with BIRD: SIGKILL, then `bird -R` (graceful-restart recovery: Restart
   State and Forwarding State bits set) with 5 IPv4 and 1 IPv6 static routes removed.
   BIRD is passive until then, so the sessions it had ran over tandemd's outgoing
   connections; the restarted BIRD connects in itself. tandemd must then not dial
   out again on the old outgoing connection's retry timer: to a GR-capable BIRD a new
   connection from an Established peer means that the peer has restarted (RFC 4724
   §4.2), so BIRD would end the session and reconnect without the Forwarding State
   bit, and tandemd would have to drop every stale route of it at once.

A background sampler asks tandemd every ~100-300 ms, through the whole of both
restarts, for its kernel table 100, every session's prefix counters (`tandemctl
--json neighbor`: `received`, and `stale`, the routes kept by graceful restart) and,
every third time, its whole Loc-RIB (`tandemctl --json rib`). In every sample:
- every route of the restarting peer that it announces again is in the RIB and in the
  kernel with the peer as gateway (no forwarding gap: the point of RFC 4724);
- while any route of that peer is still stale (no End-of-RIB yet), the routes it will
  not re-announce are there too (the helper cannot know them before End-of-RIB);
- every route of the other peer is in the RIB and the kernel (a restart of one peer
  never touches another's routes).
While the peer is down, tandemd's counters must show all of its routes stale and the
helper state waiting for the restart; at the end, no route is stale, the helper state
is "none", and the RIB and kernel hold exactly the announced routes.
"""

import ipaddress
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import Sampler, TandemNode, require_tandemctl, default_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, StandardLab  # noqa: E402

N_V4 = 10000
N_V6 = 20
FIB_TABLE = 100
FIB_PROTO = 201
PEER_RESTART_TIME = 60   # s, advertised by FRR and BIRD: far longer than the test needs


def v4_block(first, n):
    base = int(ipaddress.IPv4Address(first))
    return [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(n)]


FRR_V4 = v4_block("10.64.0.0", N_V4)                      # 10.64.0.0/10
FRR_V6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_V6)]
BIRD_V4 = v4_block("10.128.0.0", N_V4)                    # 10.128.0.0/10
BIRD_V6 = [f"2001:db8:{0x2000 + i:x}::/48" for i in range(N_V6)]
# What each peer no longer announces after its restart: spread over the table.
FRR_GONE = ([FRR_V4[i] for i in (0, 1234, 5000, 7777, N_V4 - 1)], [FRR_V6[3]])
BIRD_GONE = ([BIRD_V4[i] for i in (0, 999, 4321, 8888, N_V4 - 1)], [BIRD_V6[5]])


class Snapshot:
    """Sampling function: the kernel table, then prefix counters of all four sessions
    every time (cheap), then the whole Loc-RIB every 3rd time (a 20,000-path listing
    costs a few hundred ms on this machine)."""

    def __init__(self, td, peer, other):
        self.td, self.peer, self.other, self.n = td, peer, other, 0

    def __call__(self):
        td, peer, other = self.td, self.peer, self.other
        s = {"k4": td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO), "k6": td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO)}
        if self.n % 3 == 0:
            s["r4"], s["r6"] = td.rib_prefixes("ipv4"), td.rib_prefixes("ipv6")
        self.n += 1
        peers = td.neighbors()
        for key, addr, fam in (("p4", peer["addr4"], "ipv4-unicast"), ("p6", peer["addr6"], "ipv6-unicast"),
                               ("o4", other["addr4"], "ipv4-unicast"), ("o6", other["addr6"], "ipv6-unicast")):
            n = peers[addr]
            s[key] = TandemNode.prefix_counters(n).get(fam, {"received": 0, "stale": 0})
            if key == "p4":
                s["state4"] = n.get("state", {}).get("state")
                s["gr4"] = n.get("state", {}).get("graceful_restart_state")
        return s


def check_samples(name, samples, peer, other):
    """peer/other: dicts addr4, addr6, v4, v6 (all originated), gone4, gone6.

    A sample reads the kernel, then (sometimes) the RIB, then the counters. A stale
    count > 0 read *after* the RIB means End-of-RIB had not swept the stale routes
    when the RIB (and, earlier still, the kernel) was read — so the not-re-announced
    routes must be in both; and the peer's received count must still be its whole
    original table."""
    errors = [(round(t, 2), ph, repr(v)) for t, ph, v in samples if isinstance(v, Exception)]
    check(not errors, f"{name}: tandemctl/ip failed during the restart (tandemd must keep answering): "
          f"{errors[:3]}")
    kept4 = set(peer["v4"]) - set(peer["gone4"])
    kept6 = set(peer["v6"]) - set(peer["gone6"])
    bad = []
    for t, ph, s in samples:
        where = f"t={t:.2f}s ({ph})"
        stale4, stale6 = s["p4"]["stale"], s["p6"]["stale"]
        if "r4" in s:
            miss = kept4 - s["r4"].get(peer["addr4"], set()) | kept6 - s["r6"].get(peer["addr6"], set())
            if miss:
                bad.append(f"{where}: {len(miss)} of {name}'s routes missing from the RIB, e.g. {sorted(miss)[:3]}")
            if stale4 > 0 and not set(peer["gone4"]) <= s["r4"].get(peer["addr4"], set()):
                bad.append(f"{where}: {stale4} IPv4 routes still stale but the not-re-announced ones left the RIB")
            if stale6 > 0 and not set(peer["gone6"]) <= s["r6"].get(peer["addr6"], set()):
                bad.append(f"{where}: {stale6} IPv6 routes still stale but the not-re-announced ones left the RIB")
            miss = set(other["v4"]) - s["r4"].get(other["addr4"], set()) | \
                set(other["v6"]) - s["r6"].get(other["addr6"], set())
            if miss:
                bad.append(f"{where}: the other peer lost {len(miss)} routes from the RIB, e.g. {sorted(miss)[:2]}")
        if s["p4"]["received"] < len(kept4) or s["p6"]["received"] < len(kept6):
            bad.append(f"{where}: {name}'s received counts {s['p4']['received']}+{s['p6']['received']} below the "
                       f"{len(kept4)}+{len(kept6)} it re-announces")
        if (stale4 > 0 and s["p4"]["received"] != len(peer["v4"])) or \
                (stale6 > 0 and s["p6"]["received"] != len(peer["v6"])):
            bad.append(f"{where}: routes still stale (no End-of-RIB) but received {s['p4']['received']}+"
                       f"{s['p6']['received']} is not the whole earlier table {len(peer['v4'])}+{len(peer['v6'])}")
        miss = [p for p in kept4 if s["k4"].get(p) != peer["addr4"]] + \
            [p for p in kept6 if s["k6"].get(p) != peer["addr6"]]
        if miss:
            bad.append(f"{where}: {len(miss)} of {name}'s routes not in kernel table {FIB_TABLE} via "
                       f"{peer['addr4']}/{peer['addr6']}, e.g. {miss[:3]} -> {[s['k4'].get(p) for p in miss[:3]]}")
        if stale4 > 0 and not all(s["k4"].get(p) == peer["addr4"] for p in peer["gone4"]):
            bad.append(f"{where}: IPv4 routes still stale but the not-re-announced ones left the kernel")
        if stale6 > 0 and not all(s["k6"].get(p) == peer["addr6"] for p in peer["gone6"]):
            bad.append(f"{where}: IPv6 routes still stale but the not-re-announced ones left the kernel")
        kmiss = [p for p in other["v4"] if s["k4"].get(p) != other["addr4"]] + \
            [p for p in other["v6"] if s["k6"].get(p) != other["addr6"]]
        if kmiss or s["o4"]["received"] != len(other["v4"]) or s["o6"]["received"] != len(other["v6"]) or \
                s["o4"]["stale"] or s["o6"]["stale"]:
            bad.append(f"{where}: the other peer changed: {len(kmiss)} routes missing from the kernel "
                       f"(e.g. {kmiss[:2]}), counters {s['o4']} {s['o6']}")
    check(not bad, f"{name} restart: {len(bad)} of {len(samples)} samples broke the helper's guarantees; "
          f"first: {bad[:4]}")
    full = sum(1 for _, _, s in samples if "r4" in s)
    down = [s for t, ph, s in samples if ph == "down"]
    check(len(down) >= 5, f"{name}: expected >= 5 samples while the peer was down, got {len(down)}")
    wrong = [(s["state4"], s["gr4"], s["p4"]["stale"], s["p6"]["stale"]) for s in down
             if not (s["state4"] != "SESSION_STATE_ESTABLISHED" and
                     s["gr4"] == "GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART" and
                     s["p4"]["stale"] == len(peer["v4"]) and s["p6"]["stale"] == len(peer["v6"]))]
    check(not wrong, f"{name} down: expected session not Established, GR state HELPER_WAITING_RESTART and "
          f"all {len(peer['v4'])}+{len(peer['v6'])} routes stale in every sample; saw (state, gr, stale4, stale6) "
          f"{wrong[:3]}")
    gaps = [b[0] - a[0] for a, b in zip(samples, samples[1:])]
    log(f"{name}: {len(samples)} samples through the restart ({len(down)} while down, {full} with the whole RIB, "
        f"max gap {max(gaps):.2f}s): routes and kernel entries kept throughout")


def restart_one(name, td, peer, other, kill, restart, stale_until_kill=15):
    """Kill a peer, sample while it is down and while it comes back, then check."""
    sampler = Sampler(Snapshot(td, peer, other), interval=0.1, name=name)
    try:
        time.sleep(0.5)
        off = td.log_offset()
        sampler.phase = "killed"
        t_kill = time.monotonic()
        kill()
        wait_until(lambda: TandemNode.prefix_counters(td.neighbor(peer["addr4"]))
                   .get("ipv4-unicast", {}).get("stale") == len(peer["v4"]), stale_until_kill,
                   f"tandemd keeping {name}'s {len(peer['v4'])} IPv4 routes as stale after the kill")
        log(f"{name}: tandemd holds its routes as stale {time.monotonic() - t_kill:.2f}s after the kill")
        sampler.phase = "down"
        # 2 s, and at least the 5 samples check_samples asks for: a sample (tandemctl
        # listing 20,000 paths) takes longer on a slow machine or a sanitizer build.
        t_down = time.monotonic()
        wait_until(lambda: time.monotonic() - t_down >= 2.0 and
                   sum(1 for _, ph, _ in list(sampler.samples) if ph == "down") >= 5, 30,
                   f"5 samples while {name} is down")
        sampler.phase = "restarting"
        restart()
        for fam in ("ipv4-unicast", "ipv6-unicast"):
            td.wait_log(rf"peer {peer['addr4' if fam == 'ipv4-unicast' else 'addr6']}\b.*End-of-RIB received for {fam}",
                        timeout=40, since=off)
        sampler.phase = "after End-of-RIB"
        wait_until(lambda: all(TandemNode.prefix_counters(td.neighbor(a)).get(f, {}).get("stale", 1) == 0
                               for a, f in ((peer["addr4"], "ipv4-unicast"), (peer["addr6"], "ipv6-unicast"))),
                   10, f"no stale routes of {name} left after its End-of-RIB")
        log(f"{name}: End-of-RIB received and stale routes swept {time.monotonic() - t_kill:.2f}s after the kill")
        time.sleep(0.6)
    finally:
        samples = sampler.stop()
    # A second session end during the restart, or a new OPEN without F=1, flushes every
    # stale route at once; the peer re-sends them quickly, so samples may miss the gap.
    a4 = re.escape(peer["addr4"])
    again = td.log_lines(rf"peer {a4}: ", r"went down again|did not preserve its forwarding state", since=off)
    dial = td.log_lines(rf"peer {a4}: ", r"IdleHold timer expired|connecting to the peer; outgoing", since=off)
    check(not again, f"{name}: the restarted session must not end again before its End-of-RIB nor come back with "
          f"F=0 (every stale route is then dropped at once); tandemd logged: {again[:3]}; its outgoing dials "
          f"after the kill: {dial[-2:]}")
    check_samples(name, samples, peer, other)

    # The end state: exactly the re-announced routes, none stale, helper done.
    kept4 = set(peer["v4"]) - set(peer["gone4"])
    kept6 = set(peer["v6"]) - set(peer["gone6"])
    r4, r6 = td.rib_prefixes("ipv4"), td.rib_prefixes("ipv6")
    got4, got6 = r4.get(peer["addr4"], set()), r6.get(peer["addr6"], set())
    check(got4 == kept4 and got6 == kept6,
          f"{name}: RIB after End-of-RIB should hold exactly the {len(kept4)}+{len(kept6)} re-announced routes; "
          f"missing {sorted(kept4 - got4 | kept6 - got6)[:5]}, left over {sorted(got4 - kept4 | got6 - kept6)[:5]}")
    wait_until(lambda: set(td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)) ==
               kept4 | set(other["v4"]) and set(td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO)) ==
               kept6 | set(other["v6"]), 5,
               f"kernel table {FIB_TABLE} holding exactly both peers' announced routes (the {name} routes "
               f"{peer['gone4'] + peer['gone6']} removed)")
    for a in (peer["addr4"], peer["addr6"]):
        n = td.neighbor(a)
        st = n.get("state", {})
        stale = {f: c["stale"] for f, c in TandemNode.prefix_counters(n).items()}
        check(st.get("state") == "SESSION_STATE_ESTABLISHED" and
              st.get("graceful_restart_state") == "GRACEFUL_RESTART_STATE_NONE" and not any(stale.values()),
              f"{name} {a}: expected Established, graceful_restart_state NONE and no stale routes; got "
              f"{st.get('state')}, {st.get('graceful_restart_state')}, stale {stale}")
    lines = td.log_lines(rf"peer {peer['addr4']}\b", "graceful restart: helping")
    check(lines, f"tandemd's log should say it helps {peer['addr4']} (\"graceful restart: helping\"); found none")
    a4 = peer["addr4"]
    lines = td.log_lines(rf"peer {a4}\b", r"removed 5 stale routes of ipv4-unicast")
    check(lines, f"tandemd's log should report 5 stale IPv4 routes of {a4} removed at End-of-RIB; its "
          f"graceful-restart lines: {td.log_lines(rf'peer {a4}', 'graceful restart')[-6:]}")
    log(f"{name}: exactly the {len(peer['gone4'])}+{len(peer['gone6'])} routes it dropped were removed, "
        f"the rest fresh")


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("gr-helper", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        td.log_["level"] = "info"  # 20,000 routes: no per-UPDATE debug lines
        td.tables["fib"] = {"enabled": True, "table": FIB_TABLE, "protocol": FIB_PROTO}
        frr.extra_router += ["bgp graceful-restart", "bgp graceful-restart preserve-fw-state",
                             f"bgp graceful-restart restart-time {PEER_RESTART_TIME}",
                             "bgp graceful-restart select-defer-time 30"]
        for p in FRR_V4 + FRR_V6:
            frr.add_network(p)
        bird.add_static("gr4", BIRD_V4)
        bird.add_static("gr6", BIRD_V6)
        for p in bird.peers:
            # passive at first: the sessions run over tandemd's outgoing connections (see
            # step 2 in the docstring); the restarted BIRD is active.
            p["extra"] += ["graceful restart on;", f"graceful restart time {PEER_RESTART_TIME};",
                           "debug { states, events };", "passive on;"]
        t0 = time.monotonic()
        top.start(timeout=40)

        def loaded():
            r4, r6 = td.rib_prefixes("ipv4"), td.rib_prefixes("ipv6")
            k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
            return (r4.get(FRR.v4) == set(FRR_V4) and r4.get(BIRD.v4) == set(BIRD_V4) and
                    r6.get(FRR.v6) == set(FRR_V6) and r6.get(BIRD.v6) == set(BIRD_V6) and
                    len(k4) == 2 * N_V4 and len(td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO)) == 2 * N_V6)
        wait_until(loaded, 60, f"tandemd's RIB and kernel table {FIB_TABLE} holding FRR's and BIRD's "
                   f"{N_V4}+{N_V6} routes each")
        log(f"tandemd: {2 * N_V4} IPv4 + {2 * N_V6} IPv6 routes in RIB and kernel "
            f"{time.monotonic() - t0:.1f}s after start")
        for a in (FRR.v4, BIRD.v4):
            caps = td.neighbor(a).get("state", {})
            check(caps.get("graceful_restart_state") == "GRACEFUL_RESTART_STATE_NONE",
                  f"{a}: graceful_restart_state NONE before any restart, got {caps.get('graceful_restart_state')}")

        frr_peer = dict(addr4=FRR.v4, addr6=FRR.v6, v4=FRR_V4, v6=FRR_V6, gone4=FRR_GONE[0], gone6=FRR_GONE[1])
        bird_peer = dict(addr4=BIRD.v4, addr6=BIRD.v6, v4=BIRD_V4, v6=BIRD_V6,
                         gone4=BIRD_GONE[0], gone6=BIRD_GONE[1])

        # --- 1. FRR crashes and comes back without 6 networks ------------------------------
        def frr_restart():
            gone = set(FRR_GONE[0]) | set(FRR_GONE[1])
            frr.networks = [(p, rm) for p, rm in frr.networks if p not in gone]
            frr.restart_bgpd()
        restart_one("FRR", td, frr_peer, bird_peer, frr.kill_bgpd, frr_restart)

        # --- 2. BIRD crashes and comes back (bird -R) without 6 static routes --------------
        # From now on FRR's table is the smaller one.
        frr_peer_now = dict(frr_peer, v4=sorted(set(FRR_V4) - set(FRR_GONE[0])),
                            v6=sorted(set(FRR_V6) - set(FRR_GONE[1])))

        for a in (BIRD.v4, BIRD.v6):
            st = td.neighbor(a).get("state", {})
            check(st.get("remote_port") == 179, f"precondition: tandemd's session with {a} should run over its "
                  f"outgoing connection (remote port 179; BIRD is passive), got local/remote port "
                  f"{st.get('local_port')}/{st.get('remote_port')}")

        def bird_restart():
            for p in bird.peers:
                p["extra"] = [x for x in p["extra"] if x != "passive on;"]
            bird.statics["gr4"]["prefixes"] = [p for p in BIRD_V4 if p not in BIRD_GONE[0]]
            bird.statics["gr6"]["prefixes"] = [p for p in BIRD_V6 if p not in BIRD_GONE[1]]
            bird.restart(recovery=True)
        restart_one("BIRD", td, bird_peer, frr_peer_now, bird.kill, bird_restart)


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
