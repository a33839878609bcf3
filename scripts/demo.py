#!/usr/bin/env python3
"""`make demo`: tandemd between an FRR and a BIRD peer, each in its own network
namespace, with the configs from etc/lab/ (tandemd.toml, frr.conf, bird.conf).

FRR (iBGP) and BIRD (eBGP) each originate a few IPv4 and IPv6 prefixes with
communities; the demo shows what tandemd learned (`tandemctl neighbor` and `tandemctl
rib` over its gRPC API; its SIGUSR1 state dump when tandemctl is not built) and what
each peer learned from tandemd (vtysh / birdc), checks that everything arrived, and
tears the lab down. Exit status 0 only if every session came up and every route
arrived. Then tandemd is killed (SIGKILL) and started again: the peers, graceful-restart
helpers, must keep every route and tandemd's kernel routes must stay (issue 4).
Needs root (namespaces); the lab library lives in tests/integration/lab.

The demo is a list of scenes run in order (SCENES below), then the pair (failover()):
a primary and a standby with FRR's full table and BIRD, the primary killed, and what the
peers saw before and after (sessions, uptime, routes: unchanged).
"""

import argparse
import ipaddress
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from lab import Lab, LabError, Skip, WaitTimeout, require_root, wait_until  # noqa: E402
from lab.bird import BirdRouter, bird_binaries  # noqa: E402
from lab.frr import FrrRouter, frr_binaries  # noqa: E402
from lab.tandem import TandemNode  # noqa: E402
from lab.topology import BIRD, FRR, TANDEM, add_host  # noqa: E402

ETC = os.path.join(ROOT, "etc", "lab")

# What the peers originate in etc/lab/frr.conf and etc/lab/bird.conf, and tandemd in
# etc/lab/tandemd.toml: the demo checks that each reached the other side.
FRR_ROUTES = {"ipv4": ["10.64.0.0/24", "10.64.1.0/24", "10.64.2.0/24", "10.64.3.0/24"],
              "ipv6": ["2001:db8:1000::/48", "2001:db8:1001::/48"]}
BIRD_ROUTES = {"ipv4": ["10.200.0.0/24", "10.200.1.0/24", "10.200.2.0/24", "10.200.3.0/24"],
               "ipv6": ["2001:db8:2000::/48", "2001:db8:2001::/48"]}
TANDEM_ROUTES = {"ipv4": ["198.51.100.0/24"], "ipv6": ["2001:db8:f000::/48"]}
FIB_TABLE = 100  # [fib] table in etc/lab/tandemd.toml (in tandemd's namespace)


def banner(title):
    print(f"\n=== {title} " + "=" * max(0, 74 - len(title)), flush=True)


def table(headers, rows):
    """Plain-text table."""
    rows = [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    print(fmt.format(*headers))
    print(fmt.format(*["-" * w for w in widths]))
    for r in rows:
        print(fmt.format(*r))
    sys.stdout.flush()


class Demo:
    def __init__(self, lab, tandemd_bin, tandemctl_bin=None):
        self.lab = lab
        self.tandemd_bin = tandemd_bin
        self.tandemctl_bin = tandemctl_bin
        self.ok = True
        self.problems = []

    def problem(self, msg):
        self.ok = False
        self.problems.append(msg)
        print(f"!! {msg}", flush=True)


# --- scenes --------------------------------------------------------------------------


def scene_build(d):
    banner("Building the lab")
    print(f"  tandem  {TANDEM.v4:<11} {TANDEM.v6:<13} AS {TANDEM.asn}   etc/lab/tandemd.toml")
    print(f"  frr     {FRR.v4:<11} {FRR.v6:<13} AS {FRR.asn}   etc/lab/frr.conf   (iBGP)")
    print(f"  bird    {BIRD.v4:<11} {BIRD.v6:<13} AS {BIRD.asn}   etc/lab/bird.conf  (eBGP)")
    d.tnode = add_host(d.lab, TANDEM)
    d.fnode = add_host(d.lab, FRR)
    d.bnode = add_host(d.lab, BIRD)
    d.lab.wait_links()
    d.tandem = TandemNode(d.tnode, d.tandemd_bin, tandemctl=d.tandemctl_bin)
    d.tandem.load_toml(os.path.join(ETC, "tandemd.toml"))
    d.frr = FrrRouter(d.fnode, FRR.asn)
    d.frr.use_config_file(os.path.join(ETC, "frr.conf"))
    d.bird = BirdRouter(d.bnode, BIRD.asn)
    d.bird.use_config_file(os.path.join(ETC, "bird.conf"))
    print(f"  namespaces: {', '.join(d.lab.namespaces)}")
    print(f"  files:      {d.lab.workdir}")


def scene_start(d):
    banner("Starting tandemd, FRR and BIRD")
    t0 = time.monotonic()
    d.tandem.start()
    d.frr.start()
    d.bird.start()
    try:
        for a in (TANDEM.v4, TANDEM.v6):
            d.frr.wait_established(a, timeout=30)
        for p in ("tandem4", "tandem6"):
            d.bird.wait_established(p, timeout=30)
        for a in (FRR.v4, FRR.v6, BIRD.v4, BIRD.v6):
            d.tandem.wait_peer(a, timeout=15)
    except AssertionError as e:
        d.problem(f"a session did not come up: {e}")
        return
    print(f"  all 4 sessions Established in {time.monotonic() - t0:.1f}s")


def scene_converge(d):
    """Wait until every route has arrived everywhere (or report what is missing)."""
    want_t = {f: set(FRR_ROUTES[f]) | set(BIRD_ROUTES[f]) for f in ("ipv4", "ipv6")}
    want_f = {f: set(BIRD_ROUTES[f]) | set(TANDEM_ROUTES[f]) for f in ("ipv4", "ipv6")}
    want_b = {f: set(FRR_ROUTES[f]) | set(TANDEM_ROUTES[f]) for f in ("ipv4", "ipv6")}

    def missing():
        st = d.tandem.state()
        m = []
        for f in ("ipv4", "ipv6"):
            m += [f"tandemd:{p}" for p in want_t[f] - st.prefixes(f)]
            m += [f"frr:{p}" for p in want_f[f] - set(d.frr.received_prefixes(f, TANDEM.v4 if f == "ipv4"
                                                                             else TANDEM.v6))]
        got_b = set(d.bird.routes("protocol tandem4")) | set(d.bird.routes("protocol tandem6"))
        m += [f"bird:{p}" for f in ("ipv4", "ipv6") for p in want_b[f] - got_b]
        return m
    try:
        wait_until(lambda: not missing(), 20, "routes everywhere")
    except (AssertionError, LabError) as e:
        d.problem(f"routes missing: {missing()} ({e})")


def scene_tandem_view(d):
    if d.tandemctl_bin:
        try:
            d.tandem.wait_api(timeout=10)
        except (AssertionError, LabError) as e:
            print(f"  (tandemctl cannot reach tandemd's API: {e}; showing the state dump instead)")
        else:
            for argv in (["neighbor"], ["rib"], ["rib", "-6"]):
                banner(f"tandemd: tandemctl {' '.join(argv)}")
                cp = d.tandem.ctl_run(*argv)
                print((cp.stdout + cp.stderr).rstrip(), flush=True)
                if cp.returncode != 0:
                    d.problem(f"tandemctl {' '.join(argv)} exited {cp.returncode}")
            return
    banner("tandemd: peers (from its state dump, SIGUSR1)")
    st = d.tandem.state()
    table(["peer", "remote AS", "description", "state", "received", "accepted", "advertised"],
          [[p.get("address"), p.get("remote_as"), p.get("description"), p.get("state"), p.get("received"),
            p.get("accepted"), p.get("advertised")] for p in st.peers()])
    banner("tandemd: RIB")
    rows = []
    for fam in ("ipv4", "ipv6"):
        for r in sorted(st.routes(fam), key=lambda r: (ipaddress.ip_network(r.get("prefix")), not r.get("best"))):
            rows.append([("*" if r.get("best") else " ") + r.get("prefix", "?"), r.get("peer"), r.get("next_hop"),
                         r.get("as_path") or "(empty)", r.get("origin"), r.get("med"), r.get("local_pref"),
                         " ".join(r.get("communities") or []) or None,
                         " ".join(r.get("large_communities") or []) or None])
    table(["prefix (*best)", "from", "next hop", "AS path", "origin", "MED", "LP", "communities",
           "large communities"], rows)


def scene_peer_views(d):
    banner("FRR (iBGP): what it learned from tandemd — vtysh")
    for fam, addr in (("ipv4", TANDEM.v4), ("ipv6", TANDEM.v6)):
        print(f"-- vtysh 'show bgp {fam} unicast neighbors {addr} routes':")
        print(d.frr.vtysh(f"show bgp {fam} unicast neighbors {addr} routes").rstrip())
    pfx = BIRD_ROUTES["ipv4"][0]
    print(f"\n-- vtysh 'show bgp ipv4 unicast {pfx}' (BIRD's route via tandemd):")
    print(d.frr.vtysh(f"show bgp ipv4 unicast {pfx}").rstrip())
    banner("BIRD (eBGP): what it learned from tandemd — birdc")
    for proto in ("tandem4", "tandem6"):
        print(f"-- birdc 'show route protocol {proto}':")
        print(d.bird.birdc(f"show route protocol {proto}").replace("BIRD 2.0.12 ready.\n", "").rstrip())
    pfx = FRR_ROUTES["ipv4"][0]
    print(f"\n-- birdc 'show route {pfx} all' (FRR's route via tandemd):")
    print(d.bird.birdc(f"show route {pfx} all").split("\n", 1)[-1].rstrip())


def _peer_counts(d):
    """What FRR and BIRD hold from tandemd right now (routes, and how many are stale)."""
    f = [d.frr.prefix_counts(af, a) for af, a in (("ipv4", TANDEM.v4), ("ipv6", TANDEM.v6))]
    b = [d.bird.protocol(p) for p in ("tandem4", "tandem6")]
    return {"frr": sum(c.get("All RIB", 0) for c in f), "frr_stale": sum(c.get("Stale", 0) for c in f),
            "bird": sum(int(x.get("imported") or 0) for x in b),
            "bird_helping": any(d.bird.neighbor_restarting(p) for p in ("tandem4", "tandem6")),
            "kernel": len(d.tandem.kernel_routes("ipv4", FIB_TABLE)) + len(d.tandem.kernel_routes("ipv6", FIB_TABLE))}


def scene_graceful_restart(d):
    """tandemd crashes (SIGKILL) and comes back: its peers, graceful-restart helpers,
    keep its routes and its kernel routes keep forwarding; once restarted, tandemd
    sends nothing (not even End-of-RIB) until it has every peer's End-of-RIB."""
    banner("Graceful restart: tandemd is killed (SIGKILL) and started again")
    before = _peer_counts(d)
    print(f"  before: FRR holds {before['frr']} routes from tandemd, BIRD {before['bird']}; "
          f"tandemd's kernel table {FIB_TABLE}: {before['kernel']} routes")
    off = d.tandem.log_offset()
    d.tandem.kill()
    t0 = time.monotonic()
    rows, lowest = [], dict(before)
    while time.monotonic() - t0 < 3:
        c = _peer_counts(d)
        for k in ("frr", "bird", "kernel"):
            lowest[k] = min(lowest[k], c[k])
        rows.append([f"{time.monotonic() - t0:.1f}s", "down", c["frr"], c["frr_stale"], c["bird"],
                     "yes" if c["bird_helping"] else "no", c["kernel"]])
        time.sleep(0.5)
    d.tandem.start()
    try:
        for a in (FRR.v4, FRR.v6, BIRD.v4, BIRD.v6):
            d.tandem.wait_peer(a, timeout=30)
        wait_until(lambda: _peer_counts(d)["frr_stale"] == 0 and not _peer_counts(d)["bird_helping"], 30,
                   "the helpers' stale routes refreshed")
    except (AssertionError, LabError) as e:
        d.problem(f"graceful restart did not complete: {e}")
    c = _peer_counts(d)
    for k in ("frr", "bird", "kernel"):
        lowest[k] = min(lowest[k], c[k])
    rows.append([f"{time.monotonic() - t0:.1f}s", "back", c["frr"], c["frr_stale"], c["bird"],
                 "yes" if c["bird_helping"] else "no", c["kernel"]])
    table(["time", "tandemd", "FRR routes", "FRR stale", "BIRD routes", "BIRD helping", "kernel routes"], rows)
    print("\n  tandemd's log after the restart:")
    for pattern in ("graceful restart: restarting", "selection deferral over", "End-of-RIB sent",
                    "after the selection deferral"):
        for line in d.tandem.log_lines(pattern, since=off)[:2]:
            print("   ", line.split(" ", 1)[-1][:150])
    for k, who in (("frr", "FRR"), ("bird", "BIRD"), ("kernel", "tandemd's kernel table")):
        if lowest[k] < before[k]:
            d.problem(f"{who} lost routes during the restart: {lowest[k]} < {before[k]}")
    if d.ok:
        print(f"  the peers never lost a route, the kernel routes stayed: graceful restart worked")


def scene_stop(d):
    banner("Stopping tandemd (SIGTERM: NOTIFICATION Cease to every peer)")
    rc = d.tandem.stop()
    print(f"  tandemd exit code {rc}")
    if rc != 0:
        d.problem(f"tandemd exited {rc} on SIGTERM")


SCENES = [scene_build, scene_start, scene_converge, scene_tandem_view, scene_peer_views, scene_graceful_restart,
          scene_stop]


def failover(tandemd_bin, tandemctl_bin, keep):
    """The pair (issue 7): primary A and standby B (heartbeat 10 ms x 5, crash guard)
    with FRR's full table (test_switchover's lab: 50,000 prefixes) and BIRD, the VIPs
    for the peers; A is killed (SIGKILL) and B takes every session over. Shows the
    peers' own view before and after: sessions, established times, route counts."""
    import test_switchover as sw
    from test_replication import ha

    class Args:
        tandemd, tandemctl = tandemd_bin, tandemctl_bin

    with Lab("demo-ha", keep=keep) as lab:
        banner(f"The pair: primary A, standby B, FRR with {sw.N_FRR} prefixes and BIRD (bulk sync)")
        pair = sw.Pair(Args, lab, tandemctl_bin,
                       ha_extra={"heartbeat": True, "heartbeat_interval_ms": 10, "heartbeat_detect_mult": 5})
        wait_until(lambda: ha(pair.a).get("heartbeat") == "up", 10, "the pair's heartbeat")
        before = sw.peers_view(pair.frr, pair.bird)
        routes_before = (sw.frr_count(pair.frr), sw.bird_imported(pair.bird))
        banner("Failover: SIGKILL of the primary A")
        off = pair.b.log_offset()
        pair.a.kill()
        wait_until(lambda: ha(pair.b).get("role") == "primary", 10, "B taking over")
        wait_until(lambda: pair.b.log_lines(r"takeover: .* sessions non-stop", since=off), 5, "B's takeover outcome")
        time.sleep(1.0)
        for line in pair.b.log_lines(r"takeover:", since=off):
            print("  B: " + line.split("] ", 2)[-1][:150])
        after = sw.peers_view(pair.frr, pair.bird)
        routes_after = (sw.frr_count(pair.frr), sw.bird_imported(pair.bird))
        rows = [[k, str(before[k]), str(after[k])] for k in before]
        rows.append(["routes from tandem (FRR, BIRD)", str(routes_before), str(routes_after)])
        banner("What the peers saw (before -> after the failover)")
        table(["peer view", "before", "after"], rows)
        problems = []
        for k in before:
            same = (all(abs(x - y) <= 1 for x, y in zip(before[k], after[k])) if k.endswith("established at")
                    else before[k] == after[k])
            if not same:
                problems.append(f"{k} changed: {before[k]} -> {after[k]}")
        if routes_after != routes_before:
            problems.append(f"route counts changed {routes_before} -> {routes_after}")
        print("failover: " + ("the peers saw nothing: same sessions, same uptime, same routes" if not problems
                              else "; ".join(problems)))
        if problems:
            lab.failed = True
        return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--tandemd", help="tandemd binary (default: BUILD/apps/tandemd/tandemd)")
    ap.add_argument("--tandemctl", help="tandemctl binary (default: BUILD/apps/tandemctl/tandemctl; "
                    "without it tandemd's view comes from its state dump)")
    ap.add_argument("--keep", action="store_true", help="keep the lab's files")
    ap.add_argument("--pause", action="store_true",
                    help="wait for Enter before tearing down (poke around with vtysh/birdc meanwhile)")
    args = ap.parse_args()
    tandemd = args.tandemd or os.path.join(ROOT if not os.path.isabs(args.build) else "", args.build,
                                           "apps", "tandemd", "tandemd")
    tandemctl = args.tandemctl or os.path.join(ROOT if not os.path.isabs(args.build) else "", args.build,
                                               "apps", "tandemctl", "tandemctl")
    if not os.access(tandemctl, os.X_OK):
        if args.tandemctl:
            print(f"demo: tandemctl not found at {tandemctl}", file=sys.stderr)
            return 2
        tandemctl = None
    t0 = time.monotonic()
    try:
        require_root()
        frr_binaries()
        bird_binaries()
        if not os.access(tandemd, os.X_OK):
            raise Skip(f"tandemd not found at {tandemd} (build it: make build)")
    except Skip as e:
        print(f"demo: cannot run: {e}", file=sys.stderr)
        return 2
    d = None
    try:
        with Lab("demo", keep=args.keep) as lab:
            d = Demo(lab, tandemd, tandemctl)
            for scene in SCENES:
                scene(d)
                if not d.ok and scene in (scene_build, scene_start):
                    break
            if args.pause:
                ctl = (f"   tandemd: {d.tandemctl_bin} --socket {d.tandem.api_socket} neighbor"
                       if d.tandemctl_bin else "")
                print(f"\nLab is up. FRR: vtysh --vty_socket {d.frr.vty_dir}   "
                      f"BIRD: birdc -s {d.bird.ctl}{ctl}\nPress Enter to tear down.", flush=True)
                input()
            if not d.ok:
                lab.failed = True
        if d.ok and tandemctl and os.path.exists(tandemctl):
            d.problems += failover(tandemd, tandemctl, args.keep)
            d.ok = not d.problems
    except KeyboardInterrupt:
        print("\ndemo: interrupted; lab torn down", file=sys.stderr)
        return 130
    except (LabError, WaitTimeout, AssertionError) as e:
        print(f"demo: FAILED: {e}", file=sys.stderr)
        return 1
    banner("Done")
    if d and d.ok:
        print(f"demo: OK in {time.monotonic() - t0:.1f}s; lab torn down")
        return 0
    print("demo: FAILED:\n  " + "\n  ".join(d.problems if d else ["?"]), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
