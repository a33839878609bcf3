#!/usr/bin/env python3
"""Takeover of a session whose peer reads slowly: the standby's bulk sync must carry the
output the peer had not acknowledged yet (bench/chaos bug 9, docs/replication.md).

Lab: test_switchover's pair (node A primary, node B standby; FRR and BIRD peering with
the VIPs), with a small table (SLOW_PEER_PREFIXES FRR prefixes) and BIRD's namespace
given tiny TCP receive buffers (net.ipv4.tcp_rmem 4096), so that a BIRD that does not
read closes its window after a few KB.

1. BIRD is stopped (SIGSTOP): its kernel still answers, but takes no more bytes. FRR
   announces MORE prefixes; A sends them on to BIRD, and most of that output waits on
   A's side (in A's send queue, or not yet written).
2. B is restarted, so that it bulk-syncs now: the session object of BIRD's IPv4 session
   must carry the bytes BIRD has not acknowledged (B logs how many; more than 0).
3. A is killed (SIGKILL). B's probe finds BIRD still lacking those bytes, from before the
   bulk sync's offset: B must rebuild the session there and send them again (non-stop),
   not fall back to a graceful restart ("no longer retained here", the bug).
4. BIRD resumes (SIGCONT) and reads everything B sends: its sessions never dropped
   (state and "since" unchanged), and it ends with every route, FRR's new ones
   included, imported over the VIP. FRR saw nothing either.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# test_switchover's lab, with a smaller table: set before it reads it.
os.environ.setdefault("SWITCHOVER_PREFIXES", os.environ.get("SLOW_PEER_PREFIXES", "5000"))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bfdd import bfdd_binary  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import TandemNode, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR  # noqa: E402
from test_replication import ha, sessions_in_sync  # noqa: E402
from test_switchover import (N_FRR, N_MORE, N_SESSIONS, Pair, bird_imported, frr_prefixes,  # noqa: E402
                             peers_view, same_view)

MORE = 20000           # FRR's announcement while BIRD does not read
BIRD_RMEM = "4096 4096 4096"


def received(node, peer):
    return TandemNode.prefix_counters(node.neighbor(peer)).get("ipv4-unicast", {}).get("received", 0)


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    bfdd_binary()
    with Lab("slow-peer", keep=args.keep) as lab:
        def small_buffers(top):
            top.bnode.exec(["sysctl", "-q", "-w", f"net.ipv4.tcp_rmem={BIRD_RMEM}"])
        pair = Pair(args, lab, tandemctl, before_start=small_buffers)
        frr, bird, a, b = pair.frr, pair.bird, pair.a, pair.b
        imported_before = bird_imported(bird)
        view = peers_view(frr, bird)

        # --- 1. BIRD stops reading; A's output to it backs up -----------------------------
        bird.proc.send_signal(19)  # SIGSTOP
        t_stop = time.monotonic()
        more = frr_prefixes(N_FRR + N_MORE + MORE)[N_FRR + N_MORE:]
        frr.configure([f"router bgp {FRR.asn}", "address-family ipv4 unicast"] + [f"network {p}" for p in more])
        wait_until(lambda: received(a, FRR.v4) == N_FRR + MORE, 60, f"A learning FRR's {MORE} new prefixes")
        time.sleep(1.0)  # A writes what BIRD's window takes; the rest waits

        # --- 2. B bulk-syncs now ------------------------------------------------------------
        b.stop()
        off_b = b.log_offset()
        b.start()
        b.wait_api()
        wait_until(lambda: sessions_in_sync(a, N_SESSIONS) and sessions_in_sync(b, N_SESSIONS), 60,
                   "every session in sync on both nodes")
        mirrored = b.log_lines(rf"session {re.escape(BIRD.v4)} \(\d+\) mirrored from", since=off_b)
        log(f"B: {mirrored[-1].split('] ', 2)[-1] if mirrored else '(no line)'}")
        m = re.search(r"outbound offset (\d+) \((\d+) bytes before it not yet acknowledged", mirrored[-1]) \
            if mirrored else None
        check(m is not None and int(m.group(2)) > 0,
              f"B's bulk sync of BIRD's IPv4 session carries the output BIRD has not acknowledged: {mirrored[-1:]}")

        # --- 3. A dies: B takes the sessions over, BIRD's too -------------------------------
        off = b.log_offset()
        a.kill()
        wait_until(lambda: ha(b).get("role") == "primary", 10, "B primary")
        wait_until(lambda: b.log_lines(r"takeover: .* sessions non-stop", since=off), 10,
                   "B logging the takeover's outcome")
        lines = b.log_lines(r"takeover:", since=off)
        for line in lines:
            log(f"  {line.split('] ', 2)[-1][:220]}")
        fallback = [ln for ln in lines if "graceful-restart path" in ln]
        check(not fallback, f"no session fell back to a graceful restart: {fallback}")
        requeued = [ln for ln in lines if f"session {BIRD.v4}: non-stop" in ln]
        check(requeued and int(re.search(r"(\d+) bytes re-queued", requeued[0]).group(1)) > 0,
              f"B rebuilt BIRD's IPv4 session with the bytes BIRD lacked re-queued: {requeued}")
        log(f"BIRD was stopped for {time.monotonic() - t_stop:.1f} s (its hold time: 90 s)")

        # --- 4. BIRD reads again: nothing happened, as far as it can tell --------------------
        bird.proc.send_signal(18)  # SIGCONT
        wait_until(lambda: bird_imported(bird) == imported_before + MORE, 60,
                   f"BIRD importing FRR's {MORE} new prefixes over the VIP ({imported_before} before)")
        time.sleep(1.0)
        same_view(view, peers_view(frr, bird), "BIRD stopped while the standby synced, then A killed")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
