#!/usr/bin/env python3
"""Malformed optional attributes are handled per RFC 7606, without a session reset.

The Python speaker (eBGP, AS 4200000300) announces good routes, then re-announces
some of them with a malformed attribute:
 - COMMUNITIES of length 5 (not a multiple of 4)      -> treat-as-withdraw (RFC 7606 7.8)
 - LARGE_COMMUNITIES of length 13 (not a multiple of 12) -> treat-as-withdraw (RFC 8092)
 - the same COMMUNITIES error on an IPv6 route in MP_REACH_NLRI -> treat-as-withdraw
 - AGGREGATOR of length 6 where 8 is due (4-octet AS) -> attribute discard (RFC 7606 7.7):
   the route stays, with the UPDATE's other attributes applied.
For each: the prefix disappears from tandemd's RIB (and from FRR, tandemd's iBGP
peer) or stays as described; the session stays Established (no NOTIFICATION reaches
the speaker, tandemd's keepalives continue, a later UPDATE is still accepted); and
tandemd's log has a line naming the peer and the reason.
"""

import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bgpspeaker import (AGGREGATOR, COMMUNITIES, F_OPTIONAL, F_TRANSITIVE, LARGE_COMMUNITIES,  # noqa: E402
                            Route, Speaker, attr, encode_path_attrs, encode_prefix)
from lab.harness import check, main  # noqa: E402
from lab.topology import FRR, SPEAKER, TANDEM, StandardLab  # noqa: E402

P_COMM, P_LARGE, P_AGGR, P_KEEP, P_LATER = (
    "10.50.1.0/24", "10.50.2.0/24", "10.50.3.0/24", "10.50.4.0/24", "10.50.5.0/24")
P6_COMM, P6_KEEP = "2001:db8:5001::/48", "2001:db8:5002::/48"


def good(prefix, **kw):
    nh = SPEAKER.v6 if ":" in prefix else SPEAKER.v4
    kw.setdefault("communities", ["65000:1"])
    return Route(prefix, next_hop=nh, as_path=[SPEAKER.asn], **kw)


def malformed_update(spk, prefix, bad_attr, **kw):
    """Send an UPDATE announcing `prefix` whose attributes are the good ones plus
    `bad_attr` (already encoded), the bad one replacing any of its type."""
    r = good(prefix, **kw)
    r.communities = [] if bad_attr[1] == COMMUNITIES else r.communities
    if ":" in prefix:
        attrs = encode_path_attrs(r, "ipv6", encode_prefix(prefix)) + bad_attr
        spk.send_update_raw(attrs=attrs)
    else:
        attrs = encode_path_attrs(r, "ipv4") + bad_attr
        spk.send_update_raw(attrs=attrs, nlri=encode_prefix(prefix))


def body(args):
    with Lab("malformed", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, bird=False, speaker=True, tandem_networks=False)
        frr, td, snode = top.frr, top.tandem, top.snode
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "speaker v4", passive=True)
        td.add_peer(SPEAKER.v6, SPEAKER.asn, "speaker v6", passive=True)
        top.start(timeout=40)
        s4 = Speaker(snode, SPEAKER.asn, families=("ipv4",), hold_time=9, name="spk4")
        s6 = Speaker(snode, SPEAKER.asn, families=("ipv6",), hold_time=9, name="spk6")
        lab.cleanups.append(lambda: (s4.close(), s6.close()))
        s4.connect(TANDEM.v4)
        s6.connect(TANDEM.v6)
        s4.wait_established()
        s6.wait_established()
        td.wait_peer(SPEAKER.v4)
        td.wait_peer(SPEAKER.v6)
        check(s4.negotiated_hold == 9, f"hold time 9 negotiated (tandemd offered {s4.peer_open['hold_time']})")

        s4.announce([good(p) for p in (P_COMM, P_LARGE, P_AGGR, P_KEEP)])
        s6.announce([good(p) for p in (P6_COMM, P6_KEEP)])
        v4_all = {P_COMM, P_LARGE, P_AGGR, P_KEEP}
        td.wait_routes(lambda st: v4_all <= st.prefixes("ipv4", peer=SPEAKER.v4) and
                       {P6_COMM, P6_KEEP} <= st.prefixes("ipv6", peer=SPEAKER.v6), 15, "the speaker's routes")
        wait_until(lambda: v4_all <= set(frr.received_prefixes("ipv4", TANDEM.v4)) and
                   {P6_COMM, P6_KEEP} <= set(frr.received_prefixes("ipv6", TANDEM.v6)), 15,
                   "FRR learning the speaker's routes via tandemd")
        log("good routes in tandemd's RIB and at FRR")
        off = td.log_offset()

        # --- COMMUNITIES length 5: treat-as-withdraw --------------------------------------
        malformed_update(s4, P_COMM, attr(F_OPTIONAL | F_TRANSITIVE, COMMUNITIES, b"\xfd\xe8\x00\x01\x00"))
        # --- LARGE_COMMUNITIES length 13: treat-as-withdraw -------------------------------
        malformed_update(s4, P_LARGE, attr(F_OPTIONAL | F_TRANSITIVE, LARGE_COMMUNITIES,
                                           struct.pack("!III", SPEAKER.asn, 1, 2) + b"\x07"))
        # --- IPv6 (MP_REACH_NLRI) with COMMUNITIES length 5 -------------------------------
        malformed_update(s6, P6_COMM, attr(F_OPTIONAL | F_TRANSITIVE, COMMUNITIES, b"\xfd\xe8\x00\x01\x00"))
        # --- AGGREGATOR length 6 (4-octet AS session: must be 8): attribute discard --------
        malformed_update(s4, P_AGGR, attr(F_OPTIONAL | F_TRANSITIVE, AGGREGATOR,
                                          struct.pack("!H", 65001) + bytes([192, 0, 2, 4])),
                         communities=["65000:77"])

        st = td.wait_routes(lambda st: P_COMM not in st.prefixes("ipv4", peer=SPEAKER.v4) and
                            P_LARGE not in st.prefixes("ipv4", peer=SPEAKER.v4) and
                            P6_COMM not in st.prefixes("ipv6", peer=SPEAKER.v6) and st, 10,
                            "treat-as-withdraw of the malformed routes")
        check(P_KEEP in st.prefixes("ipv4", peer=SPEAKER.v4) and P6_KEEP in st.prefixes("ipv6", peer=SPEAKER.v6),
              "untouched routes stay")
        aggr = wait_until(lambda: [r for r in td.state().routes("ipv4", peer=SPEAKER.v4)
                                   if r["prefix"] == P_AGGR and r.get("communities") == ["65000:77"]], 10,
                          f"{P_AGGR} kept with the UPDATE's other attributes (AGGREGATOR discarded): "
                          f"{[r for r in td.state().routes('ipv4') if r['prefix'] == P_AGGR]}")
        check(len(aggr) == 1, f"{P_AGGR} present once")
        for name, (pfx, peer_addr) in {"ipv4 treat-as-withdraw": (P_COMM, SPEAKER.v4),
                                       "ipv6 treat-as-withdraw": (P6_COMM, SPEAKER.v6)}.items():
            check(all(r["prefix"] != pfx for r in td.state().routes("ipv6" if ":" in pfx else "ipv4")),
                  f"{name}: {pfx} gone from tandemd's RIB")
        wait_until(lambda: P_COMM not in frr.received_prefixes("ipv4", TANDEM.v4) and
                   P_LARGE not in frr.received_prefixes("ipv4", TANDEM.v4) and
                   P6_COMM not in frr.received_prefixes("ipv6", TANDEM.v6), 10,
                   "FRR seeing the withdrawals")
        d = frr.route_detail("ipv4", [P_AGGR])[P_AGGR]["paths"][0]
        check(d.get("community", {}).get("list") == ["65000:77"] and "aggregatorAs" not in d,
              f"FRR: {P_AGGR} updated and without AGGREGATOR: {d}")

        # --- the log names peer and reason ------------------------------------------------
        p4, p6 = re.escape(SPEAKER.v4), re.escape(SPEAKER.v6)
        lines = td.wait_log(p4 + r"\b", "withdraw", "communit", since=off)
        log(f"log: {lines[0].strip()}")
        td.wait_log(p4 + r"\b", "withdraw", "large", since=off)
        td.wait_log(p6 + r"\b", "withdraw", "communit", since=off)
        lines = td.wait_log(p4 + r"\b", "aggregator", since=off)
        check(any(re.search("discard", x, re.I) for x in lines), f"AGGREGATOR line says discard: {lines}")
        log(f"log: {lines[0].strip()}")

        # --- the sessions are fine ----------------------------------------------------------
        k4, k6 = s4.keepalives_received, s6.keepalives_received
        wait_until(lambda: s4.keepalives_received > k4 and s6.keepalives_received > k6, 8,
                   "tandemd's keepalives continuing (hold 9 s: one every 3 s)")
        for s in (s4, s6):
            check(s.state == "Established" and not s.notifications and s.closed_reason is None,
                  f"{s.name}: {s.state}, NOTIFICATIONs {s.notifications}, closed {s.closed_reason}")
        st = td.state()
        for a in (SPEAKER.v4, SPEAKER.v6, FRR.v4, FRR.v6):
            check(st.peer_state(a) == "Established", f"tandemd: {a} {st.peer_state(a)}")
        s4.announce([good(P_LATER, communities=["65000:99"])])
        td.wait_routes(lambda st: P_LATER in st.prefixes("ipv4", peer=SPEAKER.v4), 10,
                       "a later good UPDATE accepted")
        # A malformed route may be announced again correctly.
        s4.announce([good(P_COMM)])
        td.wait_routes(lambda st: P_COMM in st.prefixes("ipv4", peer=SPEAKER.v4), 10,
                       f"{P_COMM} accepted again when well-formed")
        time.sleep(0.5)
        check(not s4.notifications and not s6.notifications, "still no NOTIFICATION")


if __name__ == "__main__":
    main(body, needs=("frr",))
