#!/usr/bin/env python3
"""A partition between the two nodes while both still reach the peers must not make two
speakers (docs/ha.md, "Fencing"; the term beacon, replicator/witness).

Lab: test_switchover's Pair with a link of its own between A and B (`pair_link`) for the
replication channel and the heartbeat (BFD 10 ms x 5); each node's term beacon runs over
the peers' segment ([ha] witness_address).

1. The pair link fails (A's end down). B loses the heartbeat and the channel but still
   hears A's term beacon over the peers' segment: it does not take over (logged). A
   carries on alone: routes FRR adds meanwhile reach BIRD through A. The peers' sessions
   never notice (FRR's and BIRD's view unchanged).
2. The link comes back: the channel reconnects and B mirrors A again.
3. The pair link fails again and B also stops hearing A's beacon (nftables in B drops
   it): to B, A looks dead, and B takes every session over, non-stop. A is alive and
   still holds the sessions, but hears B's beacon in the newer term and fences itself
   (sockets closed silently, VIPs released, restart as the standby). The peers saw
   nothing: one speaker throughout, as far as they can tell. Link and beacon back: A
   mirrors B.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bfdd import bfdd_binary  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import FRR, TANDEM  # noqa: E402
from test_replication import ha, wait_mirrored  # noqa: E402
from test_switchover import (N_FRR, N_MORE, N_SESSIONS, NODE_A, PAIR_LINK, Pair, bird_imported,  # noqa: E402
                             frr_count, peers_view, same_view)
from test_takeover import HEARTBEAT, nonstop, wait_primary  # noqa: E402

BEACON_PORT = 7180  # [ha] witness_port's default


def pair_link(node, dev, up):
    node.exec(["ip", "link", "set", dev, "up" if up else "down"])


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    bfdd_binary()
    with Lab("partition", keep=args.keep) as lab:
        pair = Pair(args, lab, tandemctl, ha_extra=HEARTBEAT, pair_link=True)
        frr, bird, a, b, anode, bnode, v4 = pair.frr, pair.bird, pair.a, pair.b, pair.top.tnode, pair.bnode, pair.v4
        wait_until(lambda: ha(a).get("heartbeat") == "up" and ha(b).get("heartbeat") == "up", 10,
                   "the pair's heartbeat up over the pair link")
        check(b.log_lines(r"witness: term beacon on eth0"), "B runs the term beacon on the peers' segment")
        term0 = int(ha(a).get("epoch", 0))

        # --- 1. the pair link fails: no takeover -----------------------------------------
        before = peers_view(frr, bird)
        routes_before = (frr_count(frr), bird_imported(bird))
        off_a, off_b = a.log_offset(), b.log_offset()
        pair_link(anode, PAIR_LINK[0], False)
        log("pair link down (A's end)")
        b.wait_log(r"heartbeat with the other node lost", timeout=5, since=off_b)
        b.wait_log(r"no takeover while the beacon arrives", timeout=5, since=off_b)
        time.sleep(2.0)  # well past 2 x the detection time and the probe timeout
        check(not b.log_lines(r"taking over \d+ sessions", since=off_b), "B did not take over while A's beacon arrived")
        check(ha(b).get("role") == "standby" and ha(a).get("role") == "primary",
              f"roles unchanged: A {ha(a).get('role')}, B {ha(b).get('role')}")
        check(f"inet {TANDEM.v4}/" not in bnode.exec(["ip", "addr", "show", "dev", "eth0"]).stdout, "B does not hold the VIP")
        # A carries on alone: new routes from FRR reach BIRD through it.
        frr.configure(["router bgp %d" % FRR.asn, "address-family ipv4 unicast"] + [f"network {p}" for p in v4[N_FRR:N_FRR + N_MORE]])
        last = v4[N_FRR + N_MORE - 1]
        wait_until(lambda: last in bird.birdc(f"show route for {last}"), 30,
                   "BIRD receiving FRR's new prefixes through A during the partition")
        same_view(before, peers_view(frr, bird), "pair link down")
        routes = (frr_count(frr), bird_imported(bird))
        check(routes[0] == routes_before[0] and routes[1] >= routes_before[1],
              f"peers' route counts: {routes_before} -> {routes} (FRR's unchanged, BIRD's grew)")
        log(f"partition: B stayed standby; A carried on alone ({routes[1] - routes_before[1]} new routes at BIRD)")

        # --- 2. the link comes back: B mirrors A again --------------------------------------
        pair_link(anode, PAIR_LINK[0], True)
        wait_mirrored(a, b, N_SESSIONS, "B mirroring A after the pair link came back", timeout=120)
        check(int(ha(a).get("epoch", 0)) == term0, f"A still in term {term0}")

        # --- 3. link down and A's beacon lost at B: B takes over, A fences on B's beacon ---
        wait_until(lambda: ha(a).get("heartbeat") == "up" and ha(b).get("heartbeat") == "up", 10, "heartbeat up")
        rule = ["nft", "add", "rule", "inet", "partition", "input", "ip", "saddr", NODE_A[0], "udp", "dport",
                str(BEACON_PORT), "drop"]
        bnode.exec(["nft", "add", "table", "inet", "partition"])
        bnode.exec(["nft", "add", "chain", "inet", "partition", "input",
                    "{ type filter hook input priority 0 ; policy accept ; }"])
        off_a = a.log_offset()

        def cut(_node):
            bnode.exec(rule)
            pair_link(anode, PAIR_LINK[0], False)

        nonstop(pair, a, b, cut, "pair link down, A's beacon lost at B")
        check(int(ha(b).get("epoch", 0)) == term0 + 1, f"B took term {term0 + 1}")
        a.wait_log(r"fencing: the node at .* announces term \d+ on the peers' segment", timeout=5, since=off_a)
        fenced = a.log_lines(r"fencing: the node at", since=off_a)
        log(f"  A: {fenced[0].split('] ', 2)[-1][:200]}")
        wait_until(lambda: f"inet {TANDEM.v4}/" not in anode.exec(["ip", "addr", "show", "dev", "eth0"]).stdout, 5,
                   "A released the VIP")
        wait_until(lambda: a.log_lines(r"fencing: .*closed silently", since=off_a), 10, "A's sockets closed silently")
        wait_until(lambda: a.log_lines(r"restarting as the standby", since=off_a), 10, "A restarting as the standby")
        bnode.exec(["nft", "delete", "table", "inet", "partition"])
        pair_link(anode, PAIR_LINK[0], True)
        wait_until(lambda: ha(a).get("role") == "standby", 20, "A back as the standby")
        wait_mirrored(b, a, N_SESSIONS, "A mirroring B", timeout=120)
        wait_primary(b, "B still the primary")
        same_view(before, peers_view(frr, bird), "after the partition and A's fencing")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
