#!/usr/bin/env python3
"""Full-table ingest benchmark: tandemd vs BIRD vs FRR vs GoBGP.

For each run and each receiver in turn: two fresh network namespaces joined by a veth
pair (receiver 10.0.0.1, source 10.0.0.2), the receiver with a minimal config (one eBGP
peer, no FIB, no export), and bgp_blaster as the source. bgp_blaster builds and encodes
the whole table before it connects, then writes it at socket speed. Measured per
receiver, between Established and "all N prefixes in the RIB":

  wall s     seconds from bgp_blaster's Established to done
  CPU s      utime+stime of the receiver's processes (FRR: bgpd + zebra)
  peak RSS   VmHWM at done (summed over the receiver's processes)
  B/route    (VmRSS at done - VmRSS just before the source connected) / N

How "done" is detected (cheaply, without loading the receiver):
  tandemd  its "End-of-RIB received for ipv4-unicast" log line on stderr (logged once
           everything before the EoR is processed); read time of the line
  BIRD     "Routes: N imported" of `show protocols all` on the control socket, every 20 ms
  FRR      pfxRcd == N and tableVersion >= N (best paths run) in `show bgp ipv4 unicast
           summary json` on bgpd's vty socket, every 20 ms
           (BIRD, FRR: the moment N was reached is interpolated between the last two
           polls at that interval's import rate)
  GoBGP    its API has no O(1) count (`gobgp global rib summary` costs gobgpd 0.25 s
           of CPU at 1M, `gobgp neighbor ADDR` 5 s): once the source has written
           everything, done is the last moment gobgpd's CPU counter moved (sampled from
           /proc every 20 ms) before 0.5 s of idleness, confirmed afterwards (outside the
           measurement) by one `gobgp neighbor` showing N accepted

Python 3 standard library only. Needs root (namespaces). See README.md.
"""

import argparse
import datetime
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RX_ADDR, TX_ADDR = "10.0.0.1", "10.0.0.2"
RX_AS, TX_AS = 4200000100, 65001
ALL_RECEIVERS = ["tandemd", "bird", "frr", "gobgp"]
NAMES = {"tandemd": "tandemd", "bird": "BIRD", "frr": "FRR bgpd", "gobgp": "GoBGP"}
POLL = 0.02
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VERBOSE = False


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def vlog(msg):
    if VERBOSE:
        log("  " + msg)


class Skip(Exception):
    """A receiver cannot run here (missing binary...)."""


class Failed(Exception):
    """One measurement failed (the others go on)."""


# ---------------------------------------------------------------- /proc sampling


def proc_cpu(pid):
    """utime+stime of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """(VmRSS, VmHWM) in bytes."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


class Sample:
    def __init__(self, pids):
        self.t = time.monotonic_ns()
        self.cpu = sum(proc_cpu(p) for p in pids)
        mem = [proc_mem(p) for p in pids]
        self.rss = sum(m[0] for m in mem)
        self.hwm = sum(m[1] for m in mem)


def listening(pid, addr, port):
    """Is there a TCP listener on addr:port in pid's network namespace?"""
    a = int.from_bytes(socket.inet_aton(addr), "little")
    want = {"%08X:%04X" % (a, port), "%08X:%04X" % (0, port),  # addr, 0.0.0.0
            "0000000000000000FFFF0000%08X:%04X" % (a, port),      # ::ffff:addr
            "%032X:%04X" % (0, port)}                             # :: (dual stack)
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[1] in want and cols[3] == "0A":
                        return True
        except (OSError, StopIteration):
            pass
    return False


# ---------------------------------------------------------------- namespaces


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class Netns:
    """Two namespaces joined by a veth pair; always deleted on exit."""

    live = set()

    def __init__(self, tag):
        base = f"ingest{os.getpid()}{tag}"
        self.rx, self.tx = base + "rx", base + "tx"

    def __enter__(self):
        for ns in (self.rx, self.tx):
            sh("ip", "netns", "add", ns)
            Netns.live.add(ns)
        sh("ip", "link", "add", "ib0", "netns", self.rx, "type", "veth",
           "peer", "name", "ib1", "netns", self.tx)
        for ns, dev, addr in ((self.rx, "ib0", RX_ADDR), (self.tx, "ib1", TX_ADDR)):
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        for ns in (self.rx, self.tx):
            Netns.delete(ns)

    @staticmethod
    def delete(ns):
        sh("ip", "netns", "del", ns, check=False)
        Netns.live.discard(ns)

    def exec(self, ns):
        return ["ip", "netns", "exec", ns]


def stop_process(p, name, grace=5.0):
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        vlog(f"{name} ignored SIGTERM for {grace:.0f} s: SIGKILL")
        p.kill()
        p.wait()


# ---------------------------------------------------------------- the source


class Blaster:
    """bgp_blaster in the source namespace; its JSON events arrive on a queue."""

    def __init__(self, path, netns, args, workdir):
        self.events = queue.Queue()
        self.err = open(os.path.join(workdir, "blaster.stderr"), "w")
        cmd = netns.exec(netns.tx) + [path, "--connect", RX_ADDR, "--bind", TX_ADDR,
                                      "--local-as", str(TX_AS), "--wait-go"] + args
        vlog("source: " + " ".join(cmd))
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, bufsize=1)
        self.seen = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.events.put(ev)
        self.events.put({"event": "exit"})

    def wait(self, name, timeout):
        """Wait for event `name` (events seen earlier count)."""
        deadline = time.monotonic() + timeout
        while name not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"source: no '{name}' event within {timeout:.0f} s")
            try:
                ev = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self.seen[ev["event"]] = ev
            if ev["event"] == "error":
                raise Failed("source: " + ev.get("message", "?"))
            if ev["event"] in ("exit", "stopped") and name not in self.seen:
                raise Failed(f"source stopped before '{name}': {ev.get('reason', 'exited')}"
                             f" (see {self.err.name})")
        return self.seen[name]

    def poll_event(self, name):
        """Non-blocking: has event `name` arrived?"""
        while True:
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                break
            self.seen[ev["event"]] = ev
            if ev["event"] == "error":
                raise Failed("source: " + ev.get("message", "?"))
        return self.seen.get(name)

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def stop(self):
        try:
            if self.p.stdin and not self.p.stdin.closed:
                self.p.stdin.close()  # stdin EOF: Cease, then exit
        except OSError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop_process(self.p, "bgp_blaster")
        self.err.close()


# ---------------------------------------------------------------- receivers


class Receiver:
    """Start in the receiver namespace; `pids` are the processes measured; `progress()`
    returns (done, info) cheaply."""

    name = "?"

    def __init__(self, args, netns, workdir, n):
        self.args, self.netns, self.workdir, self.n = args, netns, workdir, n
        self.procs = []  # (Popen, name)
        self.pids = []

    def spawn(self, cmd, name, **kw):
        out = open(os.path.join(self.workdir, name + ".log"), "w")
        vlog(f"{name}: " + " ".join(cmd))
        p = subprocess.Popen(self.netns.exec(self.netns.rx) + cmd, stdout=out,
                             stderr=kw.pop("stderr", subprocess.STDOUT), stdin=subprocess.DEVNULL,
                             **kw)
        self.procs.append((p, name))
        return p

    def wait_until(self, what, cond, timeout=30):
        deadline = time.monotonic() + timeout
        while not cond():
            for p, name in self.procs:
                if p.poll() is not None:
                    raise Failed(f"{name} exited with status {p.returncode} while waiting for"
                                 f" {what} (log: {self.workdir}/{name}.log)")
            if time.monotonic() > deadline:
                raise Failed(f"timeout waiting for {what}")
            time.sleep(0.05)

    def wait_listening(self):
        self.wait_until(f"{self.name} to listen on {RX_ADDR}:179",
                        lambda: listening(self.pids[0], RX_ADDR, 179))

    def on_start(self, sample):
        """Called right after Established (sample: the receiver at that moment)."""

    def verify(self):
        """After the measurement: an independent count of the routes (or None)."""
        return None

    @staticmethod
    def version(args):
        return "?"

    def stop(self):
        for p, name in reversed(self.procs):
            stop_process(p, name)


class Bird(Receiver):
    name = "bird"

    @staticmethod
    def available(args):
        if not shutil.which("bird"):
            raise Skip("`bird` not found (apt-get install bird2)")

    def start(self):
        conf = os.path.join(self.workdir, "bird.conf")
        self.ctl = os.path.join(self.workdir, "bird.ctl")
        with open(conf, "w") as f:
            f.write(f"""log stderr all;
router id {RX_ADDR};
protocol device {{ scan time 60; }}
protocol bgp blaster {{
  local {RX_ADDR} as {RX_AS};
  neighbor {TX_ADDR} as {TX_AS};
  passive on;
  ipv4 {{ import all; export none; }};
}}
""")
        p = self.spawn(["bird", "-f", "-c", conf, "-s", self.ctl,
                        "-P", os.path.join(self.workdir, "bird.pid")], "bird")
        self.pids = [p.pid]
        self.wait_until("the BIRD control socket", lambda: os.path.exists(self.ctl))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.ctl)
        self.buf = b""
        self._reply()  # greeting
        self.wait_listening()

    def _reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise Failed("BIRD closed its control socket")
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode(errors="replace")
            lines.append(line)
            if len(line) >= 5 and line[:4].isdigit() and line[4] == " ":
                return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self._reply()

    def imported(self):
        for line in self.cmd("show protocols all blaster"):
            m = re.search(r"Routes:\s+(\d+) imported", line)
            if m:
                return int(m.group(1))
        return 0

    def progress(self):
        n = self.imported()
        return n >= self.n, n

    def verify(self):
        return self.imported()

    @staticmethod
    def version(args):
        r = sh("bird", "--version", check=False)
        return (r.stdout + r.stderr).strip()

    def stop(self):
        try:
            self.sock.close()
        except (AttributeError, OSError):
            pass
        super().stop()


class Frr(Receiver):
    name = "frr"
    BGPD, ZEBRA = "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"

    @staticmethod
    def available(args):
        for b in (Frr.BGPD, Frr.ZEBRA):
            if not os.access(b, os.X_OK):
                raise Skip(f"{b} not found (apt-get install frr)")

    def start(self):
        # zebra runs as user frr (it has no skip-run-as option): frr-writable paths.
        d = self.workdir
        shutil.chown(d, "frr", "frr")
        os.chmod(d, 0o755)
        zs = os.path.join(d, "zserv.api")
        with open(os.path.join(d, "zebra.conf"), "w") as f:
            f.write("hostname ingest-rx\n")
        # One eBGP peer; -n: no FIB install. FRR never advertises a route back to the
        # only peer of an update group, and the deny-all route-map makes that explicit.
        with open(os.path.join(d, "bgpd.conf"), "w") as f:
            f.write(f"""hostname ingest-rx
log stdout informational
router bgp {RX_AS}
 bgp router-id {RX_ADDR}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {TX_ADDR} remote-as {TX_AS}
 neighbor {TX_ADDR} passive
 address-family ipv4 unicast
  neighbor {TX_ADDR} route-map NONE out
 exit-address-family
!
route-map NONE deny 10
!
""")
        for name in ("zebra.conf", "bgpd.conf"):
            shutil.chown(os.path.join(d, name), "frr", "frr")
        z = self.spawn([self.ZEBRA, "-f", os.path.join(d, "zebra.conf"), "-P", "0",
                        "-i", os.path.join(d, "zebra.pid"), "--vty_socket", d, "-z", zs],
                       "zebra")
        self.wait_until("zebra's zserv socket", lambda: os.path.exists(zs))
        b = self.spawn([self.BGPD, "-S", "-n", "-P", "0", "-l", RX_ADDR,
                        "-f", os.path.join(d, "bgpd.conf"), "-i", os.path.join(d, "bgpd.pid"),
                        "--vty_socket", d, "-z", zs], "bgpd")
        self.pids = [b.pid, z.pid]
        vty = os.path.join(d, "bgpd.vty")
        self.wait_until("bgpd's vty socket", lambda: os.path.exists(vty))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(vty)
        self.wait_listening()

    def cmd(self, text):
        # vtysh protocol: the command NUL-terminated; the reply ends with 0 0 0 status.
        self.sock.sendall(text.encode() + b"\0")
        buf = b""
        while not (len(buf) >= 4 and buf[-4:-1] == b"\0\0\0"):
            d = self.sock.recv(1 << 20)
            if not d:
                raise Failed("bgpd closed its vty socket")
            buf += d
        return buf[:-4].decode(errors="replace")

    def summary(self):
        d = json.loads(self.cmd("show bgp ipv4 unicast summary json") or "{}")
        peer = d.get("peers", {}).get(TX_ADDR, {})
        return peer.get("pfxRcd", 0), d.get("tableVersion", 0)

    def progress(self):
        pfx, version = self.summary()
        return pfx >= self.n and version >= self.n, min(pfx, version)

    def verify(self):
        return self.summary()[0]

    @staticmethod
    def version(args):
        r = sh(Frr.BGPD, "--version", check=False)
        return r.stdout.strip().splitlines()[0] if r.stdout else "?"

    def stop(self):
        try:
            self.sock.close()
        except (AttributeError, OSError):
            pass
        super().stop()


class Gobgp(Receiver):
    name = "gobgp"
    IDLE = 0.5  # seconds without CPU after the source finished writing

    @staticmethod
    def available(args):
        for b in ("gobgpd", "gobgp"):
            if not shutil.which(b):
                raise Skip(f"`{b}` not found (apt-get install gobgpd)")

    def start(self):
        conf = os.path.join(self.workdir, "gobgpd.toml")
        with open(conf, "w") as f:
            f.write(f"""[global.config]
  as = {RX_AS}
  router-id = "{RX_ADDR}"
  port = 179
  local-address-list = ["{RX_ADDR}"]
[global.apply-policy.config]
  default-export-policy = "reject-route"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{TX_ADDR}"
    peer-as = {TX_AS}
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
""")
        p = self.spawn(["gobgpd", "-f", conf, "-t", "toml", "-p", "--pprof-disable",
                        "--api-hosts", "127.0.0.1:50051"], "gobgpd")
        self.pids = [p.pid]
        self.wait_listening()
        self.wait_until("the GoBGP API", lambda: self.accepted() is not None)

    def accepted(self):
        r = subprocess.run(self.netns.exec(self.netns.rx) +
                           ["gobgp", "-u", "127.0.0.1", "-p", "50051", "neighbor"],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if line.startswith(TX_ADDR) and "|" in line:
                cols = line.split("|")[1].split()
                return int(cols[1]) if len(cols) >= 2 else 0
        return None if r.returncode else 0

    def on_start(self, sample):
        self.last_cpu = sample.cpu
        self.last_change = sample
        self.queries = 0

    def progress_with(self, sample, source_sent):
        """Called every sample: done when idle after the source finished writing and the
        count confirms it. Returns (done, info, sample_at_done)."""
        if sample.cpu != self.last_cpu:
            # A lone tick after a quiet spell is runtime housekeeping (GC scavenger,
            # timers), not ingest work: it does not move the end of the work.
            lone = (sample.cpu - self.last_cpu) <= 1.0 / CLK_TCK + 1e-9 and \
                (sample.t - self.last_change.t) / 1e9 >= 0.2 and source_sent
            self.last_cpu = sample.cpu
            if not lone:
                self.last_change = sample
                return False, None, None
        if not source_sent or (sample.t - self.last_change.t) / 1e9 < self.IDLE:
            return False, None, None
        self.queries += 1
        n = self.accepted() or 0
        # The query itself costs gobgpd CPU: resynchronise so it is not taken for work.
        self.last_cpu = Sample(self.pids).cpu
        if n >= self.n:
            return True, n, self.last_change
        self.last_change = Sample(self.pids)  # not there yet: keep watching
        return False, n, None

    def verify(self):
        return self.accepted()

    @staticmethod
    def version(args):
        r = sh("gobgpd", "--version", check=False)
        return r.stdout.strip() or r.stderr.strip()


class Tandemd(Receiver):
    name = "tandemd"
    EOR = "End-of-RIB received for ipv4-unicast"

    @staticmethod
    def path(args):
        return args.tandemd or os.path.join(args.build, "apps", "tandemd", "tandemd")

    @staticmethod
    def available(args):
        if not os.access(Tandemd.path(args), os.X_OK):
            raise Skip(f"{Tandemd.path(args)} not built")

    def start(self):
        conf = os.path.join(self.workdir, "tandemd.toml")
        self.state = os.path.join(self.workdir, "state.json")
        with open(conf, "w") as f:
            f.write(f"""[global]
router_id = "{RX_ADDR}"
local_as = {RX_AS}
listen = ["{RX_ADDR}"]
port = 179
state_dump = "{self.state}"

[log]
level = "info"
format = "text"

[fib]
enabled = false

[[peer]]
address = "{TX_ADDR}"
remote_as = {TX_AS}
passive = true
families = ["ipv4-unicast"]
""")
        self.eor = threading.Event()
        self.eor_t = None
        self.eor_line = None
        p = self.spawn([Tandemd.path(self.args), "--config", conf, "--log-level", "info"],
                       "tandemd", stderr=subprocess.PIPE)
        self.pids = [p.pid]
        self.log_path = os.path.join(self.workdir, "tandemd.log")
        threading.Thread(target=self._watch, args=(p,), daemon=True).start()
        self.wait_listening()

    def _watch(self, p):
        with open(self.log_path + ".stderr", "wb") as out:
            for line in p.stderr:
                t = time.monotonic_ns()
                out.write(line)
                if not self.eor.is_set() and self.EOR.encode() in line and TX_ADDR.encode() in line:
                    self.eor_t = t
                    self.eor_line = line.decode(errors="replace").strip()
                    self.eor.set()

    def progress(self):
        return self.eor.is_set(), None

    def verify(self):
        """SIGUSR1 makes tandemd write its state (JSON, keys sorted: "peers" comes before
        the big "rib"); read our peer's "accepted" counter from the head of the file."""
        try:
            before = os.stat(self.state).st_mtime_ns
        except OSError:
            before = None
        os.kill(self.pids[0], signal.SIGUSR1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if os.stat(self.state).st_mtime_ns != before:  # renamed into place: complete
                    with open(self.state) as f:
                        head = f.read(1 << 20).split('"rib"', 1)[0]
                    for block in re.findall(r"\{[^{}]*\}", head):
                        if re.search(r'"address":\s*"%s"' % re.escape(TX_ADDR), block):
                            m = re.search(r'"accepted":\s*(\d+)', block)
                            return int(m.group(1)) if m else None
                    return None
            except OSError:
                pass
            time.sleep(0.1)
        return None

    @staticmethod
    def version(args):
        r = subprocess.run([Tandemd.path(args), "--version"], capture_output=True, text=True,
                           timeout=10)
        return (r.stdout.strip() or r.stderr.strip() or "?").splitlines()[0]


def log_time_ns(line):
    """The timestamp tandemd's text log puts first ("2024-05-01T12:00:00.123+0000")."""
    try:
        stamp = line.split(" ", 1)[0]
        return int(datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1e6) * 1000
    except (ValueError, AttributeError, IndexError):
        return None


RECEIVERS = {"tandemd": Tandemd, "bird": Bird, "frr": Frr, "gobgp": Gobgp}


# ---------------------------------------------------------------- one measurement


def measure(args, kind, run_no):
    cls = RECEIVERS[kind]
    workdir = tempfile.mkdtemp(prefix=f"ingest-{kind}-")
    rx = blaster = None
    try:
        with Netns(kind[:2]) as netns:
            rx = cls(args, netns, workdir, 0)
            rx.start()
            blaster = Blaster(args.blaster, netns, args.source_args, workdir)
            ready = blaster.wait("ready", timeout=600)
            n = rx.n = ready["prefixes"]
            time.sleep(0.3)  # let the receiver settle after start-up
            base = Sample(rx.pids)
            blaster.go()
            est = blaster.wait("established", timeout=60)
            t_est = est["t_established_monotonic_ns"]
            at_est = Sample(rx.pids)
            rx.on_start(at_est)
            deadline = time.monotonic() + args.timeout
            done = None
            polls = 0
            info = None
            prev = None  # (time, count) of the previous poll
            observed = None
            while done is None:
                if time.monotonic() > deadline:
                    raise Failed(f"not done after {args.timeout:.0f} s (last count {info})")
                for p, name in rx.procs:
                    if p.poll() is not None:
                        raise Failed(f"{name} exited with status {p.returncode} "
                                     f"(log: {workdir}/{name}.log)")
                if kind == "tandemd":
                    if rx.eor.wait(timeout=POLL):
                        s = Sample(rx.pids)
                        s.t = rx.eor_t
                        done = s
                    blaster.poll_event("sent")
                    continue
                time.sleep(POLL)
                polls += 1
                if kind == "gobgp":
                    s = Sample(rx.pids)
                    ok, info, at = rx.progress_with(s, blaster.poll_event("sent") is not None)
                    if ok:
                        done = at
                    continue
                t_query = time.monotonic_ns()
                ok, info = rx.progress()
                if ok:
                    done = Sample(rx.pids)
                    observed = done.t
                    # The count reached N somewhere since the previous poll: interpolate
                    # at the import rate of that interval rather than charge the
                    # receiver up to one poll interval.
                    if prev is not None and info > prev[1]:
                        frac = min(1.0, (n - prev[1]) / (info - prev[1]))
                        done.t = int(prev[0] + frac * (t_query - prev[0]))
                else:
                    prev = (t_query, info)
                blaster.poll_event("sent")
            sent = blaster.wait("sent", timeout=60)
            verified = rx.verify()
            blaster.stop()
            blaster.poll_event("stopped")
            src_stop = blaster.seen.get("stopped", {})
            res = {
                "receiver": kind,
                "run": run_no,
                "prefixes": n,
                "attribute_sets": ready["attribute_sets"],
                "wall_s": (done.t - t_est) / 1e9,
                "cpu_s": done.cpu - base.cpu,
                "cpu_before_established_s": at_est.cpu - base.cpu,
                "peak_rss_bytes": done.hwm,
                "rss_before_bytes": base.rss,
                "rss_done_bytes": done.rss,
                "bytes_per_route": (done.rss - base.rss) / n,
                "source_cpu_s": sent["cpu_sending_s"],
                "source_write_s": sent["write_seconds"],
                "source_bytes": sent["bytes"],
                "source_updates": sent["updates"],
                "source_received_updates": src_stop.get("received_updates"),
                "verified_count": verified,
                "polls": polls,
                "wall_s_observed": None if observed is None else (observed - t_est) / 1e9,
            }
            if kind == "gobgp":
                res["gobgp_confirm_queries"] = rx.queries
            if kind == "tandemd":
                res["eor_line"] = rx.eor_line
                logged = log_time_ns(rx.eor_line)
                if logged is not None:  # cross-check with the log's own ms timestamp
                    res["wall_s_from_log"] = (logged - est["t_established_realtime_ns"]) / 1e9
            if verified is not None and verified != n:
                log(f"  warning: {NAMES[kind]} verification counted {verified} routes, expected {n}")
            return res
    finally:
        if blaster:
            blaster.stop()
        if rx:
            rx.stop()
        if args.keep:
            log(f"  logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- reporting


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def summarize(results, receivers):
    """Per receiver: medians over runs; ratios vs BIRD: median over runs of the
    per-run ratio (both measured in the same run, seconds apart)."""
    by = {k: [r for r in results if r["receiver"] == k] for k in receivers}
    bird = {r["run"]: r for r in by.get("bird", [])}
    rows = []
    for k in receivers:
        rs = by[k]
        if not rs:
            continue
        row = {"receiver": k, "runs": len(rs)}
        for m in ("wall_s", "cpu_s", "peak_rss_bytes", "bytes_per_route", "source_cpu_s",
                  "source_write_s"):
            row[m] = median([r[m] for r in rs])
        for m in ("wall_s", "cpu_s", "bytes_per_route"):
            ratios = [r[m] / bird[r["run"]][m] for r in rs
                      if r["run"] in bird and bird[r["run"]][m] > 0]
            row[m + "_vs_bird"] = median(ratios)
        rows.append(row)
    return rows


def table_text(rows):
    head = ["receiver", "runs", "wall s", "CPU s", "peak RSS MiB", "B/route",
            "wall/BIRD", "CPU/BIRD", "B/route/BIRD", "source CPU s", "source write s"]
    lines = [head]
    for r in rows:
        lines.append([NAMES[r["receiver"]], str(r["runs"]), fmt(r["wall_s"], ".2f"),
                      fmt(r["cpu_s"], ".2f"),
                      fmt(None if r["peak_rss_bytes"] is None else r["peak_rss_bytes"] / 2**20, ".0f"),
                      fmt(r["bytes_per_route"], ".0f"), fmt(r["wall_s_vs_bird"], ".2f"),
                      fmt(r["cpu_s_vs_bird"], ".2f"), fmt(r["bytes_per_route_vs_bird"], ".2f"),
                      fmt(r["source_cpu_s"], ".3f"), fmt(r["source_write_s"], ".2f")])
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    out = []
    for j, l in enumerate(lines):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(l)))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def table_markdown(rows):
    out = ["| receiver | wall s | CPU s | peak RSS MiB | bytes/route | wall vs BIRD | CPU vs BIRD "
           "| bytes/route vs BIRD | source CPU s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| " + " | ".join([
            NAMES[r["receiver"]], fmt(r["wall_s"], ".2f"), fmt(r["cpu_s"], ".2f"),
            fmt(None if r["peak_rss_bytes"] is None else r["peak_rss_bytes"] / 2**20, ".0f"),
            fmt(r["bytes_per_route"], ".0f"), fmt(r["wall_s_vs_bird"], ".2f"),
            fmt(r["cpu_s_vs_bird"], ".2f"), fmt(r["bytes_per_route_vs_bird"], ".2f"),
            fmt(r["source_cpu_s"], ".3f")]) + " |")
    return "\n".join(out)


def targets(rows):
    """The issue's targets for tandemd, checked on the per-run ratios' medians."""
    t = next((r for r in rows if r["receiver"] == "tandemd"), None)
    if not t or t["wall_s_vs_bird"] is None:
        return []
    checks = [
        ("wall time at least 1.5x faster than BIRD", t["wall_s_vs_bird"] <= 1 / 1.5,
         f"{1 / t['wall_s_vs_bird']:.2f}x faster"),
        ("CPU seconds at most BIRD's", t["cpu_s_vs_bird"] <= 1.0, f"{t['cpu_s_vs_bird']:.2f}x"),
        ("bytes per route at most BIRD's", t["bytes_per_route_vs_bird"] <= 1.0,
         f"{t['bytes_per_route_vs_bird']:.2f}x"),
    ]
    return [f"{'PASS' if ok else 'FAIL'}  tandemd {what} ({how})" for what, ok, how in checks]


def environment(args, versions):
    load = open("/proc/loadavg").read().split()[:3]
    return {
        "command": " ".join([os.path.relpath(sys.argv[0], REPO) if sys.argv[0].startswith(REPO)
                             else sys.argv[0]] + sys.argv[1:]),
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "loadavg_at_start": " ".join(load),
        "versions": versions,
    }


# ---------------------------------------------------------------- main


def interrupted(*_):
    raise KeyboardInterrupt


def cleanup_all(*_):
    for ns in list(Netns.live):
        Netns.delete(ns)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--receivers", default=",".join(ALL_RECEIVERS),
                    help="comma-separated subset of " + ",".join(ALL_RECEIVERS))
    ap.add_argument("--runs", type=int, default=3, help="runs per receiver (default 3)")
    ap.add_argument("--prefixes", type=int, default=None,
                    help="synthetic table size (default 1000000); with --table: at most N")
    ap.add_argument("--table", help="bgpdump -m text (plain or .gz): one peer's real table")
    ap.add_argument("--table-peer", help="which peer of --table (default: most prefixes)")
    ap.add_argument("--seed", type=int, default=1, help="synthetic table seed (default 1)")
    ap.add_argument("--blaster", help="bgp_blaster binary (default: BUILD/bench/ingest/bgp_blaster)")
    ap.add_argument("--tandemd", help="tandemd binary (default: BUILD/apps/tandemd/tandemd)")
    ap.add_argument("--timeout", type=float, default=600, help="per measurement (default 600 s)")
    ap.add_argument("--json", help="write every measurement and the summary here")
    ap.add_argument("--markdown", action="store_true", help="also print the summary as markdown")
    ap.add_argument("--keep", action="store_true", help="keep configs and logs of each run")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose

    if os.geteuid() != 0:
        sys.exit("run.py: must run as root (it creates network namespaces)")
    if not shutil.which("ip"):
        sys.exit("run.py: `ip` (iproute2) not found")
    if not os.path.isabs(args.build) and not os.path.isdir(args.build):
        args.build = os.path.join(REPO, args.build)  # `make bench` passes "build"
    args.build = os.path.abspath(args.build)
    args.blaster = args.blaster or os.path.join(args.build, "bench", "ingest", "bgp_blaster")
    if not os.access(args.blaster, os.X_OK):
        sys.exit(f"run.py: {args.blaster} not found: build it first "
                 f"(cmake --build {args.build} --target bgp_blaster)")
    src = ["--seed", str(args.seed)]
    if args.table:
        if not os.path.exists(args.table):
            sys.exit(f"run.py: {args.table} not found")
        src += ["--table", os.path.abspath(args.table)]
        if args.table_peer:
            src += ["--table-peer", args.table_peer]
    if args.prefixes:
        src += ["--prefixes", str(args.prefixes)]
    args.source_args = src

    wanted = [r.strip() for r in args.receivers.split(",") if r.strip()]
    for r in wanted:
        if r not in RECEIVERS:
            sys.exit(f"run.py: unknown receiver {r} (choose from {', '.join(ALL_RECEIVERS)})")
    receivers = []
    for r in wanted:
        try:
            RECEIVERS[r].available(args)
            receivers.append(r)
        except Skip as e:
            log(f"skipping {NAMES[r]}: {e}")
    if not receivers:
        sys.exit("run.py: no receiver to run")

    signal.signal(signal.SIGTERM, interrupted)
    versions = {}
    for r in receivers:
        try:
            versions[r] = RECEIVERS[r].version(args)
        except (OSError, subprocess.SubprocessError):
            versions[r] = "?"
    env = environment(args, versions)
    what = (f"{args.table} ({'all prefixes of one peer' if not args.prefixes else f'{args.prefixes} prefixes'})"
            if args.table else f"synthetic, {args.prefixes or 1000000} prefixes, seed {args.seed}")
    log(f"ingest: {what}; receivers {', '.join(NAMES[r] for r in receivers)}; {args.runs} run(s)")

    results, failures = [], []
    try:
        for run in range(1, args.runs + 1):
            for r in receivers:
                log(f"run {run}/{args.runs}: {NAMES[r]} ...")
                try:
                    res = measure(args, r, run)
                except Failed as e:
                    log(f"  FAILED: {e}")
                    failures.append({"receiver": r, "run": run, "error": str(e)})
                    continue
                results.append(res)
                log(f"  {res['prefixes']} prefixes ({res['attribute_sets']} attribute sets): "
                    f"{res['wall_s']:.2f} s, CPU {res['cpu_s']:.2f} s, "
                    f"peak RSS {res['peak_rss_bytes'] / 2**20:.0f} MiB, "
                    f"{res['bytes_per_route']:.0f} B/route; source CPU {res['source_cpu_s']:.3f} s,"
                    f" wrote all in {res['source_write_s']:.2f} s")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        cleanup_all()

    rows = summarize(results, receivers)
    if not rows:
        sys.exit("run.py: no successful measurement")
    n = results[0]["prefixes"]
    sets = results[0]["attribute_sets"]
    print()
    print(f"Ingest of {n} IPv4 prefixes in {sets} attribute sets ({what}); "
          f"medians of {args.runs} run(s); ratios: median of per-run ratios vs BIRD")
    print(table_text(rows))
    print("Each run measures all receivers back to back: compare within a run (this VM "
          "varies by up to ±25% between runs).")
    for line in targets(rows):
        print(line)
    if failures:
        print(f"{len(failures)} measurement(s) failed: " +
              "; ".join(f"{NAMES[f['receiver']]} run {f['run']}: {f['error']}" for f in failures))
    if args.markdown:
        print()
        print(table_markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "table": what, "summary": rows, "runs": results,
                       "failures": failures}, f, indent=2)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
