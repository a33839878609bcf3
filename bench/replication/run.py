#!/usr/bin/env python3
"""The cost of synchronous outbound replication, end to end, with real FRR and BIRD.

The lab of tests/integration/test_replication.py (lab/topology.py): FRR (iBGP) and BIRD
(eBGP) peer with tandemd over v4 and v6. FRR starts with no networks; once every
session is Established (and, in mode "ha", the standby is attached and every session is
"in-sync" on both nodes), FRR is given N IPv4 /24 `network` statements (10.64.0.0
onwards, as test_transit.frr_prefixes) in ONE `vtysh -f` batch, and tandemd passes them
to BIRD. Measured:

  total s    from starting the vtysh batch until BIRD has imported all N from tandemd
             ("Routes: N imported" of `show protocols all tandem4`, polled every 20 ms on
             BIRD's control socket; resolution 20 ms)
  first->N s from BIRD's first imported route until all N (excludes FRR's time to parse
             the batch and originate the first routes)
  vtysh s    how long `vtysh -f` itself took (FRR applying the batch)
  after vtysh  total - vtysh: how long after FRR finished the batch BIRD had all N
             (the part of the path FRR does not dominate; 20 ms poll resolution)

Modes, each in a fresh lab per run, interleaved (plain, ha, plain, ha, ...):
  plain  tandemd without [ha]
  ha     tandemd as primary ([ha] as in test_replication.py: max_unreplicated_bytes
         256 KiB, standby_buffer_bytes 512 KiB, checkpoints every 100 ms) with a standby
         attached and in sync before the batch: every byte tandemd writes to BIRD was
         first acknowledged by the standby, every byte read from FRR is replicated.

After each ha run the standby must converge (every session in-sync, RIB digests equal to
the primary's; outside the measurement) and the `tandemctl ha` figures of both nodes are
recorded (deltas over the batch).

Python 3 standard library only. Needs root (namespaces), FRR and BIRD.

    sudo python3 bench/replication/run.py --runs 3 --prefixes 50000 --markdown
"""

import argparse
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import default_tandemd  # noqa: E402
from lab.tandem import default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import FRR, STANDBY, TANDEM, StandardLab, add_host  # noqa: E402
from test_replication import (digest_diff, digests, frr_received, ha, ha_table,  # noqa: E402
                              make_standby, sessions_in_sync, write_key)

POLL = 0.02
N_SESSIONS = 4


def prefixes(n):
    base = 10 << 24 | 64 << 16  # 10.64.0.0, as test_transit.frr_prefixes
    return [f"{(base + i * 256) >> 24 & 255}.{(base + i * 256) >> 16 & 255}.{(base + i * 256) >> 8 & 255}.0/24"
            for i in range(n)]


class BirdCtl:
    """BIRD's control socket, spoken directly (no birdc process per poll)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self._reply()

    def _reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise RuntimeError("BIRD closed its control socket")
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode(errors="replace")
            lines.append(line)
            if len(line) >= 5 and line[:4].isdigit() and line[4] == " ":
                return lines

    def imported(self, proto="tandem4"):
        self.sock.sendall(f"show protocols all {proto}\n".encode())
        for line in self._reply():
            m = re.search(r"Routes:\s+(\d+) imported", line)
            if m:
                return int(m.group(1))
        return 0

    def close(self):
        self.sock.close()


HA_KEYS = ("bytes_in", "bytes_out", "frames_in", "frames_out")
SESSION_KEYS = ("inbound_acked", "outbound_acked", "outbound_written", "window_updates", "checkpoints")


def ha_figures(node):
    st = ha(node)
    out = {k: int(st.get(k, 0)) for k in HA_KEYS}
    out["channel_state"] = st.get("channel_state")
    out["max_stall_us"] = int(st.get("max_stall_us", 0))
    out["sessions"] = {s["peer"]: {k: int(s.get(k, 0)) for k in SESSION_KEYS} for s in st.get("sessions", [])}
    return out


def ha_delta(before, after):
    d = {k: after[k] - before[k] for k in HA_KEYS}
    d["sessions"] = {}
    for peer, s in after["sessions"].items():
        b = before["sessions"].get(peer, {})
        d["sessions"][peer] = {k: s[k] - b.get(k, 0) for k in SESSION_KEYS}
    return d


def one_run(mode, args, tandemctl, nets):
    n = len(nets)
    res = {"mode": mode}
    with Lab(f"replbench-{mode}") as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        td.tables["fib"] = {"table": 100}
        sb = None
        if mode == "ha":
            snode = add_host(lab, STANDBY)
            lab.wait_links()
            key = os.urandom(32).hex()
            pkey = os.path.join(td.dir, "ha.key")
            write_key(pkey, key)
            td.tables["ha"] = ha_table("primary", pkey, os.path.join(td.dir, "epoch"))
        top.start(timeout=60)
        if mode == "ha":
            skey = os.path.join(lab.workdir, "standby.key")
            write_key(skey, key)
            sb = make_standby(lab, snode, td, args.tandemd, tandemctl, skey)
            sb.start()
            sb.wait_api()
            wait_until(lambda: sessions_in_sync(td, N_SESSIONS) and sessions_in_sync(sb, N_SESSIONS), 60,
                       "every session in sync on both nodes")
            res["ha_before"] = {"primary": ha_figures(td), "standby": ha_figures(sb)}
        ctl = BirdCtl(bird.ctl)
        try:
            if ctl.imported() != 0:
                raise RuntimeError("BIRD imported routes before the batch")
            time.sleep(1.0)  # let the session start-up traffic settle
            lines = ["router bgp %d" % FRR.asn, "address-family ipv4 unicast"] + [f"network {p}" for p in nets]
            done = {}

            def apply():
                try:
                    frr.configure(lines, timeout=300)
                finally:
                    done["vtysh"] = time.monotonic()

            th = threading.Thread(target=apply, daemon=True)
            t0 = time.monotonic()
            th.start()
            t_first = None
            seen = 0
            deadline = t0 + args.timeout
            while True:
                seen = ctl.imported()
                now = time.monotonic()
                if seen > 0 and t_first is None:
                    t_first = now
                if seen >= n:
                    t_done = now
                    break
                if now > deadline:
                    raise RuntimeError(f"{mode}: BIRD imported {seen} of {n} after {args.timeout}s")
                time.sleep(POLL)
            th.join(300)
        finally:
            ctl.close()
        res.update(total_s=t_done - t0, first_to_n_s=t_done - t_first, vtysh_s=done.get("vtysh", t_done) - t0,
                   imported=seen)
        got = frr_received(td)
        if got != n:
            raise RuntimeError(f"{mode}: tandemd holds {got} IPv4 routes from FRR, expected {n}")
        if mode == "ha":
            def mirrored():
                return (sessions_in_sync(td, N_SESSIONS) and sessions_in_sync(sb, N_SESSIONS)
                        and not digest_diff(digests(td), digests(sb)))
            wait_until(mirrored, 120, "the standby converging after the batch")
            res["ha_after"] = {"primary": ha_figures(td), "standby": ha_figures(sb)}
            res["ha_delta"] = {who: ha_delta(res["ha_before"][who], res["ha_after"][who])
                               for who in ("primary", "standby")}
        log(f"{mode}: total {res['total_s']:.3f}s, first->N {res['first_to_n_s']:.3f}s, "
            f"vtysh {res['vtysh_s']:.3f}s")
    return res


def machine():
    def sh(*a):
        try:
            cp = subprocess.run(a, capture_output=True, text=True, timeout=10)
            return (cp.stdout + cp.stderr).strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"cpus": os.cpu_count(), "kernel": platform.release(), "loadavg_start": os.getloadavg(),
            "frr": sh("/usr/lib/frr/bgpd", "--version").splitlines()[0:1],
            "bird": sh("bird", "--version"),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD") or default_tandemd())
    ap.add_argument("--tandemctl", default=None)
    ap.add_argument("--prefixes", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    nets = prefixes(args.prefixes)
    info = machine()
    info.update(tandemd=args.tandemd, tandemctl=tandemctl, prefixes=args.prefixes, runs=args.runs,
                commit=subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                      text=True).stdout.strip())
    runs = {"plain": [], "ha": []}
    t_start = time.monotonic()
    for r in range(args.runs):
        for mode in ("plain", "ha"):
            log(f"run {r + 1}/{args.runs}: {mode}")
            runs[mode].append(one_run(mode, args, tandemctl, nets))
    info["loadavg_end"] = os.getloadavg()
    info["wall_s"] = time.monotonic() - t_start
    ratios = [b["total_s"] / a["total_s"] for a, b in zip(runs["plain"], runs["ha"])]
    ratios_t = [b["first_to_n_s"] / a["first_to_n_s"] for a, b in zip(runs["plain"], runs["ha"])]
    for m in runs:
        for x in runs[m]:
            x["after_vtysh_s"] = x["total_s"] - x["vtysh_s"]
    summary = {m: {k: med([x[k] for x in runs[m]])
                   for k in ("total_s", "first_to_n_s", "vtysh_s", "after_vtysh_s")} for m in runs}
    summary["ratio_total_median_of_runs"] = med(ratios)
    summary["ratio_first_to_n_median_of_runs"] = med(ratios_t)
    out = {"machine": info, "runs": runs, "summary": summary}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(summary, indent=1))
    if args.markdown:
        print("\n| mode | total s (median) | first->N s (median) | vtysh s (median) | after vtysh ms (median) "
              "| per run total s |")
        print("|---|---:|---:|---:|---:|---|")
        for m in ("plain", "ha"):
            s = summary[m]
            per = ", ".join(f"{x['total_s']:.2f}" for x in runs[m])
            print(f"| {m} | {s['total_s']:.2f} | {s['first_to_n_s']:.2f} | {s['vtysh_s']:.2f} "
                  f"| {s['after_vtysh_s'] * 1000:.0f} | {per} |")
        print(f"\nratio ha/plain, median of per-run ratios: total {med(ratios):.2f} "
              f"({', '.join(f'{x:.2f}' for x in ratios)}), first->N {med(ratios_t):.2f} "
              f"({', '.join(f'{x:.2f}' for x in ratios_t)})")
        for i, r in enumerate(runs["ha"]):
            d = r["ha_delta"]
            sess = d["primary"]["sessions"]
            print(f"\nha run {i + 1}: standby bytes_in +{d['standby']['bytes_in']}, bytes_out "
                  f"+{d['standby']['bytes_out']}, frames_in +{d['standby']['frames_in']}; primary per session "
                  f"(delta): " + "; ".join(f"{p} {json.dumps(v)}" for p, v in sorted(sess.items())))


if __name__ == "__main__":
    main()
