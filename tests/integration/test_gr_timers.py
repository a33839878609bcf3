#!/usr/bin/env python3
"""Graceful-restart timers on the helper side: the restart timer (RFC 4724 §4.2) and
long-lived graceful restart (RFC 9494).

tandemd (kernel table 100, protocol 201; `[graceful_restart] long_lived_stale_time =
60`) peers with FRR (iBGP), BIRD (eBGP) and the Python speaker (eBGP, no GR/LLGR
capability).

(i) The restart timer. FRR (`bgp graceful-restart restart-time 5`, preserve-fw-state,
    no LLGR) originates 10,000 IPv4 and 20 IPv6 prefixes; its bgpd is SIGKILLed and
    NOT restarted. RFC 4724 §4.2: the helper keeps the routes stale for the peer's
    advertised Restart Time and deletes them when it expires without the session
    coming back. Sampled every ~150 ms: every FRR route stays in tandemd's kernel
    table, and its Adj-RIB-In (counted stale) for the first 4.5 s; they are all gone from
    both within 5 + 2.5 s; BIRD's routes are untouched throughout; tandemd logs the
    expiry.

(ii) Long-lived graceful restart. FRR comes back with `bgp long-lived-graceful-restart
    stale-time 60`: an LLGR-capable receiver. BIRD (`graceful restart time 3; long
    lived graceful restart on; long lived stale time 10`) originates 10,000 IPv4 + 20
    IPv6 prefixes, and 10 IPv4 + 2 IPv6 more tagged NO_LLGR (65535:7). BIRD is
    SIGKILLed. RFC 9494 §4.2/§4.3 (helper): during the GR restart time (3 s) the
    routes are plain GR-stale; when it ends, routes of families in both sides' LLGR
    capability enter the long-lived stale phase for the *peer's* long-lived stale time
    (10 s): they get the LLGR_STALE community (65535:6), those carrying NO_LLGR are
    removed at once; LLGR-stale routes are advertised (with LLGR_STALE) only to
    LLGR-capable peers — FRR keeps them, tagged — and withdrawn from the others (the
    speaker). When the long-lived stale time ends they are removed everywhere.
    Checked from tandemd's RIB (communities per path), its kernel table, FRR's table
    (per-prefix community detail) and the speaker's Adj-RIB-In, with time bounds.
    Part (ii) needs tandemd's LLGR (the `long_lived_stale_time` key): with a tandemd
    that lacks it, part (i) runs and the test then exits 77 saying so.
"""

import ipaddress
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, LabError, log, wait_until  # noqa: E402
from lab.bgpspeaker import Speaker  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import Sampler, TandemNode, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, SPEAKER, TANDEM, StandardLab  # noqa: E402

N_V4 = 10000
N_V6 = 20
N_NO_LLGR_V4, N_NO_LLGR_V6 = 10, 2
FIB_TABLE = 100
FIB_PROTO = 201
FRR_RESTART_TIME = 5
BIRD_RESTART_TIME = 3
BIRD_LL_STALE_TIME = 10
TANDEM_LL_STALE_TIME = 60
LLGR_STALE = (65535 << 16) | 6
NO_LLGR = (65535 << 16) | 7


def v4_block(first, n):
    base = int(ipaddress.IPv4Address(first))
    return [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(n)]


FRR_V4 = v4_block("10.64.0.0", N_V4)
FRR_V6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_V6)]
BIRD_V4 = v4_block("10.128.0.0", N_V4)
BIRD_V6 = [f"2001:db8:{0x2000 + i:x}::/48" for i in range(N_V6)]
BIRD_NOLL_V4 = [f"10.250.{i}.0/24" for i in range(N_NO_LLGR_V4)]
BIRD_NOLL_V6 = [f"2001:db8:{0x2f00 + i:x}::/48" for i in range(N_NO_LLGR_V6)]


# --------------------------------------------------------------------------------------
# (i) the restart timer


def part_restart_timer(td, frr):
    def sample():  # cheap enough for ~0.15 s: the kernel table and the sessions' counters
        k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
        peers = td.neighbors()

        def counters(addr, fam):
            return TandemNode.prefix_counters(peers[addr]).get(fam, {"received": 0, "stale": 0})
        c4, c6 = counters(FRR.v4, "ipv4-unicast"), counters(FRR.v6, "ipv6-unicast")
        return {"frr_rib": c4["received"] + c6["received"],
                "frr_kernel": sum(1 for p in FRR_V4 if k4.get(p) == FRR.v4),
                "bird_rib": counters(BIRD.v4, "ipv4-unicast")["received"],
                "bird_kernel": sum(1 for p in BIRD_V4 if p in k4),
                "stale4": c4["stale"]}

    off = td.log_offset()
    sampler = Sampler(sample, interval=0.15, name="restart-timer")
    try:
        time.sleep(0.3)
        t_kill = sampler_time(sampler)
        frr.kill_bgpd()
        wait_until(lambda: not td.rib_prefixes("ipv4").get(FRR.v4) and
                   not any(p in td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO) for p in FRR_V4[:50]),
                   FRR_RESTART_TIME + 10, "FRR's routes removed from tandemd's RIB and kernel after the restart timer")
        time.sleep(0.5)
    finally:
        samples = sampler.stop()
    errors = sampler.errors()
    check(not errors, f"(i) tandemctl/ip failed while sampling: {errors[:3]}")
    total = N_V4 + N_V6
    early = [(round(t - t_kill, 2), s) for t, _, s in samples if 0.3 < t - t_kill < FRR_RESTART_TIME - 0.5]
    check(len(early) >= 6, f"(i) expected >= 6 samples in the first {FRR_RESTART_TIME - 0.5}s after the kill, "
          f"got {len(early)}")
    bad = [(t, s) for t, s in early if not (s["frr_rib"] == total and s["frr_kernel"] == N_V4)]
    check(not bad, f"(i) during the restart time every FRR route must stay in the RIB ({total}) and the kernel "
          f"({N_V4}); samples (seconds after kill, counts) that broke it: {bad[:3]}")
    stale_seen = [s["stale4"] for t, s in early if t > 0.5]
    check(stale_seen and all(x == N_V4 for x in stale_seen),
          f"(i) tandemd should count all {N_V4} IPv4 routes of FRR stale while it waits; saw {sorted(set(stale_seen))}")
    gone = [t - t_kill for t, _, s in samples if t > t_kill and s["frr_rib"] == 0 and s["frr_kernel"] == 0]
    check(gone, "(i) no sample showed FRR's routes removed")
    t_gone = gone[0]
    check(FRR_RESTART_TIME - 0.5 <= t_gone <= FRR_RESTART_TIME + 2.5,
          f"(i) FRR's routes should be removed when its {FRR_RESTART_TIME}s restart time expires; first sample "
          f"without them {t_gone:.2f}s after the kill")
    bad = [(round(t - t_kill, 2), s) for t, _, s in samples
           if s["bird_rib"] != N_V4 + N_NO_LLGR_V4 or s["bird_kernel"] != N_V4]
    check(not bad, f"(i) BIRD's {N_V4} routes must stay in RIB and kernel throughout; broken in {bad[:3]}")
    lines = td.log_lines(rf"peer {FRR.v4}\b", rf"restart timer \({FRR_RESTART_TIME} s\) expired", since=off)
    check(lines, f"(i) tandemd should log that FRR's restart timer ({FRR_RESTART_TIME} s) expired; "
          f"its graceful-restart lines: {td.log_lines(rf'peer {FRR.v4}', 'graceful restart', since=off)[-5:]}")
    check(not td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO).keys() & set(FRR_V6),
          "(i) FRR's IPv6 routes removed from the kernel as well")
    gaps = [b[0] - a[0] for a, b in zip(samples, samples[1:])]
    log(f"(i) FRR's {total} routes kept {t_gone:.2f}s, then removed at the restart timer; BIRD's untouched "
        f"({len(samples)} samples, max gap {max(gaps):.2f}s)")


def sampler_time(sampler):
    return time.monotonic() - sampler._t0


# --------------------------------------------------------------------------------------
# (ii) LLGR


def frr_llgr_communities(frr, prefixes, af="ipv4"):
    """{prefix: [community strings]} of FRR's path from tandemd, None if FRR has none."""
    out = {}
    detail = frr.route_detail(af, prefixes)
    addr = TANDEM.v4 if af == "ipv4" else TANDEM.v6
    for p in prefixes:
        paths = [x for x in detail.get(p, {}).get("paths", []) if x.get("peer", {}).get("peerId") == addr]
        out[p] = paths[0].get("community", {}).get("list", []) if paths else None
    return out


def is_llgr_stale_text(comms):
    # FRR 8.4 names it "llgrStale" in JSON; accept the other spellings too.
    return comms is not None and any(c in comms for c in ("llgrStale", "llgr-stale", "65535:6"))


def part_llgr(td, frr, bird, spk):
    all_v4 = set(BIRD_V4) | set(BIRD_NOLL_V4)
    all_v6 = set(BIRD_V6) | set(BIRD_NOLL_V6)
    probe4 = [BIRD_V4[i] for i in range(0, N_V4, 997)]  # FRR detail for a spread of prefixes

    # Before: everyone has BIRD's routes, untagged.
    wait_until(lambda: set(frr.received_prefixes("ipv4", TANDEM.v4)) >= all_v4, 30,
               "FRR receiving BIRD's routes via tandemd")
    wait_until(lambda: set(spk.rib_copy("ipv4")) >= all_v4, 30, "the speaker receiving BIRD's routes")
    c = frr_llgr_communities(frr, probe4)
    check(not any(is_llgr_stale_text(v) for v in c.values()), f"(ii) before the kill FRR sees no LLGR_STALE: {c}")
    n = frr.neighbor(TANDEM.v4)
    llgr_caps = {k: v for k, v in n.get("neighborCapabilities", {}).items() if "ongLived" in k or "llgr" in k.lower()}
    log(f"(ii) FRR's view of tandemd's LLGR capability: {llgr_caps or 'none reported'}")

    route_rx = re.compile(r'"prefix":"([^"]+)".*?"communities":\[([^\]]*)\]')

    def bird_paths():
        """{prefix: [communities]} of tandemd's Loc-RIB paths from BIRD, parsed per line
        (a full JSON decode of 10,000 routes is too slow to sample often)."""
        cp = td.ctl_run("rib", "--peer", BIRD.v4, json=True)
        if cp.returncode != 0:
            raise LabError(f"tandemctl rib --peer {BIRD.v4}: rc={cp.returncode} {cp.stderr.strip()}")
        return {m.group(1): [int(x) for x in m.group(2).split(",") if x]
                for m in (route_rx.search(line) for line in cp.stdout.splitlines()) if m}

    def sample():
        comms = bird_paths()
        k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
        return {"rib": set(comms),
                "tagged": {p for p, cs in comms.items() if LLGR_STALE in cs},
                "kernel": {p for p in all_v4 if k4.get(p) == BIRD.v4},
                "spk": len(set(spk.rib_copy("ipv4")) & all_v4)}

    off = td.log_offset()
    sampler = Sampler(sample, interval=0.2, name="llgr")
    try:
        time.sleep(0.3)
        t_kill = sampler_time(sampler)
        bird.kill()
        # The GR phase ends after BIRD's restart time: LLGR_STALE on every kept route.
        wait_until(lambda: (lambda s: s["tagged"] == set(BIRD_V4) and s["rib"] == set(BIRD_V4))(sample()),
                   BIRD_RESTART_TIME + 8, "tandemd tagging BIRD's routes LLGR_STALE and dropping the NO_LLGR ones")
        t_llgr = sampler_time(sampler) - t_kill
        log(f"(ii) LLGR phase {t_llgr:.2f}s after the kill")
        # To the LLGR-capable FRR: re-advertised with LLGR_STALE; NO_LLGR ones withdrawn.
        wait_until(lambda: all(is_llgr_stale_text(v) for v in frr_llgr_communities(frr, probe4).values()) and
                   frr_llgr_communities(frr, probe4), 15, "FRR receiving BIRD's routes again with LLGR_STALE")
        wait_until(lambda: not set(frr.received_prefixes("ipv4", TANDEM.v4)) & set(BIRD_NOLL_V4) and
                   not set(frr.received_prefixes("ipv6", TANDEM.v6)) & set(BIRD_NOLL_V6), 10,
                   "FRR losing BIRD's NO_LLGR routes")
        got = set(frr.received_prefixes("ipv4", TANDEM.v4))
        check(got >= set(BIRD_V4) and not got & set(BIRD_NOLL_V4),
              f"(ii) FRR (LLGR-capable) should keep BIRD's {N_V4} LLGR-stale routes and lose the {N_NO_LLGR_V4} "
              f"NO_LLGR ones: has {len(got & set(BIRD_V4))} of the former, {len(got & set(BIRD_NOLL_V4))} of the latter")
        got6 = set(frr.received_prefixes("ipv6", TANDEM.v6))
        check(got6 >= set(BIRD_V6) and not got6 & set(BIRD_NOLL_V6),
              f"(ii) FRR IPv6: {len(got6 & set(BIRD_V6))}/{N_V6} LLGR-stale kept, "
              f"{len(got6 & set(BIRD_NOLL_V6))} NO_LLGR left (want 0)")
        # To the speaker (no LLGR capability): withdrawn.
        wait_until(lambda: not set(spk.rib_copy("ipv4")) & all_v4, 10,
                   f"the speaker (no LLGR) losing BIRD's routes (has {len(set(spk.rib_copy('ipv4')) & all_v4)})")
        check(set(spk.rib_copy("ipv4")) >= set(FRR_V4),
              "(ii) the speaker keeps FRR's routes (only BIRD's LLGR-stale ones are withdrawn)")
        log("(ii) LLGR-stale routes: tagged at FRR, withdrawn from the speaker, NO_LLGR ones gone")
        # The end of the long-lived stale time (BIRD's, 10 s): everything removed.
        wait_until(lambda: not td.rib_prefixes("ipv4").get(BIRD.v4) and not td.rib_prefixes("ipv6").get(BIRD.v6),
                   BIRD_RESTART_TIME + BIRD_LL_STALE_TIME + 10, "BIRD's LLGR-stale routes removed from tandemd")
        t_end = sampler_time(sampler) - t_kill
        time.sleep(0.3)
    finally:
        samples = sampler.stop()
    check(not sampler.errors(), f"(ii) tandemctl/ip failed while sampling: {sampler.errors()[:3]}")
    check(BIRD_RESTART_TIME - 0.5 <= t_llgr <= BIRD_RESTART_TIME + 3,
          f"(ii) the LLGR phase should start when BIRD's {BIRD_RESTART_TIME}s restart time ends; it did at {t_llgr:.2f}s")
    lo, hi = BIRD_RESTART_TIME + BIRD_LL_STALE_TIME - 0.5, BIRD_RESTART_TIME + BIRD_LL_STALE_TIME + 3
    check(lo <= t_end <= hi, f"(ii) LLGR-stale routes should be removed {BIRD_LL_STALE_TIME}s (BIRD's long-lived "
          f"stale time, not tandemd's {TANDEM_LL_STALE_TIME}s) after the LLGR phase began: removed at {t_end:.2f}s, "
          f"want {lo}..{hi}s after the kill")
    rel = [(t - t_kill, s) for t, _, s in samples if not isinstance(s, Exception)]
    bad = [(round(t, 2), len(s["rib"]), len(s["tagged"]), len(s["kernel"])) for t, s in rel
           if 0.3 < t < BIRD_RESTART_TIME - 0.5 and not (s["rib"] == all_v4 and not s["tagged"] and
                                                         s["kernel"] == all_v4 and s["spk"] == len(all_v4))]
    check(not bad, f"(ii) GR phase: all {len(all_v4)} BIRD routes should stay untagged in RIB, kernel and at the "
          f"speaker; (t, rib, tagged, kernel) broken: {bad[:3]}")
    mid = [(t, s) for t, s in rel if t_llgr + 1.0 < t < t_end - 1.0]
    check(len(mid) >= 6, f"(ii) expected >= 6 samples in the long-lived stale phase, got {len(mid)}")
    bad = [(round(t, 2), len(s["rib"]), len(s["tagged"]), len(s["kernel"])) for t, s in mid
           if not (s["rib"] == set(BIRD_V4) and s["tagged"] == set(BIRD_V4) and s["kernel"] == set(BIRD_V4))]
    check(not bad, f"(ii) LLGR phase: exactly BIRD's {N_V4} LLGR-eligible routes should be in RIB (tagged "
          f"65535:6) and kernel, the NO_LLGR ones not; (t, rib, tagged, kernel) broken: {bad[:3]}")
    wait_until(lambda: not set(td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)) & all_v4 and
               not set(td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO)) & all_v6, 5,
               "BIRD's routes removed from kernel table 100 at the end of the long-lived stale time")
    wait_until(lambda: not set(frr.received_prefixes("ipv4", TANDEM.v4)) & all_v4 and
               not set(frr.received_prefixes("ipv6", TANDEM.v6)) & all_v6, 10,
               "BIRD's LLGR-stale routes withdrawn from FRR at the end of the long-lived stale time")
    check(set(td.rib_prefixes("ipv4").get(FRR.v4, set())) == set(FRR_V4),
          "(ii) FRR's own routes in tandemd untouched by BIRD's restart")
    lines = td.log_lines(rf"peer {BIRD.v4}\b", r"long-lived|llgr", since=off)
    check(lines, "(ii) tandemd should log the long-lived stale phase of BIRD's routes (a line with "
          f"'long-lived' or 'LLGR'); its graceful-restart lines: "
          f"{td.log_lines(rf'peer {BIRD.v4}', 'graceful restart', since=off)[-6:]}")
    log(f"(ii) LLGR: tagged at {t_llgr:.2f}s, removed at {t_end:.2f}s after the kill; log: {lines[-1][-160:]}")


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("gr-timers", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False, speaker=True)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        td.log_["level"] = "info"
        td.tables["fib"] = {"enabled": True, "table": FIB_TABLE, "protocol": FIB_PROTO}
        td.tables["graceful_restart"] = {"long_lived_stale_time": TANDEM_LL_STALE_TIME}
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "speaker v4 (eBGP, no LLGR)", passive=True)
        frr.extra_router += ["bgp graceful-restart", "bgp graceful-restart preserve-fw-state",
                             f"bgp graceful-restart restart-time {FRR_RESTART_TIME}",
                             "bgp graceful-restart select-defer-time 10"]
        for p in FRR_V4 + FRR_V6:
            frr.add_network(p)
        bird.add_static("ll4", BIRD_V4)
        bird.add_static("ll6", BIRD_V6)
        bird.add_static("noll4", BIRD_NOLL_V4, communities=["65535:7"])
        bird.add_static("noll6", BIRD_NOLL_V6, communities=["65535:7"])
        for p in bird.peers:
            p["extra"] += ["graceful restart on;", f"graceful restart time {BIRD_RESTART_TIME};",
                           "long lived graceful restart on;", f"long lived stale time {BIRD_LL_STALE_TIME};"]
        top.start(timeout=40)
        spk = Speaker(top.snode, SPEAKER.asn, families=("ipv4",), name="spk4")
        lab.cleanups.append(spk.close)
        spk.connect(TANDEM.v4)
        spk.wait_established()

        def loaded():
            r4, k4 = td.rib_prefixes("ipv4"), td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
            return (r4.get(FRR.v4) == set(FRR_V4) and r4.get(BIRD.v4) == set(BIRD_V4) | set(BIRD_NOLL_V4) and
                    len(k4) == 2 * N_V4 + N_NO_LLGR_V4)
        wait_until(loaded, 60, "tandemd's RIB and kernel holding FRR's and BIRD's routes")

        # --- (i) ----------------------------------------------------------------------------
        part_restart_timer(td, frr)

        # --- (ii) ---------------------------------------------------------------------------
        frr.extra_router.append(f"bgp long-lived-graceful-restart stale-time {TANDEM_LL_STALE_TIME}")
        frr.restart_bgpd()
        frr.wait_established(TANDEM.v4, 30)
        frr.wait_established(TANDEM.v6, 30)
        wait_until(lambda: td.rib_prefixes("ipv4").get(FRR.v4) == set(FRR_V4), 40,
                   "FRR's routes back in tandemd after its bgpd restart")
        part_llgr(td, frr, bird, spk)


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
