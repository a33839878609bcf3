#!/usr/bin/env python3
"""Session protection (issue 9 item 1): TCP-MD5 (RFC 2385) with FRR and BIRD, and GTSM
(RFC 5082); a peer with a wrong key or a wrong TTL never reaches the BGP FSM.

tandemd has four peers:
- FRR over IPv4 and IPv6 with the MD5 password "tandem-frr" on both sides, and GTSM
  (FRR `ttl-security hops 1`, tandemd `ttl_security = true`);
- BIRD over IPv4 with the password "tandem-bird" (BIRD `password`), and over IPv6
  with GTSM (BIRD `ttl security on`);
- the lab's Python speaker over IPv4 with GTSM, passive.

The first four sessions must come up and carry routes; the kernel shows the MD5 key on
tandemd's established sockets (`ss -tie` prints "md5" for such sockets). Then:
- BIRD v4 gets the password "wrong": the session does not come back, and tandemd's
  log shows no OPEN from BIRD (the kernel dropped every segment before the FSM); the
  right password brings it back;
- a connection from the speaker's address sent with TTL 64 is never accepted: the
  listener's GTSM socket filter drops its SYN (and would drop any later segment, as
  would IP_MINTTL 255 on the accepted socket), so tandemd never sees it; the speaker
  sending with TTL 255 comes up.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.netns import in_netns  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.bgpspeaker import Speaker  # noqa: E402
from lab.topology import BIRD, FRR, SPEAKER, TANDEM, StandardLab  # noqa: E402

FRR_KEY, BIRD_KEY = "tandem-frr", "tandem-bird"


class TtlSpeaker(Speaker):
    """The lab's BGP speaker, sending with a chosen IP TTL."""
    ttl = 64

    def _new_socket(self, family):
        s = super()._new_socket(family)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, self.ttl)
        return s


def set_bird_extra(bird, proto, extra):
    for p in bird.peers:
        if p["proto"] == proto:
            p["extra"] = list(extra)


def body(args):
    with Lab("protection", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, bird=True, speaker=True)
        frr, bird, td = top.frr, top.bird, top.tandem
        for p in td.peers:
            if p["address"] in (FRR.v4, FRR.v6):
                p["password"] = FRR_KEY
                p["ttl_security"] = True
            elif p["address"] == BIRD.v4:
                p["password"] = BIRD_KEY
            elif p["address"] == BIRD.v6:
                p["ttl_security"] = True
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "speaker v4 (GTSM)", passive=True, ttl_security=True)
        for n in frr.neighbors:
            n["extra"] += [f"neighbor {n['address']} password {FRR_KEY}",
                           f"neighbor {n['address']} ttl-security hops 1"]
        set_bird_extra(bird, "tandem4", [f'password "{BIRD_KEY}";'])
        set_bird_extra(bird, "tandem6", ["ttl security on;"])
        frr.add_network("10.64.0.0/24")
        frr.add_network("2001:db8:1000::/48")
        top.start(timeout=40)
        log("all four protected sessions Established")

        ss = td.node.exec(["ss", "-tie", "state", "established"], quiet=True).stdout
        md5_lines = [l for l in ss.splitlines() if "md5" in l]
        check(len(md5_lines) >= 1, f"no established socket of tandemd shows md5 in `ss -tie`:\n{ss[:800]}")
        td.wait_routes(lambda s: "10.64.0.0/24" in s.prefixes("ipv4", peer=FRR.v4) and
                       "2001:db8:1000::/48" in s.prefixes("ipv6", peer=FRR.v6), 30, "FRR's routes")

        # --- a wrong MD5 key -----------------------------------------------------------
        since = td.log_offset()
        set_bird_extra(bird, "tandem4", ['password "wrong";'])
        bird.reconfigure()
        bird.birdc("restart tandem4")
        time.sleep(8)  # several connect attempts (tandemd connect_retry 2 s, BIRD's own)
        state = bird.protocol("tandem4")
        check(state["bgp_state"] != "Established", f"BIRD v4 with a wrong MD5 key is {state['bgp_state']}")
        check(td.state().peer_state(BIRD.v4) != "Established", "tandemd's BIRD v4 session is up with a wrong key")
        got = [l for l in td.log_lines(rf"peer {re.escape(BIRD.v4)}:", since=since) if "OpenSent -> OpenConfirm" in l]
        check(not got, f"an OPEN from BIRD with a wrong MD5 key reached tandemd's FSM: {got[:2]}")
        set_bird_extra(bird, "tandem4", [f'password "{BIRD_KEY}";'])
        bird.reconfigure()
        bird.birdc("restart tandem4")
        bird.wait_established("tandem4", 30)
        log("wrong MD5 key: refused in the kernel; the right key: Established again")

        # --- GTSM: a peer that does not send with TTL 255 -----------------------------------
        # The Python speaker (AS 4200000300) is configured with ttl_security in tandemd; its
        # sockets send with the default TTL 64 first, then with 255.
        since = td.log_offset()
        with in_netns(top.snode.ns):
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
        raw.bind((SPEAKER.v4, 0))
        raw.settimeout(4)
        try:
            raw.connect((TANDEM.v4, 179))
            connected = True
        except OSError:  # timed out: the SYN was dropped
            connected = False
        finally:
            raw.close()
        check(not connected, "a TCP connection sent with TTL 64 was accepted by a GTSM listener")
        got = td.log_lines(rf"peer {re.escape(SPEAKER.v4)}:", since=since)
        check(not got, f"tandemd saw a connection sent with TTL 64: {got[:2]}")
        spk = TtlSpeaker(top.snode, SPEAKER.asn, families=("ipv4",), name="spk-ttl255")
        spk.ttl = 255
        lab.cleanups.append(spk.close)
        spk.connect(TANDEM.v4)
        spk.wait_established()
        td.wait_peer(SPEAKER.v4, timeout=20)
        log("GTSM: TTL 64 dropped in the kernel (no OPEN reached the FSM); TTL 255: Established")
        frr.wait_established(TANDEM.v4, 10)
        frr.wait_established(TANDEM.v6, 10)


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
