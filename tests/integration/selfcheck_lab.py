#!/usr/bin/env python3
"""Self-check of the lab library without tandemd: FRR and BIRD peer directly with each
other (IPv4 and IPv6 sessions, 4-octet AS numbers), exchange routes with communities,
large communities and MED, and the Python speaker peers with FRR. Afterwards no
namespace or daemon of this run may remain.

Run as root: python3 tests/integration/selfcheck_lab.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import BirdRouter, FrrRouter, Lab, log, run, wait_until  # noqa: E402
from lab.bgpspeaker import Route, Speaker  # noqa: E402
from lab.harness import check, main  # noqa: E402

FRR_AS, BIRD_AS, SPK_AS = 4200000001, 4200000200, 4200000300


def body(args):
    with Lab("selfcheck", keep=args.keep) as lab:
        fn = lab.add_node("frr", "192.0.2.2", "2001:db8::2")
        bn = lab.add_node("bird", "192.0.2.3", "2001:db8::3")
        sn = lab.add_node("spk", "192.0.2.4", "2001:db8::4")
        lab.wait_links()
        lab.reach(fn, bn.v4)
        lab.reach(fn, bn.v6)

        frr = FrrRouter(fn, FRR_AS)
        frr.add_neighbor(bn.v4, BIRD_AS)
        frr.add_neighbor(bn.v6, BIRD_AS)
        frr.add_neighbor(sn.v4, SPK_AS, families=["ipv4", "ipv6"])
        frr.add_route_map("RM1", ["set community 65000:1 65000:2",
                                  "set large-community 4200000001:1:2", "set metric 33"])
        frr.add_network("10.1.0.0/24", "RM1")
        frr.add_network("2001:db8:1000::/48", "RM1")
        bird = BirdRouter(bn, BIRD_AS)
        bird.add_static("st4", ["10.200.0.0/24"], ["65000:7"], ["4200000200:5:6"], 44)
        bird.add_static("st6", ["2001:db8:2000::/48"], ["65000:7"], ["4200000200:5:6"], 44)
        bird.add_peer("frr4", bn.v4, fn.v4, FRR_AS)
        bird.add_peer("frr6", bn.v6, fn.v6, FRR_AS)
        frr.start()
        bird.start()
        for a in (bn.v4, bn.v6):
            frr.wait_established(a)
        for p in ("frr4", "frr6"):
            info = bird.wait_established(p)
        info = bird.protocol("frr4")
        check(info["neighbor_as"] == FRR_AS and info["local_as"] == BIRD_AS, f"BIRD AS numbers {info}")
        nb = frr.neighbor(bn.v4)
        check(nb["remoteAs"] == BIRD_AS and nb["localAs"] == FRR_AS, "FRR AS numbers")

        def bird_has():
            r = bird.routes()
            return "10.1.0.0/24" in r and "2001:db8:1000::/48" in r and r
        r = wait_until(bird_has, 20, "BIRD learning FRR's routes")
        for p in ("10.1.0.0/24", "2001:db8:1000::/48"):
            rt = r[p][0]
            check(rt["community"] == ["65000:1", "65000:2"], f"{p} communities {rt}")
            check(rt["large_community"] == ["4200000001:1:2"], f"{p} large communities {rt}")
            check(rt["med"] == 33 and rt["as_path"] == str(FRR_AS), f"{p} med/as_path {rt}")
        wait_until(lambda: "10.200.0.0/24" in frr.table("ipv4") and "2001:db8:2000::/48" in frr.table("ipv6"),
                   20, "FRR learning BIRD's routes")
        d = frr.route_detail("ipv4", ["10.200.0.0/24"])["10.200.0.0/24"]["paths"][0]
        check(d["community"]["list"] == ["65000:7"] and d["largeCommunity"]["list"] == ["4200000200:5:6"]
              and d["metric"] == 44, f"FRR view of 10.200.0.0/24: {d}")

        # The Python speaker against FRR: both families on one IPv4 session.
        spk = Speaker(sn, SPK_AS, "192.0.2.4", families=("ipv4", "ipv6"), hold_time=9)
        spk.connect(fn.v4)
        spk.wait_established()
        frr.wait_established(sn.v4)
        spk.announce([Route("10.50.0.0/24", next_hop=sn.v4, communities=["65000:50"], med=5,
                            large_communities=["4200000300:1:1"]),
                      Route("2001:db8:3000::/48", next_hop=sn.v6, communities=["65000:51"])])
        wait_until(lambda: "10.50.0.0/24" in frr.table("ipv4") and "2001:db8:3000::/48" in frr.table("ipv6"),
                   10, "FRR learning the speaker's routes")
        d = frr.route_detail("ipv4", ["10.50.0.0/24"])["10.50.0.0/24"]["paths"][0]
        check(d["community"]["list"] == ["65000:50"] and d["metric"] == 5
              and d["largeCommunity"]["list"] == ["4200000300:1:1"], f"FRR view of speaker route {d}")
        # And what FRR sends the speaker: its own and BIRD's routes, both families.
        rib = wait_until(lambda: spk.rib_has(["10.1.0.0/24", "10.200.0.0/24", "2001:db8:1000::/48",
                                              "2001:db8:2000::/48"]) and spk.rib, 10, "speaker RIB")
        a = rib["ipv4"]["10.1.0.0/24"]
        check(a.communities == ["65000:1", "65000:2"] and a.as_path == [FRR_AS], f"speaker saw {a}")
        check(rib["ipv6"]["2001:db8:2000::/48"].as_path == [FRR_AS, BIRD_AS], "speaker v6 AS path")
        n = spk.updates_received
        spk.send_route_refresh("ipv4")
        wait_until(lambda: spk.updates_received > n, 10, "FRR answering ROUTE-REFRESH")
        spk.withdraw(["10.50.0.0/24"])
        wait_until(lambda: "10.50.0.0/24" not in frr.table("ipv4"), 10, "withdrawal at FRR")
        check(not spk.notifications, f"no NOTIFICATION {spk.notifications}")
        spk.close()
        prefix, workdir = lab.prefix, lab.workdir
    # After teardown: nothing of this run left.
    left = [ns for ns in run(["ip", "netns", "list"]).stdout.split() if ns.startswith(prefix)]
    check(not left, f"namespaces left: {left}")
    procs = run(["pgrep", "-a", "-f", workdir], check=False, quiet=True).stdout.strip()
    check(not procs, f"processes left: {procs}")
    log("selfcheck OK")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"), tandemd=False)
