#!/usr/bin/env python3
"""bench/heartbeat (issue 5, item 6): the receive cost of BFD heartbeats through
tandemd's XDP path versus its user-space receiver, with FRR's bfdd for comparison, in
one run. docs/bench/heartbeat.md explains the method and holds the results.

Topology: two namespaces `hb<pid>-<n>-rx` (the receiver: tandemd or bfdd, 198.18.0.1/16
on hbrx0) and `hb<pid>-<n>-gen` (bfd_peers: N peers on 198.18.1.1 and up, one /32 each
on hbgen0), joined by one veth pair. Both veth ends run NAPI in a kernel thread
(GRO on + `threaded`): the receive work of each side, XDP included, runs in a thread
pinned to that side's core. Receiver (daemon + its NAPI thread) on core --rx-cpu,
generator (bfd_peers + its NAPI thread) on core --gen-cpu. Neighbour entries are
static (1,000 ARP entries would exceed the kernel's default gc thresholds).

Modes, each: start the daemon with N BFD peers at INTERVAL x 3, start bfd_peers, wait
until all N sessions are Up, then
  idle:       --idle seconds of daemon CPU before the peers start (sessions Down);
  steady:     --steady seconds of CPU (scheduler run time, /proc/PID/task/*/schedstat)
              of the daemon, of each NAPI thread, and per-core /proc/stat;
  saturation: bfd_peers floods valid Up packets for its Up sessions as fast as it can
              for --flood seconds; packets handled (tandemd's `valid` counter, bfdd's
              control-packet-input) per second, divided by the receive side's CPU.
Sessions Up and Down transitions are checked around each window.

Modes (--modes): `xdp` (XDP receive, every packet sent from user space), `xdp-tx` (XDP
receive in generic mode, and the XDP program sends the periodic packets: [bfd]
transmit_path = "xdp"; native XDP_TX on veth would need an XDP program on the
generator's end too), `user-space` (the fallback receiver), `bfdd` (FRR).
"""

import argparse
import ipaddress
import json
import os
import re
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from lab.bfdd import Bfdd, bfdd_binary, nft_binary  # noqa: E402
from lab.frr import FrrRouter  # noqa: E402
from lab.netns import Lab, Node, delete_netns, list_netns  # noqa: E402
from lab.tandem import TandemNode, require_tandemctl  # noqa: E402
from lab.util import LabError, Skip, log, require_binary, require_root, run, wait_until  # noqa: E402

RX_ADDR = "198.18.0.1"    # RFC 2544 benchmarking range, only inside the namespaces
GEN_ADDR = "198.18.0.2"
FIRST_PEER = "198.18.1.1"
RX_IF, GEN_IF = "hbrx0", "hbgen0"
TANDEM_AS, PEER_AS = 4200000100, 65001
_HB_RE = re.compile(r"^hb(\d+)-\d+-")


# -- namespaces -----------------------------------------------------------------------


class HbLab(Lab):
    """lab.netns.Lab with namespaces named hb<pid>-<n>-<node> and a direct veth pair
    instead of the bridge (Lab still makes its switch namespace; it stays unused)."""

    def _add_ns(self, short):
        if self.prefix.startswith("td"):
            self.prefix = "hb" + self.prefix[2:]
        return super()._add_ns(short)

    def add_pair(self, count):
        rx_ns, gen_ns = self._add_ns("rx"), self._add_ns("gen")
        run(["ip", "link", "add", RX_IF, "netns", rx_ns, "type", "veth", "peer", "name", GEN_IF, "netns", gen_ns])
        peers = [str(ipaddress.IPv4Address(FIRST_PEER) + i) for i in range(count)]
        mac = {}
        for ns, dev in ((rx_ns, RX_IF), (gen_ns, GEN_IF)):
            self.exec_ns(ns, ["ip", "link", "set", dev, "up"])
            mac[dev] = json.loads(self.exec_ns(ns, ["ip", "-j", "link", "show", dev]).stdout)[0]["address"]
        self.exec_ns(rx_ns, ["ip", "addr", "add", f"{RX_ADDR}/16", "dev", RX_IF])
        self.exec_ns(gen_ns, ["ip", "addr", "add", f"{GEN_ADDR}/16", "dev", GEN_IF])
        gen_cmds = [f"addr add {a}/32 dev {GEN_IF}" for a in peers]
        gen_cmds.append(f"neigh replace {RX_ADDR} lladdr {mac[RX_IF]} dev {GEN_IF} nud permanent")
        rx_cmds = [f"neigh replace {a} lladdr {mac[GEN_IF]} dev {RX_IF} nud permanent" for a in peers]
        self.exec_ns(gen_ns, ["ip", "-batch", "-"], input="\n".join(gen_cmds) + "\n", timeout=120)
        self.exec_ns(rx_ns, ["ip", "-batch", "-"], input="\n".join(rx_cmds) + "\n", timeout=120)
        for ns, dev in ((rx_ns, RX_IF), (gen_ns, GEN_IF)):
            # GRO on gives veth a NAPI instance even without XDP; `threaded` moves it into
            # a kthread that we can pin and measure.
            # TSO off: veth hands a locally sent UDP packet to the peer's NAPI only when
            # the sender has no TSO (else netif_rx on the SENDER's core).
            self.exec_ns(ns, ["ethtool", "-K", dev, "gro", "on", "tso", "off"])
            self.exec_ns(ns, ["sh", "-c", f"echo 1 > /sys/class/net/{dev}/threaded"])
        # The generator needs only the receiver's packets that carry news (a state other
        # than Up, or a Poll): an nftables ingress rule drops the others (BFD byte 1:
        # state in bits 7-6, P in bit 5; "@th,72,3 6" is Up without P), so that they
        # cost the generator's core less (and stall it less).
        self.exec_ns(gen_ns, [nft_binary(), "-f", "-"], input=(
            f"table netdev hb {{\n chain in {{\n  type filter hook ingress device {GEN_IF} priority 0;\n"
            f"  udp dport 3784 @th,72,3 6 counter drop\n }}\n}}\n"))
        rx = Node(self, "rx", rx_ns, RX_ADDR, None)
        gen = Node(self, "gen", gen_ns, GEN_ADDR, None)
        self.nodes.update(rx=rx, gen=gen)
        self.rx_mac = mac[RX_IF]
        return rx, gen, peers


def cleanup_stale_hb():
    for ns in list_netns():
        m = _HB_RE.match(ns)
        if m and int(m.group(1)) != os.getpid():
            try:
                os.kill(int(m.group(1)), 0)
            except ProcessLookupError:
                log(f"removing stale namespace {ns}")
                delete_netns(ns)


# -- CPU accounting -------------------------------------------------------------------


def task_ns(pid):
    """CPU time of a process (all its threads) or a kernel thread, in ns: the
    scheduler's sum_exec_runtime (/proc/PID/task/TID/schedstat). Not utime+stime: this
    kernel samples those at the 250 Hz tick, which work woken on the generator's 1 ms
    schedule can alias with (with them, the split between tandemd and its NAPI thread
    moved by 2x from run to run)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total


def cpu_times():
    """{cpu index: (busy ticks, softirq ticks, total ticks)} from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"^cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + v[4]
                out[int(m.group(1))] = (sum(v[:8]) - idle, v[6], sum(v[:8]))
    return out


def udp_rcvbuf_errors(node):
    """Datagrams the kernel dropped in `node` because a socket's receive buffer was full."""
    lines = [ln.split() for ln in node.exec(["cat", "/proc/net/snmp"], quiet=True).stdout.splitlines()
             if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")]) if len(lines) >= 2 else 0


def napi_threads(dev):
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip().startswith(f"napi/{dev}-"):
                        pids.append(int(p))
            except OSError:
                pass
    return pids


def pin(pid, cpu, nice, threads=True):
    """taskset a process (all its threads) or one thread to one core, and renice it:
    the machine is shared, and a compile preempting the NAPI thread would make the
    veth ring overflow for reasons that have nothing to do with the receive path."""
    run(["taskset"] + (["-a"] if threads else []) + ["-cp", str(cpu), str(pid)], quiet=True)
    tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")] if threads else [pid]
    for t in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, t, nice)
        except OSError:
            pass


class Window:
    """CPU use of the named tasks and of each core between start() and stop()."""

    def __init__(self, tasks):
        self.tasks = tasks  # {name: [pid, ...]}

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {k: sum(task_ns(p) for p in v) for k, v in self.tasks.items()}
        self.s0 = cpu_times()
        return self

    def stop(self):
        self.wall = time.monotonic() - self.t0
        self.cpu = {k: (sum(task_ns(p) for p in v) - self.c0[k]) / 1e9 for k, v in self.tasks.items()}
        s1 = cpu_times()
        self.core = {c: ((s1[c][0] - self.s0[c][0]) / max(1, s1[c][2] - self.s0[c][2]),
                         (s1[c][1] - self.s0[c][1]) / max(1, s1[c][2] - self.s0[c][2])) for c in s1}
        return self

    def pct(self, name):
        return 100.0 * self.cpu[name] / self.wall


# -- receivers ------------------------------------------------------------------------


class TandemReceiver:
    def __init__(self, node, args, mode, peers, suffix=""):
        self.label = f"tandemd {mode}"
        self.mode = mode
        self.td = TandemNode(node, args.tandemd, router_id=RX_ADDR, local_as=TANDEM_AS, tandemctl=args.tandemctl,
                             name=f"tandemd-{mode}{suffix}")
        self.td.log_["level"] = "info"
        self.td.peer_defaults = {"hold_time": 90, "connect_retry": 30, "families": ["ipv4-unicast"]}
        kernel_tx = mode == "xdp-tx"
        self.td.tables["bfd"] = {"enabled": True, "receive_path": "xdp" if kernel_tx else mode, "interfaces": [RX_IF],
                                 "xdp_mode": "generic" if kernel_tx else "auto",
                                 "transmit_path": "xdp" if kernel_tx else "user-space",
                                 "desired_min_tx_ms": args.interval_ms, "required_min_rx_ms": args.interval_ms,
                                 "detect_mult": 3}
        for a in peers:
            self.td.add_peer(a, PEER_AS, passive=True, bfd=True)

    def start(self):
        self.td.start(timeout=60)
        self.pids = [self.td.proc.pid]
        line = self.td.wait_log(r"bfd: receive path", timeout=10)
        self.path = line[0].split("bfd: receive path", 1)[1].split()[0]

    def status(self):
        t = time.monotonic()
        r = self.td.ctl("bfd", timeout=60)
        at = (t + time.monotonic()) / 2
        counters = {c["name"]: int(c["value"]) for c in r.get("counters", [])}
        ss = r.get("sessions", [])
        return dict(path=r.get("path"), valid=counters.get("valid", 0), at=at,
                    out=sum(int(s.get("packets_out", 0)) for s in ss),
                    out_kernel=sum(int(s.get("packets_out_kernel", 0)) for s in ss),
                    up=sum(1 for s in ss if s["local_state"] == "Up"),
                    downs=sum(int(s.get("down_transitions", 0)) for s in ss), counters=counters)

    def stop(self):
        self.td.stop()


class BfddReceiver:
    def __init__(self, node, args, peers, suffix=""):
        self.label = "FRR bfdd"
        self.path = "bfdd"
        self.frr = FrrRouter(node, 65000, router_id=RX_ADDR, name=f"frr{suffix}")
        # FrrRouter waits for its ASN in `show bgp summary json`, which lists it only
        # with a neighbour: one that is shut down (bgpd stays idle).
        self.frr.add_neighbor("198.18.0.3", 65000, extra=["neighbor 198.18.0.3 shutdown"])
        self.bfdd = Bfdd(self.frr)
        for a in peers:
            # No `interface`: bfdd would wait for zebra to announce it (tens of seconds
            # with 1,000 sessions); local-address alone makes the sessions single hop.
            self.bfdd.add_peer(a, local_address=RX_ADDR, interface=None, interval_ms=args.interval_ms, multiplier=3)

    def start(self):
        self.frr.start()
        self.bfdd.start(timeout=60)
        self.pids = [self.bfdd.proc.pid]
        self.others = [self.frr.zebra.pid, self.frr.bgpd.pid]

    def status(self):
        t = time.monotonic()
        counters = self.frr.vtysh_json("show bfd peers counters json", timeout=60)
        at = (t + time.monotonic()) / 2
        peers = self.frr.vtysh_json("show bfd peers json", timeout=60)
        valid = sum(int(c.get("control-packet-input", 0)) for c in counters)
        downs = sum(int(c.get("session-down", 0)) for c in counters)
        return dict(path="bfdd", valid=valid, at=at, up=sum(1 for p in peers if p.get("status") == "up"), downs=downs,
                    counters={})

    def stop(self):
        self.bfdd.stop()
        self.frr.stop()


# -- one mode -------------------------------------------------------------------------


def gen_status(gen_proc, what=None):
    """The last status line bfd_peers printed (optionally of one kind) as a dict."""
    lines = [ln for ln in gen_proc.log_text().splitlines() if ln.startswith("bfd_peers: ")
             and (what is None or ln.split()[1] == what)]
    if not lines:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", lines[-1])}


def realtime(recv, genp, args, on):
    """Steady state: the NAPI threads (softirq on a real NIC, ahead of every task) and
    the generator (it stands for the network: a stall of more than 20 ms takes
    sessions Down) are SCHED_FIFO; the generator of this VM otherwise showed 20-900 ms
    stalls. Flood: all back to SCHED_OTHER (nice --nice), so that the busy generator
    cannot starve its core and a user-space receiver shares its core with its NAPI
    thread as a process does with ksoftirqd. --rt-prio 0: never SCHED_FIFO."""
    for p, prio in [(t, args.rt_prio + 10) for t in recv.rx_napi + recv.gen_napi] + [(genp.pid, args.rt_prio)]:
        run(["chrt"] + (["-f", "-p", str(prio)] if on and args.rt_prio else ["-o", "-p", "0"]) + [str(p)], quiet=True)
        try:
            os.setpriority(os.PRIO_PROCESS, p, args.nice)
        except OSError:
            pass


def measure_mode(lab, rx, gen, peers, args, recv):
    log(f"=== {recv.label}: starting with {len(peers)} BFD peers at {args.interval_ms} ms x 3")
    recv.rx_napi, recv.gen_napi = napi_threads(RX_IF), napi_threads(GEN_IF)
    for p in recv.rx_napi + recv.gen_napi:
        pin(p, args.rx_cpu if p in recv.rx_napi else args.gen_cpu, args.nice, threads=False)
    recv.start()
    for p in recv.pids + getattr(recv, "others", []):
        pin(p, args.rx_cpu, args.nice)
    # The daemon alone: its sessions Down (no peer yet), 1 packet/s each.
    time.sleep(2.0)
    idle = Window({"daemon": recv.pids}).start()
    time.sleep(args.idle)
    idle.stop()
    log(f"{recv.label}: idle (sessions Down, no peer) {idle.wall:.1f} s: daemon {idle.pct('daemon'):.2f}% CPU")
    genp = gen.spawn("bfd_peers", ["taskset", "-c", str(args.gen_cpu), "nice", "-n", str(args.nice), args.bfd_peers,
                                   "--first", FIRST_PEER, "--remote", RX_ADDR, "--count", str(len(peers)),
                                   "--interval-ms", str(args.interval_ms), "--batch", str(args.batch)]
                     + (["--ifname", GEN_IF, "--dst-mac", lab.rx_mac] if args.raw_flood else [])
                     + ["--flood-quiet", "0" if args.flood_with_tx else "1", "--flood-pps", str(args.flood_pps)])
    try:
        realtime(recv, genp, args, True)
        res = _measure(genp, rx, gen, peers, args, recv)
        res["idle"] = idle
        return res
    finally:
        genp.stop()
        recv.stop()


def _measure(genp, rx, gen, peers, args, recv):
    n = len(peers)
    t0 = time.monotonic()
    last = {"up": 0}

    def all_up():
        last.update(recv.status())
        return not genp.alive() or last["up"] == n
    try:
        wait_until(all_up, args.up_timeout, f"{recv.label}: all {n} sessions Up", interval=1.0)
    except AssertionError:
        # Measured all the same: the table says how many were Up (FRR's bfdd may not
        # hold 1,000 sessions at 10 ms here).
        log(f"{recv.label}: only {last['up']} of {n} sessions Up after {args.up_timeout:.0f} s; measuring anyway")
    if not genp.alive():
        raise LabError(f"bfd_peers exited: {genp.log_text()[-2000:]}")
    up_s = time.monotonic() - t0
    rx_napi, gen_napi = recv.rx_napi, recv.gen_napi
    if sorted(napi_threads(RX_IF) + napi_threads(GEN_IF)) != sorted(rx_napi + gen_napi):
        raise LabError("the NAPI threads changed while the daemon started")
    log(f"{recv.label}: {last['up']} of {n} sessions Up after {up_s:.1f} s (path {recv.path}); NAPI threads rx {rx_napi} "
        f"gen {gen_napi}; settling {args.settle} s")
    time.sleep(args.settle)
    tasks = {"daemon": recv.pids, "rx_napi": rx_napi, "gen_napi": gen_napi, "gen": [genp.pid]}
    res = dict(label=recv.label, mode=getattr(recv, "mode", "bfdd"), path=recv.path, up_after_s=up_s, loadavg_before=os.getloadavg())

    # steady state
    st0 = recv.status()
    drops0 = udp_rcvbuf_errors(rx)
    w = Window(tasks).start()
    time.sleep(args.steady)
    w.stop()
    drops1 = udp_rcvbuf_errors(rx)
    st1 = recv.status()
    res["steady"] = dict(window=w, up_before=st0["up"], up_after=st1["up"], downs=st1["downs"] - st0["downs"],
                         rcvbuf_drops=drops1 - drops0,
                         pps=(st1["valid"] - st0["valid"]) / (st1["at"] - st0["at"]),
                         out_pps=(st1.get("out", 0) - st0.get("out", 0)) / (st1["at"] - st0["at"]),
                         out_kernel_pps=(st1.get("out_kernel", 0) - st0.get("out_kernel", 0)) / (st1["at"] - st0["at"]))
    log(f"{recv.label}: steady {w.wall:.1f} s: daemon {w.pct('daemon'):.2f}% CPU, rx NAPI {w.pct('rx_napi'):.2f}%, "
        f"received {res['steady']['pps']:.0f}/s, sent {res['steady']['out_pps']:.0f}/s "
        f"({res['steady']['out_kernel_pps']:.0f}/s by the XDP program), Up {st0['up']}->{st1['up']}, "
        f"Downs {st1['downs'] - st0['downs']}")

    if args.perf:
        res["perf"] = perf_profile(recv.pids[0], args.perf)

    # saturation
    realtime(recv, genp, args, False)
    genp.send_signal(signal.SIGUSR1)
    time.sleep(1.0)  # reach the flood's steady state before counting
    g0 = gen_status(genp, "flood-on")
    fs0 = recv.status()
    w2 = Window(tasks).start()
    time.sleep(args.flood)
    w2.stop()
    fs1 = recv.status()
    genp.send_signal(signal.SIGUSR2)
    time.sleep(0.5)
    g1 = gen_status(genp, "flood-off")
    time.sleep(1.0)  # the daemon drains its backlog, sessions settle
    st2 = recv.status()
    res["flood"] = dict(window=w2, pps=(fs1["valid"] - fs0["valid"]) / (fs1["at"] - fs0["at"]),
                        gen_pps=(g1.get("flood_tx", 0) - g0.get("flood_tx", 0)) / max(0.001, g1.get("t", 0) - g0.get("t", 0)),
                        up_after=st2["up"], downs=st2["downs"] - st1["downs"], counters=st2["counters"])
    log(f"{recv.label}: flood {w2.wall:.1f} s: handled {res['flood']['pps']:.0f}/s (sent ~{res['flood']['gen_pps']:.0f}/s); "
        f"daemon {w2.pct('daemon'):.1f}%, rx NAPI {w2.pct('rx_napi'):.1f}%; Up after {st2['up']}, "
        f"Downs {res['flood']['downs']}")
    res["loadavg_after"] = os.getloadavg()
    return res


def perf_profile(pid, seconds):
    """Where the daemon spends its steady-state CPU: `perf record -e cpu-clock` (the
    VM has no hardware counters), the top symbols and the share in system calls."""
    data = f"/tmp/hb-perf-{pid}.data"
    cp = run(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", data, "-p", str(pid), "--", "sleep",
              str(seconds)], check=False, quiet=True, timeout=seconds + 60)
    if cp.returncode != 0:
        return f"perf record failed: {cp.stderr.strip()[:300]}"
    top = run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "sym", "--percent-limit", "1.5",
               "-g", "none"], check=False, quiet=True, timeout=120).stdout
    callers = run(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "sym", "--percent-limit", "4",
                   "-g", "none"], check=False, quiet=True, timeout=120).stdout
    os.unlink(data)
    keep = lambda t: "\n".join(ln for ln in t.splitlines() if ln.strip() and not ln.startswith("#"))  # noqa: E731
    text = f"self:\n{keep(top)}\nwith children:\n{keep(callers)}"
    log(f"perf profile of pid {pid}:\n{text}")
    return text


# -- report ---------------------------------------------------------------------------


def derived(r):
    s, f = r["steady"], r["flood"]
    sw, fw = s["window"], f["window"]
    rx_cpu_f = fw.cpu["daemon"] + fw.cpu["rx_napi"]  # receive-side CPU-s in the flood window
    handled_f = f["pps"] * fw.wall
    return dict(
        idle_daemon_pct=r["idle"].pct("daemon"), steady_downs=s["downs"],
        steady_daemon_pct=sw.pct("daemon"), steady_napi_pct=sw.pct("rx_napi"), steady_pps=s["pps"],
        flood_pps=f["pps"], gen_pps=f["gen_pps"], flood_daemon_pct=fw.pct("daemon"), flood_napi_pct=fw.pct("rx_napi"),
        # Packets handled per second of receive-side CPU (the daemon, silent during the
        # flood unless --flood-with-tx, and the receiving NAPI thread): per core.
        pps_per_core=f["pps"] / (rx_cpu_f / fw.wall) if rx_cpu_f else float("inf"),
        daemon_s_per_m=fw.cpu["daemon"] / (handled_f / 1e6) if handled_f else float("inf"),
    )


def fmt_rate(x):
    if x == float("inf"):
        return "n/a"
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k"


def report(results, args, cmd):
    print()
    print(f"Command: `{cmd}`")
    print(f"{args.count} sessions at {args.interval_ms} ms x 3; receiver on CPU {args.rx_cpu}, generator on CPU "
          f"{args.gen_cpu}; idle {args.idle} s, steady {args.steady} s, flood {args.flood} s"
          f"{f' at {args.flood_pps}/s' if args.flood_pps else ''}; kernel {os.uname().release}")
    print()
    print("| receiver (path) | idle: daemon CPU | steady: Up at start / end, Downs | steady: heartbeats received/s "
          "| steady: daemon CPU | steady: rx NAPI thread | flood: handled/s (offered/s) | flood: daemon CPU "
          "| flood: rx NAPI thread | flood: packets/s per core | flood: daemon CPU-s per M heartbeats | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        d = derived(r)
        s, f = r["steady"], r["flood"]
        print(f"| {r['label']} ({r['path']}) | {d['idle_daemon_pct']:.1f}% | {s['up_before']} / {s['up_after']}, "
              f"{s['downs']} | {fmt_rate(d['steady_pps'])} | {d['steady_daemon_pct']:.1f}% | {d['steady_napi_pct']:.1f}% "
              f"| {fmt_rate(d['flood_pps'])} ({fmt_rate(d['gen_pps'] + d['steady_pps'])}) | {d['flood_daemon_pct']:.1f}% "
              f"| {d['flood_napi_pct']:.1f}% | {fmt_rate(d['pps_per_core'])} | {d['daemon_s_per_m']:.3f} "
              f"| {r['loadavg_before'][0]:.2f} -> {r['loadavg_after'][0]:.2f} |")
    print()
    print("Sent in the steady window (tandemd's packets_out; by the XDP program in brackets):")
    for r in results:
        if r["mode"] != "bfdd":
            print(f"- {r['label']}: {fmt_rate(r['steady']['out_pps'])}/s ({fmt_rate(r['steady']['out_kernel_pps'])}/s)")
    print()
    print("Per-core busy in the windows (rx core / gen core), softirq outside the NAPI threads in brackets:")
    for r in results:
        for k in ("steady", "flood"):
            w = r[k]["window"]
            rc, gc = w.core.get(args.rx_cpu, (0, 0)), w.core.get(args.gen_cpu, (0, 0))
            print(f"- {r['label']} {k}: rx core {100 * rc[0]:.0f}% ({100 * rc[1]:.1f}%), gen core "
                  f"{100 * gc[0]:.0f}% ({100 * gc[1]:.1f}%); bfd_peers {w.pct('gen'):.0f}%, gen NAPI {w.pct('gen_napi'):.0f}%;"
                  f" after the flood: Up {r['flood']['up_after']}, Downs during it {r['flood']['downs']}"
                  + (f"; UDP receive-buffer drops in the steady window: {r['steady']['rcvbuf_drops']}"
                     if k == "steady" else ""))
    by = {r["mode"]: derived(r) for r in results if r["path"]}
    if "xdp-tx" in by:
        k = by["xdp-tx"]
        print(f"\ntandemd steady CPU, XDP receive + kernel replies: {k['steady_daemon_pct']:.1f}% (target < 2%); "
              f"its rx NAPI thread (XDP, replies included): {k['steady_napi_pct']:.1f}%")
    if "xdp" in by and "user-space" in by:
        x, u = by["xdp"], by["user-space"]
        print(f"\nXDP / user-space packets per second per core under the flood: "
              f"{x['pps_per_core'] / u['pps_per_core']:.1f}x (target >= 5x)")
        print(f"tandemd steady CPU, XDP path: {x['steady_daemon_pct']:.1f}% (target < 2%): transmit and timers "
              f"(receive is not in the process with XDP; idle with the sessions Down: {x['idle_daemon_pct']:.1f}%)")
        if x["steady_downs"] == 0 and u["steady_downs"] == 0:
            print(f"user-space receive in tandemd: {u['steady_daemon_pct'] - x['steady_daemon_pct']:+.1f} points of "
                  f"CPU for {fmt_rate(u['steady_pps'])} heartbeats/s (user-space minus XDP, steady)")
        else:
            print("user-space minus XDP steady CPU not computed: sessions went Down in a steady window")
    print(json.dumps([dict(label=r["label"], path=r["path"], **derived(r)) for r in results], default=str))


# -- main -----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build directory (default build)")
    ap.add_argument("--tandemd")
    ap.add_argument("--tandemctl")
    ap.add_argument("--bfd-peers")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--interval-ms", type=int, default=10)
    ap.add_argument("--steady", type=float, default=10.0)
    ap.add_argument("--flood", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of daemon CPU before the peers start")
    ap.add_argument("--flood-pps", type=int, default=0, help="flood rate limit (default: as fast as it goes)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--up-timeout", type=float, default=30.0,
                    help="wait this long for all sessions Up, then measure anyway (the table shows how many were)")
    ap.add_argument("--runs", type=int, default=1, help="repeat the modes (each run is one row per mode)")
    ap.add_argument("--rx-cpu", type=int, default=1)
    ap.add_argument("--gen-cpu", type=int, default=0)
    ap.add_argument("--modes", default="xdp,user-space,bfdd")
    ap.add_argument("--flood-with-tx", action="store_true",
                    help="keep the receiver transmitting during the flood (default: the peers advertise "
                         "Required Min RX 0 while flooding, so the receiver's CPU is all receive)")
    ap.add_argument("--udp-flood", dest="raw_flood", action="store_false",
                    help="flood through bfd_peers' UDP socket instead of AF_PACKET frames")
    ap.add_argument("--rt-prio", type=int, default=20,
                    help="SCHED_FIFO priority of the generator in steady state (its NAPI threads: +10); 0: none")
    ap.add_argument("--nice", type=int, default=-10, help="nice value of every measured task (default -10)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--perf", type=float, default=0.0,
                    help="after each steady window, profile the daemon for this many seconds (perf, cpu-clock)")
    args = ap.parse_args()
    require_root()
    args.tandemd = require_binary(args.tandemd or os.path.join(args.build, "apps/tandemd/tandemd"), "tandemd")
    args.tandemctl = require_tandemctl(args.tandemctl or os.path.join(args.build, "apps/tandemctl/tandemctl"))
    args.bfd_peers = require_binary(args.bfd_peers or os.path.join(args.build, "bench/heartbeat/bfd_peers"), "bfd_peers")
    require_binary("ethtool", "ethtool (apt-get install ethtool)")
    modes = args.modes.split(",")
    if "bfdd" in modes:
        bfdd_binary()
    # 1,000 UDP sockets (one per session) and more in tandemd.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    cmd = "python3 bench/heartbeat/run.py " + " ".join(sys.argv[1:])
    cleanup_stale_hb()
    results = []
    with HbLab("heartbeat", keep=args.keep) as lab:
        rx, gen, peers = lab.add_pair(args.count)
        for run_no in range(1, args.runs + 1):
            suffix = f"-{run_no}" if args.runs > 1 else ""  # own directory and log per daemon
            for m in modes:
                recv = (BfddReceiver(rx, args, peers, suffix) if m == "bfdd"
                        else TandemReceiver(rx, args, m, peers, suffix))
                if args.runs > 1:
                    recv.label += f" #{run_no}"
                results.append(measure_mode(lab, rx, gen, peers, args, recv))
                time.sleep(1.0)
    report(results, args, cmd)


if __name__ == "__main__":
    try:
        main()
    except Skip as e:
        print(f"SKIP: {e}")
        sys.exit(77)
