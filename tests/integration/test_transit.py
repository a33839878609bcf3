#!/usr/bin/env python3
"""Transit: routes cross tandemd in both directions with their attributes intact, then
are withdrawn everywhere.

FRR (iBGP, AS 4200000100) originates 10,000 IPv4 /24s and 200 IPv6 /48s through four
route maps (communities, a large community, an extended community, MED). They must
reach BIRD (eBGP, AS 4200000200) through tandemd with AS_PATH "4200000100", next hop
tandemd, the MED kept (the routes originated inside our AS: empty AS_PATH) and every
community intact — compared against BIRD's whole table (`show route all protocol`).
BIRD originates IPv4 and IPv6 static routes exported with bgp_community,
bgp_large_community and bgp_med; they must reach FRR with AS_PATH "4200000200", next
hop BIRD (iBGP: unchanged), MED kept, LOCAL_PREF 100 — from FRR's table JSON plus
per-prefix JSON for the communities. Nothing is advertised back to its source.
A second eBGP peer (the Python speaker, AS 4200000300, IPv4) receives both sets: BIRD's
routes with AS_PATH "4200000100 4200000200" and their MED removed (learned from
another AS), FRR's with their MED kept; neither carries LOCAL_PREF.
tandemd also installs its best paths into kernel table 100 (protocol 201) in its
namespace: every learned route must be there with the peer's next hop.
Then FRR removes its networks (`no network` in one vtysh batch) and BIRD disables its
static protocols: both peers' tables, tandemd's RIB and its kernel table must be empty
of them again.
"""

import ipaddress
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bgpspeaker import Speaker  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.topology import BIRD, FRR, SPEAKER, TANDEM, StandardLab  # noqa: E402

N_V4 = 10000
N_V6 = 200
N_BIRD = 50
FIB_TABLE = 100
FIB_PROTO = 201


def kernel_routes(td, family):
    """{prefix: gateway} of tandemd's routes in its namespace's kernel table."""
    out = td.node.exec(["ip", "-6" if family == "ipv6" else "-4", "route", "show", "table", str(FIB_TABLE),
                        "proto", str(FIB_PROTO)]).stdout
    routes = {}
    for line in out.splitlines():
        f = line.split()
        if f and "via" in f:
            routes[f[0]] = f[f.index("via") + 1]
    return routes


def frr_prefixes():
    base = int(ipaddress.IPv4Address("10.64.0.0"))
    v4 = [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(N_V4)]
    v6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_V6)]
    return v4, v6


def frr_attrs(k):
    """Attributes of route map RM<k> (prefix i uses k = i % 4)."""
    return {"communities": sorted([f"65000:1{k}", "65000:200"]),
            "large": [f"4200000100:1:{k}"], "ext": [f"rt:65000:{k}"], "med": k * 10 + 5}


BIRD_STATICS = {
    # name: (prefixes, communities, large communities, med)
    "static4a": ([f"10.200.{i}.0/24" for i in range(N_BIRD)], ["65000:300"], ["4200000200:7:8"], 70),
    "static4b": ([f"10.201.{i}.0/24" for i in range(N_BIRD)], ["65000:301", "65000:302"],
                 ["4200000200:7:9"], 71),
    "static6": ([f"2001:db8:{0x2000 + i:x}::/48" for i in range(N_BIRD)], ["65000:306"],
                ["4200000200:7:10"], 76),
}


def norm_ext(e):
    """BIRD prints '(rt, 65000, 1)' -> 'rt:65000:1'."""
    return ":".join(x.strip() for x in e.split(","))


def compare_bird(bird, proto, expected, family):
    """BIRD's whole table for `proto` must equal `expected` {prefix: attrs}."""
    routes = bird.routes(f"protocol {proto}")
    got = set(routes)
    missing, extra = set(expected) - got, got - set(expected)
    check(not missing and not extra,
          f"BIRD {proto}: {len(missing)} missing (e.g. {sorted(missing)[:3]}), "
          f"{len(extra)} unexpected (e.g. {sorted(extra)[:3]})")
    bad = []
    for pfx, exp in expected.items():
        r = routes[pfx][0]
        nh = (r.get("next_hop") or "").split()
        ok = (r.get("as_path") == str(TANDEM.asn) and
              nh and nh[0] == (TANDEM.v4 if family == "ipv4" else TANDEM.v6) and
              r.get("med") == exp["med"] and
              sorted(r["community"]) == exp["communities"] and
              r["large_community"] == exp["large"] and
              [norm_ext(e) for e in r["ext_community"]] == exp["ext"] and
              r.get("origin") == "igp")
        if not ok:
            bad.append((pfx, r, exp))
    check(not bad, f"BIRD {proto}: {len(bad)} routes with wrong attributes, first: {bad[:2]}")
    log(f"BIRD {proto}: {len(expected)} routes, attributes intact")


def compare_frr(frr, family, expected):
    """FRR's routes from tandemd must equal `expected` {prefix: (communities, large, med)}."""
    tandem_addr = TANDEM.v4 if family == "ipv4" else TANDEM.v6
    got = frr.received_prefixes(family, tandem_addr)
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    check(not missing and not extra, f"FRR {family}: {len(missing)} missing (e.g. {sorted(missing)[:3]}), "
          f"{len(extra)} unexpected (e.g. {sorted(extra)[:3]})")
    detail = frr.route_detail(family, sorted(expected))
    bad = []
    for pfx, (comms, large, med) in expected.items():
        t = got[pfx]
        nhs = [n.get("ip") for n in t.get("nexthops", [])]
        d = detail[pfx]["paths"]
        d = [p for p in d if p.get("peer", {}).get("peerId") == tandem_addr]
        d = d[0] if d else {}
        ok = (t.get("path") == str(BIRD.asn) and t.get("metric") == med and t.get("locPrf") == 100 and
              (BIRD.v4 if family == "ipv4" else BIRD.v6) in nhs and t.get("valid") is True and
              sorted(d.get("community", {}).get("list", [])) == sorted(comms) and
              d.get("largeCommunity", {}).get("list", []) == large)
        if not ok:
            bad.append((pfx, t, d))
    check(not bad, f"FRR {family}: {len(bad)} routes with wrong attributes, first: {bad[:1]}")
    log(f"FRR {family}: {len(expected)} routes from tandemd, attributes intact")


def body(args):
    v4, v6 = frr_prefixes()
    with Lab("transit", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False, speaker=True)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tables["fib"] = {"enabled": True, "table": FIB_TABLE, "protocol": FIB_PROTO}
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "speaker v4 (eBGP)", passive=True)
        for k in range(4):
            a = frr_attrs(k)
            frr.add_route_map(f"RM{k}", [f"set community {' '.join(a['communities'])}",
                                         f"set large-community {a['large'][0]}",
                                         f"set extcommunity rt {a['ext'][0][3:]}",
                                         f"set metric {a['med']}"])
        for i, p in enumerate(v4):
            frr.add_network(p, f"RM{i % 4}")
        for i, p in enumerate(v6):
            frr.add_network(p, f"RM{i % 4}")
        for name, (pfx, comms, large, med) in BIRD_STATICS.items():
            bird.add_static(name, pfx, comms, large, med)
        t0 = time.monotonic()
        top.start(timeout=40)
        spk = Speaker(top.snode, SPEAKER.asn, families=("ipv4",), name="spk4")
        lab.cleanups.append(spk.close)
        spk.connect(TANDEM.v4)
        spk.wait_established()

        # --- FRR -> tandemd -> BIRD ------------------------------------------------------
        exp4 = {p: frr_attrs(i % 4) for i, p in enumerate(v4)}
        exp6 = {p: frr_attrs(i % 4) for i, p in enumerate(v6)}
        wait_until(lambda: bird.protocol("tandem4")["imported"] >= N_V4 and
                   bird.protocol("tandem6")["imported"] >= N_V6, 60,
                   f"BIRD importing {N_V4} + {N_V6} routes via tandemd "
                   f"(now {bird.protocol('tandem4')['imported']} + {bird.protocol('tandem6')['imported']})")
        log(f"BIRD has all FRR routes {time.monotonic() - t0:.1f}s after start")
        compare_bird(bird, "tandem4", exp4, "ipv4")
        compare_bird(bird, "tandem6", exp6, "ipv6")

        # --- BIRD -> tandemd -> FRR ------------------------------------------------------
        e4, e6 = {}, {}
        for name, (pfx, comms, large, med) in BIRD_STATICS.items():
            for p in pfx:
                (e6 if ":" in p else e4)[p] = (comms, large, med)
        wait_until(lambda: set(frr.received_prefixes("ipv4", TANDEM.v4)) >= set(e4) and
                   set(frr.received_prefixes("ipv6", TANDEM.v6)) >= set(e6), 30,
                   "FRR receiving BIRD's routes via tandemd")
        compare_frr(frr, "ipv4", e4)
        compare_frr(frr, "ipv6", e6)

        # --- a second eBGP peer (the speaker) sees the eBGP export rules -----------------
        want = set(v4) | set(e4)
        wait_until(lambda: set(spk.rib_copy("ipv4")) == want, 30,
                   f"the speaker receiving FRR's and BIRD's IPv4 routes ({len(spk.rib_copy('ipv4'))}/{len(want)})")
        rib = spk.rib_copy("ipv4")
        bad = [r for p, r in rib.items() if p in e4 and not (
            r.as_path == [TANDEM.asn, BIRD.asn] and r.next_hop == TANDEM.v4 and r.med is None and
            r.local_pref is None and r.communities == e4[p][0] and r.large_communities == e4[p][1])]
        check(not bad, f"eBGP-learned routes re-exported to eBGP: MED must be removed, {len(bad)} wrong: {bad[:2]}")
        bad = [r for p, r in rib.items() if p in exp4 and not (
            r.as_path == [TANDEM.asn] and r.next_hop == TANDEM.v4 and r.med == exp4[p]["med"] and
            r.local_pref is None and sorted(r.communities) == exp4[p]["communities"] and
            r.ext_communities == exp4[p]["ext"])]
        check(not bad, f"iBGP-learned routes from inside the AS to eBGP (MED kept): {len(bad)} wrong: {bad[:2]}")
        log(f"speaker (eBGP): {len(rib)} routes; MED removed from BIRD's, kept on FRR's; no LOCAL_PREF")

        # --- tandemd's own view ------------------------------------------------------------
        st = td.state()
        check(len(st.prefixes("ipv4", peer=FRR.v4)) == N_V4 and len(st.prefixes("ipv6", peer=FRR.v6)) == N_V6,
              f"tandemd RIB from FRR: {len(st.prefixes('ipv4', peer=FRR.v4))} v4, "
              f"{len(st.prefixes('ipv6', peer=FRR.v6))} v6")
        check(st.prefixes("ipv4", peer=BIRD.v4) == set(e4) and st.prefixes("ipv6", peer=BIRD.v6) == set(e6),
              "tandemd RIB from BIRD")
        r = st.best("ipv4")[v4[1]]
        a = frr_attrs(1)
        check(r.get("peer") == FRR.v4 and r.get("med") == a["med"] and sorted(r.get("communities", [])) ==
              a["communities"] and r.get("large_communities") == a["large"] and r.get("as_path", "") == "" and
              r.get("local_pref") == 100, f"tandemd's RIB entry for {v4[1]}: {r}")
        r = st.best("ipv4")["10.201.3.0/24"]
        check(r.get("peer") == BIRD.v4 and r.get("med") == 71 and r.get("as_path") == str(BIRD.asn)
              and sorted(r.get("communities", [])) == ["65000:301", "65000:302"], f"tandemd: 10.201.3.0/24 {r}")
        pf, pb = st.peer(FRR.v4), st.peer(BIRD.v4)
        check(pf.get("received") == N_V4 and pf.get("accepted") == N_V4,
              f"tandemd peer {FRR.v4} received/accepted {pf.get('received')}/{pf.get('accepted')}")
        check(pb.get("advertised") == N_V4, f"tandemd advertised {pb.get('advertised')} to {BIRD.v4}")
        # Nothing back to its source: BIRD's statics are not in what BIRD got from tandemd
        # (checked by compare_bird), FRR's networks not in what FRR got (compare_frr).

        # --- the kernel FIB ----------------------------------------------------------------
        want4 = {p: FRR.v4 for p in v4} | {p: BIRD.v4 for p in e4}
        want6 = {p: FRR.v6 for p in v6} | {p: BIRD.v6 for p in e6}
        wait_until(lambda: kernel_routes(td, "ipv4") == want4 and kernel_routes(td, "ipv6") == want6, 20,
                   f"tandemd's kernel table {FIB_TABLE}: {len(kernel_routes(td, 'ipv4'))}/{len(want4)} v4, "
                   f"{len(kernel_routes(td, 'ipv6'))}/{len(want6)} v6 routes with the right gateway")
        log(f"kernel table {FIB_TABLE}: {len(want4)} v4 + {len(want6)} v6 routes, protocol {FIB_PROTO}")

        # --- withdraw everything ---------------------------------------------------------
        t1 = time.monotonic()
        frr.configure([f"router bgp {FRR.asn}", "address-family ipv4 unicast"] +
                      [f"no network {p}" for p in v4] +
                      ["exit-address-family", "address-family ipv6 unicast"] +
                      [f"no network {p}" for p in v6])
        for name in BIRD_STATICS:
            bird.birdc(f"disable {name}")
        wait_until(lambda: bird.protocol("tandem4")["imported"] == 0 and bird.protocol("tandem6")["imported"] == 0,
                   30, f"BIRD's routes from tandemd withdrawn (left {bird.protocol('tandem4')['imported']} v4, "
                   f"{bird.protocol('tandem6')['imported']} v6)")
        wait_until(lambda: not frr.received_prefixes("ipv4", TANDEM.v4) and
                   not frr.received_prefixes("ipv6", TANDEM.v6), 30, "FRR's routes from tandemd withdrawn")
        wait_until(lambda: not spk.rib_copy("ipv4"), 30, "the speaker's routes from tandemd withdrawn")
        check(not bird.routes("protocol tandem4") and not bird.routes("protocol tandem6"), "BIRD table empty")
        check(not frr.table("ipv4") and not frr.table("ipv6"), "FRR table empty")
        wait_until(lambda: not kernel_routes(td, "ipv4") and not kernel_routes(td, "ipv6"), 10,
                   f"tandemd's kernel routes removed ({len(kernel_routes(td, 'ipv4'))} v4 left)")
        st = td.wait_routes(lambda s: not s.routes("ipv4") and not s.routes("ipv6") and s, 10,
                            "RIB empty after withdrawals")
        check(all(p.get("state") == "Established" for p in st.peers()), f"sessions stayed up: {st.summary()}")
        check(spk.state == "Established" and not spk.notifications, "the speaker's session stayed up")
        log(f"withdrawn everywhere in {time.monotonic() - t1:.1f}s")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
