#!/usr/bin/env python3
"""Route refresh (RFC 2918): a ROUTE-REFRESH from a peer is answered with the full
Adj-RIB-Out, and tandemd's session survives it.

FRR (iBGP) originates 1,000 IPv4 and 100 IPv6 prefixes with communities; the Python
speaker (eBGP, AS 4200000300; one session per family) announces its own prefixes.
1. The speaker receives tandemd's table (FRR's routes plus tandemd's own networks)
   with the eBGP export attributes and End-of-RIB; it sends ROUTE-REFRESH for the
   family and must receive every prefix again with identical attributes and no
   withdrawals, while the session stays up (no NOTIFICATION).
2. FRR `clear bgp <af> unicast <tandemd> soft in` makes FRR send ROUTE-REFRESH; FRR's
   received-UPDATE counter increases, its table from tandemd (the speaker's routes and
   tandemd's networks) is the same afterwards, and the session was not reset.
"""

import ipaddress
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bgpspeaker import Route, Speaker  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.topology import SPEAKER, TANDEM, TANDEM_NETWORKS, StandardLab  # noqa: E402

N_FRR_V4, N_FRR_V6 = 1000, 100
N_SPK_V4, N_SPK_V6 = 300, 50


def body(args):
    with Lab("route-refresh", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, bird=False, speaker=True)
        frr, td, snode = top.frr, top.tandem, top.snode
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "speaker v4", passive=True)
        td.add_peer(SPEAKER.v6, SPEAKER.asn, "speaker v6", passive=True)
        frr.add_route_map("RMF", ["set community 65000:400 65000:401", "set large-community 4200000100:4:1",
                                  "set metric 40"])
        base = int(ipaddress.IPv4Address("10.64.0.0"))
        frr_v4 = [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(N_FRR_V4)]
        frr_v6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_FRR_V6)]
        for p in frr_v4 + frr_v6:
            frr.add_network(p, "RMF")
        top.start(timeout=40)

        spk = {"ipv4": Speaker(snode, SPEAKER.asn, families=("ipv4",), name="spk4"),
               "ipv6": Speaker(snode, SPEAKER.asn, families=("ipv6",), name="spk6")}
        spk["ipv4"].connect(TANDEM.v4)
        spk["ipv6"].connect(TANDEM.v6)
        lab.cleanups.append(lambda: [s.close() for s in spk.values()])
        for s in spk.values():
            s.wait_established()
            check(s.peer_open["asn"] == TANDEM.asn, f"{s.name}: tandemd's OPEN says AS {s.peer_open['asn']}")
            check(s.peer_open["caps"]["route_refresh"], f"{s.name}: tandemd did not offer route refresh")
        base50 = int(ipaddress.IPv4Address("10.50.0.0"))
        spk_routes = [Route(str(ipaddress.IPv4Network((base50 + i * 256, 24))), next_hop=SPEAKER.v4,
                            communities=["65000:500"], med=50)
                      for i in range(N_SPK_V4)]
        spk_routes6 = [Route(f"2001:db8:{0x5000 + i:x}::/48", next_hop=SPEAKER.v6, communities=["65000:506"])
                       for i in range(N_SPK_V6)]
        spk["ipv4"].announce(spk_routes)
        spk["ipv6"].announce(spk_routes6)
        spk["ipv4"].send_end_of_rib("ipv4")
        spk["ipv6"].send_end_of_rib("ipv6")

        # --- 1. the speaker's table and its refresh ------------------------------------------
        expect = {"ipv4": set(frr_v4) | {TANDEM_NETWORKS[0]}, "ipv6": set(frr_v6) | {TANDEM_NETWORKS[1]}}
        for fam, s in spk.items():
            wait_until(lambda: set(s.rib_copy(fam)) == expect[fam] and fam in s.eor, 30,
                       f"{s.name}: tandemd's full {fam} table and End-of-RIB "
                       f"(have {len(s.rib_copy(fam))}/{len(expect[fam])}, eor {list(s.eor)})")
            rib = s.rib_copy(fam)
            nh = TANDEM.v4 if fam == "ipv4" else TANDEM.v6
            bad = [r for p, r in rib.items() if p not in TANDEM_NETWORKS and not (
                r.as_path == [TANDEM.asn] and r.next_hop == nh and r.med == 40 and r.local_pref is None and
                sorted(r.communities) == ["65000:400", "65000:401"] and
                r.large_communities == ["4200000100:4:1"])]
            check(not bad, f"{s.name}: {len(bad)} of FRR's routes with wrong eBGP attributes: {bad[:2]}")
            own = rib[TANDEM_NETWORKS[0] if fam == "ipv4" else TANDEM_NETWORKS[1]]
            check(own.as_path == [TANDEM.asn] and own.med == 10 and own.communities == ["4200:1"],
                  f"{s.name}: tandemd's own network {own}")
            log(f"{s.name}: {len(rib)} routes with End-of-RIB, attributes as expected")

            before = {p: r.attr_key() for p, r in rib.items()}
            mark = s.mark()
            n_upd = s.updates_received
            s.send_route_refresh(fam)
            wait_until(lambda: set(s.announcements_since(mark, fam)) >= set(before), 20,
                       f"{s.name}: every {fam} prefix again after ROUTE-REFRESH "
                       f"(got {len(s.announcements_since(mark, fam))}/{len(before)})")
            again = s.announcements_since(mark, fam)
            diff = [p for p in before if again[p].attr_key() != before[p]]
            check(not diff, f"{s.name}: attributes changed on refresh for {len(diff)} prefixes, e.g. "
                  f"{[(p, again[p]) for p in diff[:2]]}")
            check(set(again) == set(before), f"{s.name}: unexpected prefixes in refresh "
                  f"{sorted(set(again) - set(before))[:5]}")
            wd = [w for w in s.withdraw_log if w[0] > mark]
            check(not wd, f"{s.name}: withdrawals during refresh: {wd[:5]}")
            check(s.updates_received > n_upd, f"{s.name}: UPDATEs after refresh")
            time.sleep(0.5)
            check(s.state == "Established" and not s.notifications and not s.closed_reason,
                  f"{s.name}: session after refresh: {s.state} {s.notifications} {s.closed_reason}")
            check(td.state().peer_state(SPEAKER.v4 if fam == "ipv4" else SPEAKER.v6) == "Established",
                  "tandemd keeps the speaker session")
            log(f"{s.name}: ROUTE-REFRESH answered with all {len(again)} routes, unchanged")

        # --- 2. FRR soft in ------------------------------------------------------------------
        frr_expect = {"ipv4": {r.prefix for r in spk_routes} | {TANDEM_NETWORKS[0]},
                      "ipv6": {r.prefix for r in spk_routes6} | {TANDEM_NETWORKS[1]}}
        for fam, addr in (("ipv4", TANDEM.v4), ("ipv6", TANDEM.v6)):
            wait_until(lambda: set(frr.received_prefixes(fam, addr)) == frr_expect[fam], 20,
                       f"FRR's {fam} table from tandemd (have {len(frr.received_prefixes(fam, addr))}"
                       f"/{len(frr_expect[fam])})")
            n0 = frr.neighbor(addr)
            table0 = {p: (r.get("path"), r.get("metric"), r.get("locPrf")) for p, r in
                      frr.received_prefixes(fam, addr).items()}
            frr.vtysh(f"clear bgp {fam} unicast {addr} soft in")
            wait_until(lambda: frr.neighbor(addr)["messageStats"]["updatesRecv"] >
                       n0["messageStats"]["updatesRecv"], 15,
                       f"FRR's received UPDATE counter for {addr} increasing after soft in")
            n1 = frr.neighbor(addr)
            check(n1["messageStats"]["routeRefreshSent"] > n0["messageStats"]["routeRefreshSent"],
                  f"FRR sent ROUTE-REFRESH to {addr}")
            check(n1["bgpState"] == "Established" and
                  n1.get("connectionsEstablished") == n0.get("connectionsEstablished") and
                  n1.get("connectionsDropped") == n0.get("connectionsDropped"),
                  f"FRR's session with {addr} was not reset: established/dropped "
                  f"{n0.get('connectionsEstablished')}/{n0.get('connectionsDropped')} -> "
                  f"{n1.get('connectionsEstablished')}/{n1.get('connectionsDropped')}")
            time.sleep(1)
            table1 = {p: (r.get("path"), r.get("metric"), r.get("locPrf")) for p, r in
                      frr.received_prefixes(fam, addr).items()}
            check(table1 == table0, f"FRR's {fam} table from tandemd unchanged after soft in "
                  f"({len(table0)} -> {len(table1)})")
            log(f"FRR soft in {fam}: updatesRecv {n0['messageStats']['updatesRecv']} -> "
                f"{n1['messageStats']['updatesRecv']}, table of {len(table1)} kept")
        r = frr.route_detail("ipv4", [spk_routes[7].prefix])[spk_routes[7].prefix]["paths"][0]
        check(r.get("community", {}).get("list") == ["65000:500"] and r.get("metric") == 50 and
              r.get("aspath", {}).get("string") == str(SPEAKER.asn), f"FRR: the speaker's route {r}")
        check(all(s.state == "Established" and not s.notifications for s in spk.values()), "speaker sessions up")


if __name__ == "__main__":
    main(body, needs=("frr",))
