#!/usr/bin/env python3
"""Graceful restart in transit: a restarting tandemd sends End-of-RIB downstream only
after it has relearned its upstreams' routes, so the downstream never loses a route.

Two upstreams each originate 10,000 IPv4 /24s and 20 IPv6 /48s: FRR (iBGP, `bgp
graceful-restart`) and a second BIRD ("bird2", 192.0.2.5, eBGP, AS 4200000500,
`graceful restart on`). tandemd (kernel table 100, GR with both families and F=1)
passes all 20,000 to the downstream BIRD ("bird", eBGP, `graceful restart on`,
`debug { routes }`). tandemd originates nothing itself: everything the downstream has
from it is transit. FRR 8.4 sets the Restart State bit in its OPENs for 120 s after
bgpd starts; RFC 4724 §4.1 would not wait for such a peer, tandemd deliberately does
(docs/graceful-restart.md), and this test shows why: otherwise FRR's 10,000 routes
would be missing when tandemd sends End-of-RIB downstream. The second upstream (R=0)
is the plain RFC case.

tandemd is SIGKILLed and started again with the same configuration. The downstream
BIRD, a helper, keeps tandemd's routes stale and waits for tandemd's End-of-RIB (RFC
4724 §4.2); at End-of-RIB it deletes whatever is still stale. So tandemd must not
send End-of-RIB downstream before its table is complete again — RFC 4724 §4.1: the
restarting speaker defers its route selection until it has End-of-RIB from its peers
(the upstreams), and only then advertises and sends End-of-RIB. If tandemd sent
End-of-RIB early (with a partial or empty table) the downstream would drop routes,
and its network would black-hole.

Checked: a sampler reads the downstream's count of routes imported from tandemd
(`birdc show protocols all`) and tandemd's kernel table every ~100 ms from before the
kill until after the restart: the count never drops below 20,000 (+40 IPv6) and the
kernel keeps the upstreams' 20,000; the downstream's route log shows no removal at
all of a route from tandemd; tandemd's log shows, after the restart, End-of-RIB
received from both upstreams, then the end of the selection deferral, then End-of-RIB
sent downstream after all 20,000 prefixes ("End-of-RIB sent for ipv4-unicast (20000
prefixes advertised)"); the downstream's helper state ends ("Neighbor graceful
restart done") with exactly the upstreams' routes.
"""

import ipaddress
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.bird import BirdRouter  # noqa: E402
from lab.tandem import Sampler, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, BIRD2, FRR, TANDEM, StandardLab, add_host  # noqa: E402
from test_gr_restart import (DEFERRAL, FIB_PROTO, FIB_TABLE, bird_gr_extra, bird_removals,  # noqa: E402
                             check_open_r0, tandem_gr)

N_UP_V4 = 10000   # per upstream
N_UP_V6 = 20
N_V4 = 2 * N_UP_V4   # what the downstream gets
N_V6 = 2 * N_UP_V6


def v4_block(first, n):
    base = int(ipaddress.IPv4Address(first))
    return [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(n)]


B2_V4 = v4_block("10.160.0.0", N_UP_V4)
B2_V6 = [f"2001:db8:{0x5000 + i:x}::/48" for i in range(N_UP_V6)]
FRR_V4 = v4_block("10.64.0.0", N_UP_V4)
FRR_V6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_UP_V6)]
UP_V4 = B2_V4 + FRR_V4
UP_V6 = B2_V6 + FRR_V6


def log_index(lines_with_pos, rx):
    for pos, line in lines_with_pos:
        if re.search(rx, line):
            return pos, line
    return None, None


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("gr-transit", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        tandem_gr(td)
        frr.extra_router += ["bgp graceful-restart"]
        for p in FRR_V4 + FRR_V6:
            frr.add_network(p)
        for p in bird.peers:
            p["extra"] += bird_gr_extra()
        # The upstream: a second BIRD in its own namespace.
        unode = add_host(lab, BIRD2)
        lab.wait_links()
        up = BirdRouter(unode, BIRD2.asn, name="bird2")
        up.add_static("up4", B2_V4)
        up.add_static("up6", B2_V6)
        up.add_peer("tandem4", BIRD2.v4, TANDEM.v4, TANDEM.asn, extra=bird_gr_extra())
        up.add_peer("tandem6", BIRD2.v6, TANDEM.v6, TANDEM.asn, extra=bird_gr_extra())
        td.add_peer(BIRD2.v4, BIRD2.asn, "upstream BIRD v4 (eBGP)")
        td.add_peer(BIRD2.v6, BIRD2.asn, "upstream BIRD v6 (eBGP)")
        t0 = time.monotonic()
        top.start(timeout=60)
        up.start()
        for proto in ("tandem4", "tandem6"):
            up.wait_established(proto, 30)
        wait_until(lambda: bird.protocol("tandem4")["imported"] == N_V4 and
                   bird.protocol("tandem6")["imported"] == N_V6, 60,
                   f"the downstream BIRD importing the upstreams' {N_V4}+{N_V6} routes through tandemd")
        wait_until(lambda: len(td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)) == N_V4, 20,
                   f"tandemd's kernel table {FIB_TABLE} holding the upstreams' {N_V4} routes")
        log(f"the downstream has the upstreams' routes through tandemd {time.monotonic() - t0:.1f}s after start")
        bird_off = len(bird.log_text())

        def sample():
            return (bird.protocol("tandem4")["imported"], bird.protocol("tandem6")["imported"],
                    len(td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)))

        sampler = Sampler(sample, interval=0.1, name="bird-count")
        try:
            time.sleep(0.5)
            sampler.phase = "killed"
            td.kill()
            wait_until(lambda: bird.neighbor_restarting("tandem4"), 10,
                       "BIRD helping tandemd (\"Neighbor graceful restart active\")")
            sampler.phase = "down"
            time.sleep(1.5)
            sampler.phase = "restarting"
            off = td.log_offset()
            td.start()
            td.wait_log(r"graceful restart: restarting", timeout=10, since=off)
            wait_until(lambda: td.log_lines(rf"peer {BIRD.v4}\b", r"End-of-RIB sent for ipv4-unicast", since=off) and
                       td.log_lines(rf"peer {BIRD.v6}\b", r"End-of-RIB sent for ipv6-unicast", since=off),
                       DEFERRAL + 10, "tandemd sending End-of-RIB to BIRD after its restart")
            check_open_r0(td, BIRD2.v4, off, "the upstream BIRD")
            wait_until(lambda: not bird.neighbor_restarting("tandem4") and not bird.neighbor_restarting("tandem6"),
                       20, "BIRD ending its help after tandemd's End-of-RIB")
            sampler.phase = "done"
            time.sleep(1.0)
        finally:
            samples = sampler.stop()

        check(not sampler.errors(), f"birdc failed while sampling: {sampler.errors()[:3]}")
        low = [(round(t, 2), ph, v) for t, ph, v in samples if v[0] < N_V4 or v[1] < N_V6]
        check(not low, f"BIRD must keep >= {N_V4}+{N_V6} routes from tandemd through its restart; "
              f"{len(low)} of {len(samples)} samples were lower, first: {low[:5]}")
        check(len([1 for _, ph, _ in samples if ph in ("down", "restarting")]) >= 10,
              f"expected >= 10 samples of BIRD while tandemd was down or restarting, got "
              f"{len([1 for _, ph, _ in samples if ph in ('down', 'restarting')])}")
        nok = [(round(t, 2), ph, v[2]) for t, ph, v in samples if v[2] != N_V4]
        check(not nok, f"tandemd's kernel table {FIB_TABLE} must keep the upstreams' {N_V4} routes through the restart; "
              f"{len(nok)} samples differ, first: {nok[:5]}")
        rm = bird_removals(bird, ["tandem4", "tandem6"], UP_V4 + UP_V6, since=bird_off)
        check(not rm, f"BIRD must never remove a route from tandemd; its log has {len(rm)} removals: {rm[:3]}")
        bl = bird.log_text()[bird_off:]
        check("tandem4: Neighbor graceful restart done" in bl and "tandem6: Neighbor graceful restart done" in bl,
              f"BIRD should finish helping on both sessions; its session lines: "
              f"{[x for x in bl.splitlines() if 'tandem' in x and 'graceful' in x][-6:]}")
        log(f"{len(samples)} samples of BIRD: never below {N_V4}+{N_V6}, no removal in its log")

        # --- the order in tandemd's log ----------------------------------------------------
        lines = list(enumerate(td.log_text()[off:].splitlines()))
        for fam, n, v6 in (("ipv4-unicast", N_V4, False), ("ipv6-unicast", N_V6, True)):
            ups = ((FRR.v6, "FRR"), (BIRD2.v6, "bird2")) if v6 else ((FRR.v4, "FRR"), (BIRD2.v4, "bird2"))
            down = BIRD.v6 if v6 else BIRD.v4
            i_snt, l_snt = log_index(lines, rf"peer {re.escape(down)}\b.*End-of-RIB sent for {fam}")
            i_def, l_def = log_index(lines, rf"selection deferral over for {fam}")
            for addr, who in ups:
                i_rcv, l_rcv = log_index(lines, rf"peer {re.escape(addr)}\b.*End-of-RIB received for {fam}")
                check(i_rcv is not None and i_snt is not None and i_rcv < i_snt,
                      f"{fam}: tandemd must receive {who}'s End-of-RIB before sending End-of-RIB downstream; log "
                      f"after the restart: received at line {i_rcv} ({l_rcv}), sent at line {i_snt} ({l_snt})")
                check(i_def is not None and i_rcv < i_def <= i_snt,
                      f"{fam}: selection deferral should end after {who}'s End-of-RIB and before End-of-RIB "
                      f"downstream: deferral-over line {i_def} ({l_def}), received {i_rcv}, sent {i_snt}")
                log(f"{fam}: {who}: {l_rcv.split('] ', 1)[-1][:90]}")
            m = re.search(r"\((\d+) prefixes advertised\)", l_snt or "")
            check(m and int(m.group(1)) == n, f"{fam}: End-of-RIB downstream should follow all {n} prefixes; "
                  f"tandemd logged: {l_snt}")
            log(f"{fam}: then {l_def.split('] ', 1)[-1][:70]}; then {l_snt.split('] ', 1)[-1][:90]}")
        r_frr = td.log_lines(rf"peer {re.escape(FRR.v4)}: graceful restart: peer advertised", since=off)
        log(f"FRR's OPEN after the restart: {r_frr[-1].split('advertised ', 1)[-1][:60] if r_frr else '?'}")

        k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
        want_k = {p: BIRD2.v4 for p in B2_V4} | {p: FRR.v4 for p in FRR_V4}
        check(k4 == want_k, f"tandemd's kernel table after the restart: {len(k4)} routes, "
              f"{sum(1 for p in want_k if k4.get(p) != want_k[p])} of the upstreams' {N_V4} missing or via the "
              f"wrong gateway")
        routes = bird.routes("protocol tandem4")
        check(set(routes) == set(UP_V4), f"the downstream's table from tandemd after the restart: "
              f"{len(set(UP_V4) - set(routes))} missing, {len(set(routes) - set(UP_V4))} unexpected")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
