#!/usr/bin/env python3
"""Planned switchover: the primary hands every BGP session to the standby with its TCP
state (TCP_REPAIR), the VIPs move, the peers notice nothing; then back.

Lab (lab/topology.py, one bridge): node A ("tandem", 192.0.2.21 / 2001:db8::21) and
node B ("standby", 192.0.2.11 / 2001:db8::11), both tandemd with [ha] (A primary, B
standby); the VIPs 192.0.2.1/24 and 2001:db8::1/64 (the addresses FRR and BIRD peer
with) are held by whichever node is the primary. FRR (iBGP) announces N_FRR IPv4
prefixes, BIRD (eBGP) a few hundred routes; each peers over IPv4 and IPv6.

Checked, with the peers' own view as the judge:
1. B mirrors A (every session in sync, digests equal).
2. `tandemctl ha switchover` on A: B becomes the primary (term + 1) and holds the VIPs,
   A restarts as the standby and mirrors B. FRR's and BIRD's four sessions stay
   Established throughout: FRR's connectionsEstablished / connectionsDropped and
   peerUptimeEstablishedEpoch, BIRD's protocol state and "since" time are unchanged,
   no NOTIFICATION anywhere; the peers still hold every route they held.
3. The sessions work on B: FRR announces more prefixes, B learns them and BIRD gets
   them from B; B's RIB digests equal A's (now the standby).
4. Switch back (`tandemctl ha switchover` on B): the same checks, A primary again.
BFD with FRR's bfdd (tandemd: `bfd = true` for FRR v4, 50 ms x 3): the BFD session moves
with the BGP session. FRR's bfdd stays Up throughout, with the same discriminator, now the
new primary's, and logs no Down; the standby runs none.
Figures (printed): the switchover's steps from both daemons' logs.
"""

import ipaddress
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bfdd import Bfdd, bfdd_binary  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import TandemNode, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, STANDBY, TANDEM, StandardLab, add_host  # noqa: E402
from test_replication import digest_diff, digests, ha, wait_mirrored, write_key  # noqa: E402

HA_PORT = 1790
NODE_A = ("192.0.2.21", "2001:db8::21")  # node A's own addresses (TANDEM's become the VIPs)
PAIR_LINK = ("pairA", "10.99.0.1", "pairB", "10.99.0.2")  # A's device and address, B's (Pair(pair_link=True))
N_FRR = int(os.environ.get("SWITCHOVER_PREFIXES", "50000"))
N_MORE = 500
N_BIRD_V4 = 300
N_SESSIONS = 4


def frr_prefixes(n):
    """n IPv4 /27s from 10.64.0.0 (FRR's space, lab/topology.py)."""
    base = int(ipaddress.IPv4Address("10.64.0.0"))
    return [f"{ipaddress.IPv4Address(base + i * 32)}/27" for i in range(n)]


def ha_table(role, key_file, epoch_file, me, other, node_id):
    return {"role": role, "node_id": node_id, "key_file": key_file,
            "epoch_file": epoch_file, "listen": f"{me}:{HA_PORT}", "peer": f"{other}:{HA_PORT}",
            "vips": [f"{TANDEM.v4}/24", f"{TANDEM.v6}/64"], "vip_interface": "eth0",
            "checkpoint_interval_ms": 100, "connect_retry_ms": 200}


def move_node_address(node, old4, old6, new4, new6):
    """The node's own addresses become new4/new6; old4/old6 (the VIPs) are left to tandemd."""
    node.exec(["ip", "addr", "del", f"{old4}/24", "dev", "eth0"])
    node.exec(["ip", "-6", "addr", "del", f"{old6}/64", "dev", "eth0"])
    node.exec(["ip", "addr", "add", f"{new4}/24", "dev", "eth0"])
    node.exec(["ip", "-6", "addr", "add", f"{new6}/64", "dev", "eth0", "nodad"])


def peers_view(frr, bird):
    """What the peers say about their sessions to the VIPs."""
    v = {}
    for addr, afi in ((TANDEM.v4, "ipv4"), (TANDEM.v6, "ipv6")):
        n = frr.neighbor(addr)
        stats = n.get("messageStats", {})
        summary = frr.vtysh_json(f"show bgp {afi} unicast summary json").get("peers", {}).get(addr, {})
        v[f"frr {addr}"] = (n.get("bgpState"), n.get("connectionsEstablished"), n.get("connectionsDropped"),
                            stats.get("notificationsSent"), stats.get("notificationsRecv"))
        # FRR derives the epoch from its uptime counter: it may read one second off.
        v[f"frr {addr} established at"] = (summary.get("peerUptimeEstablishedEpoch"),
                                           n.get("bgpTimerUpEstablishedEpoch"))
    for proto in ("tandem4", "tandem6"):
        out = bird.birdc(f"show protocols {proto}")
        m = re.search(rf"^{proto}\s+BGP\s+\S+\s+(\S+)\s+(.+?)\s+(\S+)\s*$", out, re.M)
        v[f"bird {proto}"] = (m.group(1), m.group(2), m.group(3)) if m else out
    return v


def same_view(before, after, what):
    """Checks that the peers' view (peers_view) did not change."""
    for k in before:
        if k.endswith("established at"):
            same = all(abs(x - y) <= 1 for x, y in zip(before[k], after[k]))
        else:
            same = before[k] == after[k]
        check(same, f"{what}: {k} unchanged: {before[k]} -> {after[k]}")


def frr_keepalives_in(frr, addr=TANDEM.v4):
    return int(frr.neighbor(addr).get("messageStats", {}).get("keepalivesRecv", 0))


def frr_count(frr):
    return int(frr.vtysh_json("show bgp ipv4 unicast summary json").get("peers", {}).get(TANDEM.v4, {})
               .get("pfxRcd", -1))


def bird_imported(bird, proto="tandem4"):
    return bird.protocol(proto).get("imported") or 0


def switchover(frm, to, frr, bird, what):
    before = peers_view(frr, bird)
    check(all(x is not None for k, v in before.items() if k.endswith("established at") for x in v),
          f"FRR reports when its sessions were established: {before}")
    routes_before = (frr_count(frr), bird_imported(bird))
    ka_before = frr_keepalives_in(frr)
    off_from, off_to = frm.log_offset(), to.log_offset()
    t0 = time.monotonic()
    out = frm.ctl("ha", "switchover", json=False, timeout=30)
    log(f"{what}: tandemctl ha switchover: {out.strip()} ({(time.monotonic() - t0) * 1000:.0f} ms)")
    wait_until(lambda: ha(to).get("role") == "primary", 10, f"{to.name} primary after the switchover")
    # The old primary restarts itself as the standby and mirrors the new one.
    def restarted_as_standby():
        cp = frm.ctl_run("ha", json=True, timeout=5)
        return cp.returncode == 0 and '"standby"' in cp.stdout
    wait_until(restarted_as_standby, 30, f"{frm.name} back as the standby")
    wait_mirrored(to, frm, N_SESSIONS, f"{frm.name} mirroring {to.name}", timeout=120)
    after = peers_view(frr, bird)
    same_view(before, after, what)
    check(all(v[0] == "Established" for k, v in after.items() if k.startswith("frr") and not k.endswith("at")),
          f"FRR sessions: {after}")
    check(all(v[2] == "Established" for k, v in after.items() if k.startswith("bird")), f"BIRD sessions: {after}")
    # The new primary talks on the session (it sends a KEEPALIVE as it takes over).
    wait_until(lambda: frr_keepalives_in(frr) > ka_before, 5, "FRR receiving KEEPALIVEs from the new primary")
    routes_after = (frr_count(frr), bird_imported(bird))
    check(routes_after == routes_before, f"{what}: peers' route counts unchanged {routes_before} -> {routes_after}")
    for line in to.log_lines(r"switchover:", since=off_to) + frm.log_lines(r"switchover:", since=off_from):
        log(f"  {line.split('] ', 2)[-1][:170]}")
    st = ha(to)
    return int(st.get("epoch", 0))


class Pair:
    """The lab of this test and of test_takeover: FRR, BIRD, node A (primary) and node B
    (standby) mirroring it; `ha_extra` goes into both nodes' [ha]. With `pair_link`, the
    replication channel and the heartbeat run over a link of their own between A and B
    (PAIR_LINK), and each node's term beacon over the peers' segment (the witness).
    `before_start(top)` runs once the lab's nodes exist, before any daemon starts."""

    def __init__(self, args, lab, tandemctl, ha_extra=None, pair_link=False, before_start=None):
        top = StandardLab(lab, args.tandemd, tandem_networks=True)
        frr, bird, a = top.frr, top.bird, top.tandem
        a.tandemctl = tandemctl
        bnode = add_host(lab, STANDBY)
        lab.wait_links()
        move_node_address(top.tnode, TANDEM.v4, TANDEM.v6, *NODE_A)
        lab.wait_links()
        me_a, me_b = NODE_A[0], STANDBY.v4
        if pair_link:
            lab.exec_ns(top.tnode.ns, ["ip", "link", "add", PAIR_LINK[0], "type", "veth", "peer", "name",
                                       PAIR_LINK[2], "netns", bnode.ns])
            for node, dev, addr in ((top.tnode, PAIR_LINK[0], PAIR_LINK[1]), (bnode, PAIR_LINK[2], PAIR_LINK[3])):
                node.exec(["ip", "addr", "add", f"{addr}/30", "dev", dev])
                node.exec(["ip", "link", "set", dev, "up"])
            me_a, me_b = PAIR_LINK[1], PAIR_LINK[3]
        key = os.urandom(32).hex()
        akey, bkey = os.path.join(a.dir, "ha.key"), os.path.join(lab.workdir, "b.key")
        write_key(akey, key)
        write_key(bkey, key)
        a.tables["ha"] = dict(ha_table("primary", akey, os.path.join(a.dir, "epoch"), me_a, me_b, "node-a"),
                              **(ha_extra or {}))
        if pair_link:
            a.tables["ha"]["witness_address"] = STANDBY.v4
        for p in a.peers:  # the sessions run from the VIPs
            p["local_address"] = TANDEM.v4 if ":" not in p["address"] else TANDEM.v6
            if p["address"] == FRR.v4:
                p["bfd"] = True
        a.tables["bfd"] = {"enabled": True, "receive_path": "user-space", "desired_min_tx_ms": 50,
                           "required_min_rx_ms": 50, "detect_mult": 3}
        self.v4 = frr_prefixes(N_FRR + N_MORE)
        for p in self.v4[:N_FRR]:
            frr.add_network(p)
        bird.add_static("st4", [f"10.200.{i // 256}.{i % 256}/32" for i in range(N_BIRD_V4)])
        if before_start:
            before_start(top)
        top.start(timeout=90)
        bfdd = Bfdd(frr)
        bfdd.add_peer(TANDEM.v4, local_address=FRR.v4, interval_ms=50, multiplier=3)
        bfdd.start()
        bfdd.wait_status(TANDEM.v4, "up", timeout=20)
        wait_until(lambda: frr_count(frr) >= 0 and bird_imported(bird) > 0, 30, "BIRD importing from tandemd")
        wait_until(lambda: TandemNode.prefix_counters(a.neighbor(FRR.v4)).get("ipv4-unicast", {}).get("received", 0)
                   == N_FRR, 120, f"node A learning FRR's {N_FRR} prefixes")

        b = TandemNode(bnode, args.tandemd, router_id=TANDEM.v4, name="standby", tandemctl=tandemctl)
        b.global_["local_as"] = a.global_["local_as"]
        b.peer_defaults = dict(a.peer_defaults)
        b.peers = [dict(p) for p in a.peers]
        b.networks = [dict(n) for n in a.networks]
        b.tables = {k: dict(v) for k, v in a.tables.items() if k != "ha"}
        b.tables["ha"] = dict(ha_table("standby", bkey, os.path.join(b.dir, "epoch"), me_b, me_a, "node-b"),
                              **(ha_extra or {}))
        if pair_link:
            b.tables["ha"]["witness_address"] = NODE_A[0]
        b.start()
        b.wait_api()
        wait_mirrored(a, b, N_SESSIONS, "B mirroring A", timeout=120)
        self.top, self.frr, self.bird, self.a, self.b, self.bnode, self.bfdd = top, frr, bird, a, b, bnode, bfdd


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    bfdd_binary()
    with Lab("switchover", keep=args.keep) as lab:
        pair = Pair(args, lab, tandemctl)
        top, frr, bird, a, b, bnode, bfdd, v4 = (pair.top, pair.frr, pair.bird, pair.a, pair.b, pair.bnode, pair.bfdd,
                                                 pair.v4)
        term0 = int(ha(a).get("epoch", 0))
        log(f"B mirrors A (term {term0}); peers: {peers_view(frr, bird)}")

        # --- 2. A -> B -------------------------------------------------------------------
        check(not any(x.get("peer") == FRR.v4 for x in b.ctl("bfd").get("sessions", [])),
              "the standby runs no BFD session with the peers")
        bfd_view = bfd_carried_on(bfdd, a, None, "before")
        term1 = switchover(a, b, frr, bird, "A -> B")
        bfd_carried_on(bfdd, b, bfd_view, "A -> B")
        check(term1 == term0 + 1, f"B took term {term0 + 1}: {term1}")
        check(TANDEM.v4 in bnode.exec(["ip", "addr", "show", "dev", "eth0"]).stdout, "B holds the IPv4 VIP")
        check(TANDEM.v4 not in top.tnode.exec(["ip", "addr", "show", "dev", "eth0"]).stdout, "A released the VIP")

        # --- 3. the sessions work on B -------------------------------------------------------
        frr.configure(["router bgp %d" % FRR.asn, "address-family ipv4 unicast"] +
                      [f"network {p}" for p in v4[N_FRR:N_FRR + N_MORE]])
        wait_until(lambda: TandemNode.prefix_counters(b.neighbor(FRR.v4)).get("ipv4-unicast", {}).get("received", 0)
                   == N_FRR + N_MORE, 60, "B learning FRR's new prefixes")
        last = v4[N_FRR + N_MORE - 1]
        wait_until(lambda: last in bird.birdc(f"show route for {last}"), 30,
                   "BIRD receiving FRR's new prefixes from B")
        wait_mirrored(b, a, N_SESSIONS, "A mirroring B after the new routes", timeout=60)
        check(not digest_diff(digests(a), digests(b)), "A's tables equal B's")

        # --- 4. back: B -> A ------------------------------------------------------------------
        bfd_view = bfd_carried_on(bfdd, b, None, "before B -> A")
        term2 = switchover(b, a, frr, bird, "B -> A")
        bfd_carried_on(bfdd, a, bfd_view, "B -> A")
        check(term2 == term1 + 1, f"A took term {term1 + 1}: {term2}")


def bfd_carried_on(bfdd, primary, before, what):
    """FRR's bfdd's session with tandem: (discriminator of tandem's end, Downs in bfdd's log).
    With `before` (after a switchover): unchanged, Up, and `primary` runs that end now."""
    downs = lambda: len(re.findall(r"up -> down", bfdd.log_text(), re.I))  # noqa: E731
    if before is None:
        bfdd.wait_status(TANDEM.v4, "up", timeout=20)
        return int(bfdd.peer(TANDEM.v4).get("remote-id", 0)), downs()
    time.sleep(0.6)  # four of FRR's detection times (50 ms x 3)
    disc, n_downs = before
    peer = bfdd.peer(TANDEM.v4)
    check(peer.get("status") == "up" and int(peer.get("remote-id", 0)) == disc and downs() == n_downs,
          f"{what}: FRR's BFD session carried on: Up, discriminator {disc} -> {peer.get('remote-id')}, "
          f"Downs in bfdd's log {n_downs} -> {downs()}")
    ours = [x for x in primary.ctl("bfd").get("sessions", []) if x.get("peer") == FRR.v4]
    check(len(ours) == 1 and int(ours[0].get("local_discriminator", 0)) == disc and ours[0].get("local_state") == "Up",
          f"{what}: the new primary runs it, Up with discriminator {disc}: {ours}")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
