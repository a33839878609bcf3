#!/usr/bin/env python3
"""Bulk sync of a 1M-route table in a live primary: how long the event loop stalls.

The lab of tests/integration (namespaces on one bridge): the primary tandemd
(192.0.2.1) learns N synthetic IPv4 routes (default 1,000,000) from bgp_blaster
(bench/ingest, eBGP from 192.0.2.4); then a standby (192.0.2.11) is started and the
primary sends it the whole table in a bulk sync. Measured:

  snapshot ms    the primary's bulk sync, from SnapshotBegin to SnapshotEnd
                 (`tandemctl ha`: last_snapshot_ms)
  longest step   the longest single bulk-sync step on the primary's event loop
                 (max_stall_us): what any session waited for the loop at worst
  API rtt max    the slowest of `tandemctl global` calls made back to back during the
                 bulk sync; each is answered on the event loop, so this is the loop's
                 latency as an outside client sees it (includes gRPC and process start)
  in sync s      from the standby's start until every session is in sync on both nodes

Python 3 standard library only; needs root. Usage:

    sudo python3 bench/replication/snapshot_live.py [--prefixes N] [--runs R] [--no-probe]

On a 2-core machine the standby ingesting the table and the probe's tandemctl processes
compete with the primary for the CPU: a step can then be preempted, which counts as
stall (it is one, for the sessions). --no-probe leaves the primary one core.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from lab import Lab, log, wait_until  # noqa: E402
from lab.tandem import TandemNode  # noqa: E402
from lab.topology import SPEAKER, STANDBY, TANDEM, add_host  # noqa: E402
from test_replication import ha, ha_table, make_standby, write_key  # noqa: E402


def one_run(args, n):
    with Lab("snapshot-live") as lab:
        tnode = add_host(lab, TANDEM)
        snode = add_host(lab, STANDBY)
        bnode = add_host(lab, SPEAKER)
        lab.wait_links()
        td = TandemNode(tnode, args.tandemd, local_as=TANDEM.asn, tandemctl=args.tandemctl)
        td.log_["level"] = "info"
        td.tables["fib"] = {"enabled": False}
        key = os.urandom(32).hex()
        pkey = os.path.join(td.dir, "ha.key")
        write_key(pkey, key)
        td.tables["ha"] = ha_table("primary", pkey, os.path.join(td.dir, "epoch"))
        td.add_peer(SPEAKER.v4, SPEAKER.asn, "bgp_blaster")
        td.start()
        blaster = bnode.spawn("bgp_blaster", [args.blaster, "--connect", TANDEM.v4, "--bind", SPEAKER.v4,
                                              "--local-as", str(SPEAKER.asn), "--prefixes", str(n), "--no-stdin"],
                              logfile=os.path.join(lab.workdir, "blaster.log"))
        t0 = time.monotonic()
        wait_until(lambda: td.log_lines(rf"peer {SPEAKER.v4}\b.*End-of-RIB received for ipv4-unicast"), 600,
                   f"the primary learning the {n} routes")
        log(f"primary has the {n} routes after {time.monotonic() - t0:.1f}s")
        skey = os.path.join(lab.workdir, "standby.key")
        write_key(skey, key)
        sb = make_standby(lab, snode, td, args.tandemd, args.tandemctl, skey)
        sb.log_["level"] = "info"
        sb.tables["fib"] = {"enabled": False}
        rtts, stop = [], threading.Event()

        def probe():
            while not stop.is_set():
                a = time.monotonic()
                subprocess.run(td._ctl_argv(["global"], json=True), capture_output=True, check=False)
                rtts.append(time.monotonic() - a)

        th = threading.Thread(target=probe, daemon=True)
        if args.probe:
            th.start()
        t1 = time.monotonic()
        sb.start(timeout=60)

        def synced():
            for node in (td, sb):
                ss = ha(node).get("sessions", [])
                if len(ss) != 1 or ss[0].get("sync_state") != "in-sync":
                    return False
            return True
        wait_until(synced, 600, "the session in sync on both nodes")
        in_sync = time.monotonic() - t1
        stop.set()
        if args.probe:
            th.join()
        st = ha(td)
        for line in td.log_lines(r"bulk sync step took|bulk sync \d+ sent"):
            log("primary: " + line.split("] ", 1)[-1])
        blaster.stop()
        return {"snapshot_ms": int(st["last_snapshot_ms"]), "max_stall_us": int(st["max_stall_us"]),
                "routes": int(st["last_snapshot_routes"]), "api_rtt_max_ms": max(rtts) * 1000 if rtts else 0,
                "api_rtt_median_ms": statistics.median(rtts) * 1000 if rtts else 0, "api_calls": len(rtts),
                "in_sync_s": in_sync}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefixes", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tandemd", default=os.path.join(REPO, "build/apps/tandemd/tandemd"))
    ap.add_argument("--tandemctl", default=os.path.join(REPO, "build/apps/tandemctl/tandemctl"))
    ap.add_argument("--no-probe", dest="probe", action="store_false",
                    help="do not call the API during the bulk sync (the calls compete for the 2 cores)")
    ap.add_argument("--blaster", default=os.path.join(REPO, "build/bench/ingest/bgp_blaster"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("snapshot_live.py: needs root (network namespaces)")
    results = [one_run(args, args.prefixes) for _ in range(args.runs)]
    for r in results:
        print(r)

    def med(k):
        return statistics.median(r[k] for r in results)
    print(f"\n{args.prefixes} routes, {args.runs} runs (medians): snapshot {med('snapshot_ms')} ms, "
          f"routes sent {med('routes')}, longest step {med('max_stall_us')} us, "
          f"API round trip during the bulk sync: median {med('api_rtt_median_ms'):.1f} ms, "
          f"max {med('api_rtt_max_ms'):.1f} ms ({med('api_calls')} calls), in sync after {med('in_sync_s'):.2f} s")


if __name__ == "__main__":
    main()
