#!/usr/bin/env python3
"""Sessions: tandemd (AS 4200000100) establishes BGP sessions with FRR (iBGP, same
4-octet AS) and BIRD (eBGP, AS 4200000200), one over IPv4 carrying ipv4-unicast and
one over IPv6 carrying ipv6-unicast per peer.

Checked from each peer's side (FRR `show bgp neighbors json`, BIRD `show protocols
all`): Established, the 4-octet AS numbers, tandemd's router id, the 4-octet AS and
multiprotocol capabilities; and from tandemd's state dump. Then tandemd's own routes
arrive at both peers. SIGHUP with a peer removed from the config drops that session only;
with it added back, it comes up again. On SIGTERM tandemd exits 0 after sending NOTIFICATION Cease,
which both peers report.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.topology import BIRD, FRR, TANDEM, TANDEM_NETWORKS, StandardLab  # noqa: E402

FRR_AF = {TANDEM.v4: "ipv4Unicast", TANDEM.v6: "ipv6Unicast"}


def body(args):
    with Lab("sessions", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd)
        top.start(timeout=40)
        frr, bird, td = top.frr, top.bird, top.tandem

        # --- FRR's view (iBGP, AS 4200000100 on both sides) --------------------------
        for addr, af in FRR_AF.items():
            n = frr.neighbor(addr)
            check(n.get("bgpState") == "Established", f"FRR: session with {addr} is {n.get('bgpState')}")
            check(n.get("remoteAs") == TANDEM.asn and n.get("localAs") == FRR.asn,
                  f"FRR: {addr} remoteAs {n.get('remoteAs')} localAs {n.get('localAs')}")
            check(n.get("nbrInternalLink") is True,
                  f"FRR: {addr} should be an internal (iBGP) link")
            check(n.get("remoteRouterId") == TANDEM.v4, f"FRR: {addr} router id {n.get('remoteRouterId')}")
            caps = n.get("neighborCapabilities", {})
            check(caps.get("4byteAs") == "advertisedAndReceived", f"FRR: {addr} 4-octet AS cap: {caps.get('4byteAs')}")
            mp = caps.get("multiprotocolExtensions", {}).get(af, {})
            check(mp.get("advertisedAndReceived") is True, f"FRR: {addr} MP {af}: {mp}")
            log(f"FRR: {addr} Established, AS {n['remoteAs']}, caps 4byteAs+{af} ok")

        # --- BIRD's view (eBGP, AS 4200000200 <-> 4200000100) -------------------------
        for proto, af in (("tandem4", "ipv4"), ("tandem6", "ipv6")):
            p = bird.protocol(proto)
            check(p["bgp_state"] == "Established", f"BIRD: {proto} is {p['bgp_state']}")
            check(p["neighbor_as"] == TANDEM.asn and p["local_as"] == BIRD.asn,
                  f"BIRD: {proto} neighbor AS {p['neighbor_as']} local AS {p['local_as']}")
            check(p["neighbor_id"] == TANDEM.v4, f"BIRD: {proto} neighbor id {p['neighbor_id']}")
            nbr_caps = p["raw"].split("Neighbor capabilities", 1)[-1].split("Session:", 1)[0]
            check("4-octet AS numbers" in nbr_caps, f"BIRD: {proto}: tandemd did not offer 4-octet AS:\n{nbr_caps}")
            check(f"AF announced: {af}" in nbr_caps, f"BIRD: {proto}: tandemd did not announce {af}:\n{nbr_caps}")
            check("external AS4" in p["raw"], f"BIRD: {proto} session should be 'external AS4'")
            log(f"BIRD: {proto} Established, AS {p['neighbor_as']}, caps ok")

        # --- tandemd's view ---------------------------------------------------------------
        st = td.state()
        check(st.router_id == TANDEM.v4 and st.local_as == TANDEM.asn,
              f"tandemd router_id/local_as {st.router_id}/{st.local_as}")
        for addr, asn in ((FRR.v4, FRR.asn), (FRR.v6, FRR.asn), (BIRD.v4, BIRD.asn), (BIRD.v6, BIRD.asn)):
            p = st.peer(addr)
            check(p is not None, f"tandemd state has no peer {addr}: {st.summary()}")
            check(p.get("state") == "Established", f"tandemd: peer {addr} {p.get('state')}")
            check(p.get("remote_as") == asn, f"tandemd: peer {addr} remote_as {p.get('remote_as')}")
        check(len(st.peers()) == 4, f"tandemd has 4 peers: {st.summary()}")
        log(f"tandemd: {st.summary()}")

        # --- the sessions carry routes: tandemd's own networks reach both peers --------
        v4net, v6net = TANDEM_NETWORKS
        wait_until(lambda: v4net in frr.table("ipv4") and v6net in frr.table("ipv6"), 15,
                   "FRR receiving tandemd's networks")
        wait_until(lambda: {v4net, v6net} <= set(bird.routes()), 15, "BIRD receiving tandemd's networks")
        b = bird.routes()[v4net][0]
        check(b.get("as_path") == str(TANDEM.asn), f"BIRD: {v4net} AS path {b.get('as_path')} (eBGP prepend)")
        check(b.get("next_hop") == TANDEM.v4, f"BIRD: {v4net} next hop {b.get('next_hop')}")
        check(b.get("med") == 10, f"BIRD: {v4net} MED {b.get('med')}: tandemd's own route (empty AS_PATH) "
              "keeps its MED on eBGP")
        check(b["community"] == ["4200:1"] and b["large_community"] == ["4200000100:0:1"],
              f"BIRD: {v4net} communities {b['community']} {b['large_community']}")
        f = frr.table("ipv4")[v4net][0]
        check(f.get("path", "") == "", f"FRR: {v4net} AS path '{f.get('path')}' should be empty (iBGP)")
        check(f.get("metric") == 10 and f.get("locPrf") == 100,
              f"FRR: {v4net} MED {f.get('metric')} LOCAL_PREF {f.get('locPrf')} (iBGP: 10, 100)")
        f6 = frr.table("ipv6")[v6net][0]
        check(TANDEM.v6 in [n.get("ip") for n in f6.get("nexthops", [])], f"FRR: {v6net} next hop {f6.get('nexthops')}")

        # --- SIGHUP: a peer removed from the config goes away, added back comes up ------
        removed = [p for p in td.peers if p["address"] == BIRD.v6][0]
        td.remove_peer(BIRD.v6)
        td.reload()
        wait_until(lambda: td.state().peer(BIRD.v6) is None, 10, f"tandemd dropping peer {BIRD.v6} on SIGHUP")
        wait_until(lambda: bird.protocol("tandem6")["bgp_state"] != "Established", 10,
                   "BIRD's IPv6 session going down after the peer was removed")
        st = td.state()
        check(all(st.peer_state(a) == "Established" for a in (FRR.v4, FRR.v6, BIRD.v4)),
              f"the other sessions stay up across the reload: {st.summary()}")
        td.peers.append(removed)
        td.reload()
        td.wait_peer(BIRD.v6, timeout=20)
        bird.wait_established("tandem6", timeout=20)
        wait_until(lambda: v6net in bird.routes("protocol tandem6"), 10, "routes on the re-added session")
        check(frr.neighbor(TANDEM.v4).get("connectionsEstablished") == 1,
              "FRR's session was never reset by the reloads")
        log("SIGHUP: peer removed and re-added, other sessions untouched")

        # --- SIGTERM: Cease to every peer, exit 0 ------------------------------------------
        rc = td.stop(timeout=10)
        check(rc == 0, f"tandemd exit code on SIGTERM: {rc}")

        def frr_saw_cease():
            return all("Cease" in (frr.neighbor(a).get("lastNotificationReason") or "")
                       for a in (TANDEM.v4, TANDEM.v6))
        wait_until(frr_saw_cease, 10, "FRR recording NOTIFICATION Cease from tandemd "
                   f"({ {a: frr.neighbor(a).get('lastNotificationReason') for a in (TANDEM.v4, TANDEM.v6)} })")

        def bird_saw_notification():
            return all(bird.protocol(p)["bgp_state"] != "Established" and "Received:" in bird.protocol(p)["raw"]
                       for p in ("tandem4", "tandem6"))
        wait_until(bird_saw_notification, 10, "BIRD recording a received NOTIFICATION")
        log("SIGTERM: exit 0, Cease seen by FRR and BIRD")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
