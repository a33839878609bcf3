#!/usr/bin/env python3
"""bench/chaos (issue 7, item 6): N failovers of random kind at random moments while
the peers churn routes, judged by the peers' own view. docs/bench/chaos.md explains the
method and holds the results.

Lab: test_switchover's Pair (tests/integration/lab): node A primary, node B standby,
the pair's heartbeat (BFD 10 ms x 5, --heartbeat-mult; the takeover after twice that of
channel silence, --silence-mult) and the crash guard as in test_takeover; FRR (iBGP,
--prefixes IPv4 /27s) and BIRD (eBGP, 300 /32s) peer with the VIPs over IPv4 and IPv6
(4 sessions). A churn thread keeps changing routes all the time: FRR adds and withdraws
/24s and /48s (`vtysh -f`), BIRD enables and disables small static protocols (/32s,
/64s); what it applied is the expected state.

Each round picks (seeded) a kind and a moment:
  kind   kill        SIGKILL of the primary (the channel closes: process death)
         stop        SIGSTOP of the primary (heartbeat + channel silence: a hang);
                     SIGCONT after the takeover: it must fence and restart as standby
         link        the primary's eth0 down (cut off); up again after the takeover
         switchover  `tandemctl ha switchover` on the primary (planned)
  moment steady      a random delay (0.1-2 s) into the churn
         transfer    during a bulk transfer: frr-batch (FRR adds or withdraws a batch
                     of --batch prefixes in one `vtysh -f`), bird-refresh (BIRD asks
                     for tandem's full table: ROUTE-REFRESH) or frr-refresh (FRR sends
                     its full table again: `clear bgp ... soft out`); the failure is
                     injected once the transfer is seen running (counters polled), at
                     a random point of its expected duration
After the failure: wait for the new primary, let the old one come back as the standby
(after SIGKILL it is started again with [ha] role = "primary", as a supervisor would:
it must find the new primary and start as its standby), wait until
every session is in sync on both nodes and the heartbeat is up; then pause the churn
and check:
  - session resets: FRR's connectionsEstablished/Dropped, notifications and
    established time, BIRD's state and "since" of the 4 sessions to the VIPs; a reset
    is "explained" when tandemd took that session over by the graceful-restart path;
  - withdrawals at the peers: BIRD logs every route it removes (debug {routes}), FRR
    every withdrawn prefix (debug bgp updates in); a removal of a route the churn never
    withdrew is a withdrawal; FRR's route counts from tandem are also sampled every
    ~0.1 s against the floor of routes the churn never touches;
  - routes: BIRD's and FRR's routes from tandem and the new primary's RIB per peer equal
    exactly the expected state (no stale route left); the standby's digests equal the
    primary's;
  - the takeover's outcome and times from tandemd's log: detection = failure injected ->
    "taking over" logged (ms resolution), takeover = decision -> every session live
    (tandemd's own figure in us: the rebuilt sockets left repair mode and each sent its
    first byte, a KEEPALIVE; plus the graceful-restart RSTs).

Exit status: 0 when no session was reset except by a logged graceful-restart takeover,
no route was lost, extra or withdrawn, every steady-state failure was taken over
non-stop and every round completed; 1 otherwise; 77 when it cannot run here.

    sudo python3 bench/chaos/run.py --build build --failovers 30 --seed 1 --markdown out.md
"""

import argparse
import datetime
import fcntl
import ipaddress
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import test_switchover as sw  # noqa: E402  (Pair reads sw.N_FRR when it is built)
from lab import Lab, in_netns, log  # noqa: E402
from lab.bfdd import bfdd_binary  # noqa: E402
from lab.bird import bird_binaries  # noqa: E402
from lab.frr import frr_binaries  # noqa: E402
from lab.tandem import TandemNode, log_time, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, TANDEM, TANDEM_NETWORKS  # noqa: E402
from lab.util import LabError, Skip, require_binary, require_root, run  # noqa: E402
from test_replication import digest_diff, digests, ha, sessions_in_sync  # noqa: E402
from test_takeover import HEARTBEAT  # noqa: E402

KINDS = ("kill", "stop", "link", "switchover")
TRANSFERS = ("frr-batch", "bird-refresh", "frr-refresh")
N_SESSIONS = 4
T4, T6 = TANDEM_NETWORKS  # tandemd's own networks, advertised to both peers


def norm(p):
    return str(ipaddress.ip_network(p, strict=False))


def v4_range(first, plen, n):
    base, step = int(ipaddress.IPv4Address(first)), 1 << (32 - plen)
    return [f"{ipaddress.IPv4Address(base + i * step)}/{plen}" for i in range(n)]


# Route spaces (lab/topology.py: FRR 10.64.0.0/10 and 2001:db8:1000::/36 hold the table
# from 10.64.0.0 up; BIRD 10.200.0.0/16, 2001:db8:2000::/36 hold its 300 /32s from
# 10.200.0.0). The churn uses other parts, so the table is never touched by it.
FRR_CHURN_V4 = v4_range("100.64.0.0", 24, 4096)                 # 100.64.0.0 - 100.79.255.0
FRR_CHURN_V6 = [norm(f"2001:db8:1f{i:02x}::/48") for i in range(256)]
BATCH_FIRST = "100.80.0.0"                                       # --batch /27s from here
BIRD_CHURN = {f"chb4_{p}": [f"10.200.{128 + p}.{i}/32" for i in range(50)] for p in range(6)}
BIRD_CHURN.update({f"chb6_{p}": [norm(f"2001:db8:28{p:02x}:{i:x}::/64") for i in range(20)] for p in range(4)})
BIRD_STABLE_V4 = [f"10.200.{i // 256}.{i % 256}/32" for i in range(sw.N_BIRD_V4)]  # Pair's st4


def pct(xs, q):
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(q / 100.0 * len(s)) - 1)]


def fmt(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


def set_link(node, up, dev="eth0"):
    """ip link set DEV up/down from here (SIOCSIFFLAGS on a socket of the node's
    namespace): the failure's time is known to the microsecond, no `ip` process."""
    with in_netns(node.ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", dev.encode(), 0))  # SIOCGIFFLAGS
        flags = struct.unpack("16sH22x", ifr)[1]
        flags = (flags | 1) if up else (flags & ~1)  # IFF_UP
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", dev.encode(), flags))  # SIOCSIFFLAGS
    finally:
        s.close()


def listener_free(node, port=179):
    """True when a SO_REUSEADDR listener on *:port (v4 and v6) can be bound in the node."""
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        with in_netns(node.ns):
            s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


# -- the peers -------------------------------------------------------------------------


def frr_apply(frr, lines, tag):
    """`vtysh -f` with a file of our own (FrrRouter.configure shares one file)."""
    path = os.path.join(frr.dir, f"chaos-{tag}.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    cp = run([frr.bins["vtysh"], "--vty_socket", frr.dir, "-f", path], timeout=600, check=False)
    os.unlink(path)
    if cp.returncode != 0:
        raise LabError(f"vtysh -f ({tag}): rc={cp.returncode}: {cp.stdout[-500:]} {cp.stderr[-500:]}")


def frr_network_lines(add4=(), del4=(), add6=(), del6=()):
    lines = [f"router bgp {FRR.asn}"]
    for af, add, rm in (("ipv4", add4, del4), ("ipv6", add6, del6)):
        if add or rm:
            lines.append(f" address-family {af} unicast")
            lines += [f"  network {p}" for p in add] + [f"  no network {p}" for p in rm]
            lines.append(" exit-address-family")
    return lines


class BirdCtl:
    """BIRD's control socket spoken directly: a counter poll costs ~1 ms, not a birdc."""

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
                    raise LabError("BIRD closed its control socket")
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode(errors="replace")
            lines.append(line)
            if len(line) >= 5 and line[:4].isdigit() and line[4] == " ":
                return "\n".join(lines)

    def import_stats(self, proto="tandem4"):
        """(imported routes, import updates received + import withdraws received)."""
        self.sock.sendall(f"show protocols all {proto}\n".encode())
        out = self._reply()
        imp = re.search(r"Routes:\s+(\d+) imported", out)
        upd = re.search(r"Import updates:\s+(\d+)", out)
        wd = re.search(r"Import withdraws:\s+(\d+)", out)
        return (int(imp.group(1)) if imp else 0,
                (int(upd.group(1)) if upd else 0) + (int(wd.group(1)) if wd else 0))


def bird_prefixes(bird, proto):
    out = bird.birdc(f"show route protocol {proto}", timeout=300)
    return {norm(m) if ":" in m else m for m in re.findall(r"^(\S+/\d+)\s", out, re.M)}


def bird_gr_active(bird):
    return any(bird.neighbor_restarting(p) for p in ("tandem4", "tandem6"))


def frr_routes(frr, af, vip):
    """{prefix: stale?} of the routes FRR holds from tandem (the VIP)."""
    d = frr.vtysh_json(f"show bgp {af} unicast neighbors {vip} routes json", timeout=120)
    out = {}
    for pfx, paths in (d.get("routes") or {}).items():
        out[norm(pfx) if ":" in pfx else pfx] = any(p.get("stale") for p in paths)
    return out


def frr_counts(frr):
    r = frr.vtysh_json_multi(["show bgp ipv4 unicast summary json", "show bgp ipv6 unicast summary json"])
    return (int(r[0].get("peers", {}).get(TANDEM.v4, {}).get("pfxRcd", -1)),
            int(r[1].get("peers", {}).get(TANDEM.v6, {}).get("pfxRcd", -1)))


# -- churn -----------------------------------------------------------------------------


class Churn:
    """Changes the peers' routes continuously (one change at a time) and keeps what it
    applied: the expected state, and each prefix's history of (time, "add"/"del") to
    tell a withdrawal it caused from one it did not."""

    def __init__(self, frr, bird, seed, interval, batch):
        self.frr, self.bird, self.interval = frr, bird, interval
        self.rng = random.Random(f"{seed}-churn")
        self.v4, self.v6, self.batch, self.bird_on = set(), set(), set(), set()
        self.batch_pool = v4_range(BATCH_FIRST, 27, batch)
        self.history = {}
        self.lock = threading.Lock()       # one change at a time
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.ops = 0
        self.errors = []
        self._tag = itertools.count()
        self._t = threading.Thread(target=self._run, name="churn", daemon=True)

    def start(self):
        self._t.start()

    def _note(self, prefixes, op, t):
        for p in prefixes:
            self.history.setdefault(p, []).append((t, op))

    def _frr(self, add4=(), del4=(), add6=(), del6=()):
        t = time.time()
        self._note(list(add4) + list(add6), "add", t)
        self._note(list(del4) + list(del6), "del", t)
        frr_apply(self.frr, frr_network_lines(add4, del4, add6, del6), f"churn{next(self._tag)}")
        self.v4 |= set(add4)
        self.v4 -= set(del4)
        self.v6 |= set(add6)
        self.v6 -= set(del6)

    def _bird(self, proto, enable):
        t = time.time()
        self._note(BIRD_CHURN[proto], "add" if enable else "del", t)
        out = self.bird.birdc(f"{'enable' if enable else 'disable'} {proto}")
        if proto not in out:
            raise LabError(f"birdc {'enable' if enable else 'disable'} {proto}: {out}")
        (self.bird_on.add if enable else self.bird_on.discard)(proto)

    def step(self):
        r = self.rng
        if r.random() < 0.15:
            proto = r.choice(sorted(BIRD_CHURN))
            self._bird(proto, proto not in self.bird_on)
            return
        v6 = r.random() < 0.25
        pool, present = (FRR_CHURN_V6, self.v6) if v6 else (FRR_CHURN_V4, self.v4)
        k = r.randint(1, 20)
        # Keep between a quarter and three quarters of the pool announced.
        grow = len(present) < len(pool) // 4 or (len(present) < 3 * len(pool) // 4 and r.random() < 0.5)
        if grow:
            pick = r.sample(sorted(set(pool) - present), k)
            self._frr(add6=pick) if v6 else self._frr(add4=pick)
        elif present:
            pick = r.sample(sorted(present), min(k, len(present)))
            self._frr(del6=pick) if v6 else self._frr(del4=pick)

    def _run(self):
        while not self.stopped.is_set():
            if not self.paused.is_set():
                with self.lock:
                    if not self.paused.is_set():
                        try:
                            self.step()
                            self.ops += 1
                        except Exception as e:  # noqa: BLE001 - reported, fails the run
                            self.errors.append(f"{time.strftime('%H:%M:%S')} {type(e).__name__}: {e}")
            time.sleep(self.rng.uniform(0.3, 1.7) * self.interval)

    def pause(self):
        """Returns once no change is under way (an in-flight one completes)."""
        self.paused.set()
        with self.lock:
            pass

    def resume(self):
        self.paused.clear()

    def stop(self):
        self.stopped.set()
        self.pause()

    def batch_transfer(self):
        """A bulk change in its own thread: FRR announces the whole batch pool in one
        `vtysh -f`, or withdraws it when announced. Returns (thread, size, adding)."""
        adding = not self.batch
        pool = list(self.batch_pool)

        def go():
            with self.lock:
                t = time.time()
                self._note(pool, "add" if adding else "del", t)
                try:
                    frr_apply(self.frr, frr_network_lines(add4=pool) if adding else frr_network_lines(del4=pool),
                              f"batch{next(self._tag)}")
                    self.batch = set(pool) if adding else set()
                except Exception as e:  # noqa: BLE001
                    self.errors.append(f"batch: {type(e).__name__}: {e}")
        th = threading.Thread(target=go, name="batch", daemon=True)
        th.start()
        return th, len(pool), adding

    def expected(self, base):
        """What each view must hold, from what the churn applied (call while paused)."""
        bird4 = set().union(*[BIRD_CHURN[p] for p in self.bird_on if p.startswith("chb4")])
        bird6 = set().union(*[BIRD_CHURN[p] for p in self.bird_on if p.startswith("chb6")])
        frr4 = base | self.v4 | self.batch
        return {
            "BIRD tandem4": frr4 | {T4}, "BIRD tandem6": set(self.v6) | {T6},
            "FRR v4": set(BIRD_STABLE_V4) | bird4 | {T4}, "FRR v6": bird6 | {T6},
            "RIB v4 from FRR": frr4, "RIB v4 from BIRD": set(BIRD_STABLE_V4) | bird4, "RIB v4 local": {T4},
            "RIB v6 from FRR": set(self.v6), "RIB v6 from BIRD": bird6, "RIB v6 local": {T6},
        }

    def withdrawn_by_churn(self, prefix, t, window=10.0):
        """True when the churn had withdrawn `prefix` by time t: its last change before
        t is a withdrawal, or one happened less than `window` s before t (a withdrawal
        can reach a peer after the churn announced the prefix again)."""
        past = [(ts, op) for ts, op in self.history.get(prefix, ()) if ts <= t + 0.01]
        return bool(past) and (past[-1][1] == "del" or any(op == "del" and ts >= t - window for ts, op in past))


class FloorSampler:
    """FRR's route counts from tandem (pfxRcd, v4 and v6) every ~0.1 s: a count below
    the routes the churn never touches is a withdrawal (or a cleared table)."""

    def __init__(self, frr, floor):
        self.frr, self.floor = frr, floor
        self.below, self.samples, self.low = [], 0, None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, name="floor", daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                cur = frr_counts(self.frr)
            except Exception:  # noqa: BLE001 - a vtysh hiccup is not a sample
                cur = None
            if cur and min(cur) >= 0:  # -1: no such peer in the summary (not a count)
                self.samples += 1
                self.low = cur if self.low is None else tuple(min(a, b) for a, b in zip(self.low, cur))
                if cur[0] < self.floor[0] or cur[1] < self.floor[1]:
                    self.below.append((time.time(), cur))
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._t.join(10)


# -- logs ------------------------------------------------------------------------------

_BIRD_RM = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) <TRACE> (tandem[46])\.ipv[46] > removed\S*"
                      r"(?: \[[^\]]*\])? (\S+)", re.M)
_FRR_WD = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}) .*? (\S+?)\([^)]*\) rcvd UPDATE about (\S+) "
                     r".*-- withdrawn", re.M)


def read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def local_ts(s, f):
    return datetime.datetime.strptime(s, f).timestamp()  # the peers log local time


def peer_withdrawals(churn, bird_log, bird_off, frr_log, frr_off):
    """Routes from tandem the peers removed that the churn did not withdraw."""
    bad = []
    for ts, proto, pfx in _BIRD_RM.findall(read_from(bird_log, bird_off)):
        p = norm(pfx) if ":" in pfx else pfx
        t = local_ts(ts, "%Y-%m-%d %H:%M:%S.%f")
        if not churn.withdrawn_by_churn(p, t):
            bad.append(f"BIRD {proto} removed {p} at {ts}")
    for ts, peer, pfx in _FRR_WD.findall(read_from(frr_log, frr_off)):
        if peer not in (TANDEM.v4, TANDEM.v6):
            continue
        p = norm(pfx) if ":" in pfx else pfx
        t = local_ts(ts, "%Y/%m/%d %H:%M:%S.%f")
        if not churn.withdrawn_by_churn(p, t):
            bad.append(f"FRR got {p} withdrawn at {ts}")
    return bad


_TAKING = re.compile(r"takeover: (.*): taking over (\d+) sessions in term (\d+)")
_OUTCOME = re.compile(r"takeover: (\d+) sessions non-stop, (\d+) by graceful restart; (\d+) us after the decision "
                      r"\(probes (\d+) us\)")
_GR_PATH = re.compile(r"takeover: session (\S+): graceful-restart path: (.*)")
_PENDING = re.compile(r"takeover: session (\S+): non-stop pending: the peer sent (\d+) bytes")
_CONFIRMED = re.compile(r"takeover: session (\S+): non-stop confirmed")
_SO_LIVE = re.compile(r"switchover: (\d+) of (\d+) sessions live (\d+) us after the commit arrived")

# The peers' view keys (sw.peers_view) -> tandemd's peer address of that session.
VIEW_PEER = {f"frr {TANDEM.v4}": FRR.v4, f"frr {TANDEM.v4} established at": FRR.v4,
             f"frr {TANDEM.v6}": FRR.v6, f"frr {TANDEM.v6} established at": FRR.v6,
             "bird tandem4": BIRD.v4, "bird tandem6": BIRD.v6}


def view_changes(before, after):
    out = []
    for k in before:
        if k.endswith("established at"):
            same = all(x is not None and y is not None and abs(x - y) <= 1 for x, y in zip(before[k], after[k]))
        else:
            same = before[k] == after[k]
        if not same:
            out.append((k, before[k], after[k]))
    return out


# -- the run ---------------------------------------------------------------------------


class Chaos:
    def __init__(self, args, lab, tandemctl):
        self.args = args
        self.rng = random.Random(args.seed)
        sw.N_FRR = args.prefixes
        log(f"building the pair: FRR {args.prefixes} prefixes, BIRD {sw.N_BIRD_V4}, heartbeat 10 ms x "
            f"{args.heartbeat_mult}, takeover after {args.silence_mult}x that of channel silence")
        heartbeat = dict(HEARTBEAT, heartbeat_detect_mult=args.heartbeat_mult,
                         takeover_silence_mult=args.silence_mult, hold_acks=not args.no_hold_acks)
        if args.no_hold_acks:
            log("the ACK hold is off ([ha] hold_acks = false)")
        self.pair = pair = sw.Pair(args, lab, tandemctl, ha_extra=heartbeat)
        self.frr, self.bird = pair.frr, pair.bird
        self.base = set(pair.v4[:args.prefixes])
        # BIRD: the churn's static protocols (disabled) and a trace of every route
        # it imports or removes from tandem; FRR: every withdrawal it receives.
        for name, pfx in BIRD_CHURN.items():
            self.bird.add_static(name, pfx, enabled=False)
        for p in self.bird.peers:
            p["extra"].append("debug { routes };")
        view0 = sw.peers_view(self.frr, self.bird)
        self.bird.reconfigure()
        self.frr.configure(["log stdout debugging"])
        self.frr.vtysh("debug bgp updates in")
        time.sleep(1.0)
        changed = view_changes(view0, sw.peers_view(self.frr, self.bird))
        if changed:
            raise LabError(f"configuring the peers' traces reset a session: {changed}")
        # A link down flushes the node's IPv6 addresses unless told otherwise; a host's
        # network configuration would restore them, here they are simply kept (else
        # the node's IPv6 probes fail after its first link failure: ENETUNREACH).
        for node in (pair.a, pair.b):
            node.node.exec(["sysctl", "-q", "-w", "net.ipv6.conf.eth0.keep_addr_on_down=1"])
        self.bird_log = self.bird.proc.logfile
        self.frr_log = os.path.join(self.frr.dir, "bgpd.log")
        self.birdctl = BirdCtl(self.bird.ctl)
        self.churn = Churn(self.frr, self.bird, args.seed, args.churn_interval, args.batch)
        self.floor = FloorSampler(self.frr, (len(BIRD_STABLE_V4) + 1, 1))
        self.nodes = {"A": pair.a, "B": pair.b}
        self.rounds = []
        self.repairs = []
        self.trial = {}

    def primary(self):
        for name, n in self.nodes.items():
            try:
                if n.alive() and ha(n).get("role") == "primary":
                    return name
            except LabError:
                pass
        return None

    # -- settling and checking -----------------------------------------------------------

    def views(self, primary, full):
        """{view: set of prefixes (or a count for a big table)} as the peers and the
        primary hold them now, plus FRR's stale routes."""
        v = {}
        fr4, fr6 = frr_routes(self.frr, "ipv4", TANDEM.v4), frr_routes(self.frr, "ipv6", TANDEM.v6)
        v["FRR v4"], v["FRR v6"] = set(fr4), set(fr6)
        stale = [p for p, s in list(fr4.items()) + list(fr6.items()) if s]
        if full:
            v["BIRD tandem4"] = bird_prefixes(self.bird, "tandem4")
        else:
            v["BIRD tandem4"] = self.birdctl.import_stats("tandem4")[0]
        v["BIRD tandem6"] = bird_prefixes(self.bird, "tandem6")
        for fam in ("v4", "v6"):
            rib = primary.rib_prefixes("ipv6" if fam == "v6" else "ipv4") if (full or fam == "v6") else None
            frr_addr, bird_addr = (FRR.v4, BIRD.v4) if fam == "v4" else (FRR.v6, BIRD.v6)
            if rib is None:  # a big table: FRR's part by count, BIRD's prefix by prefix
                cnt = TandemNode.prefix_counters(primary.neighbor(FRR.v4)).get("ipv4-unicast", {})
                v["RIB v4 from FRR"] = int(cnt.get("received", -1))
                v["RIB v4 from BIRD"] = {p["prefix"] for p in primary.rib_paths("ipv4", peer=BIRD.v4)}
                continue
            norm_rib = {k: {norm(p) if ":" in p else p for p in s} for k, s in rib.items()}
            v[f"RIB {fam} from FRR"] = norm_rib.get(frr_addr, set())
            v[f"RIB {fam} from BIRD"] = norm_rib.get(bird_addr, set())
            v[f"RIB {fam} local"] = norm_rib.get("", set())
        return v, stale

    def diffs(self, primary, full):
        exp = self.churn.expected(self.base)
        got, stale = self.views(primary, full)
        out = {}
        for k, e in exp.items():
            g = got.get(k)
            if g is None:
                continue
            if isinstance(g, int):
                if g != len(e):
                    out[k] = (max(0, len(e) - g), max(0, g - len(e)), [f"count {g}, expected {len(e)}"])
            elif g != e:
                miss, extra = sorted(e - g), sorted(g - e)
                out[k] = (len(miss), len(extra), miss[:3] + extra[:3])
        if stale:
            out["FRR stale"] = (0, len(stale), stale[:3])
        if bird_gr_active(self.bird):
            out["BIRD helper"] = (0, 0, ["BIRD still in graceful-restart helper mode"])
        return out

    def settle(self, primary, timeout):
        """Waits (churn paused) until every view holds exactly the expected routes;
        returns (seconds, the last differences)."""
        full = self.args.prefixes <= self.args.full_check_limit
        # Listing 100,000s of routes from every view is heavy for 2 cores (it once
        # starved the primary into a takeover): cheap counts first, the full
        # comparison only once they agree, and less often for a big table.
        pause = 0.5 if self.args.prefixes <= 50000 else 2.0
        t0 = time.monotonic()
        d = {}
        while True:
            last = time.monotonic() - t0 >= timeout
            try:
                if last or self.counts_agree(primary):
                    d = self.diffs(primary, full)
                    if not d:
                        break
                else:
                    d = {"counts": (0, 0, ["route counts differ from the expected ones"])}
            except (LabError, ValueError) as e:
                d = {"error": (0, 0, [str(e)[:300]])}
            if last:
                break
            time.sleep(pause)
        return time.monotonic() - t0, d

    def counts_agree(self, primary):
        """The peers' and the primary's route counts equal the expected state's."""
        exp = self.churn.expected(self.base)
        if self.birdctl.import_stats("tandem4")[0] != len(exp["BIRD tandem4"]) or \
                self.birdctl.import_stats("tandem6")[0] != len(exp["BIRD tandem6"]):
            return False
        if frr_counts(self.frr) != (len(exp["FRR v4"]), len(exp["FRR v6"])):
            return False
        cnt = TandemNode.prefix_counters(primary.neighbor(FRR.v4)).get("ipv4-unicast", {})
        return int(cnt.get("received", -1)) == len(exp["RIB v4 from FRR"])

    def mirrored(self, prim, stby, timeout):
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < timeout:
            try:
                if sessions_in_sync(prim, N_SESSIONS) and sessions_in_sync(stby, N_SESSIONS):
                    last = digest_diff(digests(prim), digests(stby))
                    if not last:
                        return True, None
            except LabError as e:
                last = str(e)[:300]
            time.sleep(0.3)
        return False, last

    def wait(self, pred, timeout, interval=0.05):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                v = pred()
                if v:
                    return v
            except (LabError, OSError, ValueError, KeyError):
                pass
            time.sleep(interval)
        return None

    def standby_in_sync(self, prim, stby):
        return (ha(stby).get("role") == "standby" and sessions_in_sync(prim, N_SESSIONS)
                and sessions_in_sync(stby, N_SESSIONS) and ha(prim).get("heartbeat") == "up")

    # -- transfers -------------------------------------------------------------------------

    def measure_trials(self, prim):
        """How long a full-table transfer takes each way (to place failures inside one)."""
        n = self.birdctl.import_stats("tandem4")[0]
        c0 = self.birdctl.import_stats("tandem4")[1]
        t0 = time.monotonic()
        self.bird.birdc("reload in tandem4")
        while self.birdctl.import_stats("tandem4")[1] - c0 < n and time.monotonic() - t0 < 60:
            time.sleep(0.002)
        self.trial["bird-refresh"] = time.monotonic() - t0
        b0 = self.frr_inbound(prim)
        t0 = time.monotonic()
        self.frr.vtysh(f"clear bgp ipv4 unicast {TANDEM.v4} soft out")
        last, t_last = b0, time.monotonic()
        while time.monotonic() - t_last < 0.5 and time.monotonic() - t0 < 60:
            cur = self.frr_inbound(prim)
            if cur != last:
                last, t_last = cur, time.monotonic()
        self.trial["frr-refresh"] = t_last - t0
        self.trial["frr-refresh bytes"] = last - b0
        log(f"trial transfers: BIRD's ROUTE-REFRESH of {n} routes took {self.trial['bird-refresh'] * 1000:.0f} ms; "
            f"FRR's soft out {self.trial['frr-refresh bytes']} bytes in {self.trial['frr-refresh'] * 1000:.0f} ms")

    def frr_inbound(self, prim):
        for s in ha(prim).get("sessions", []):
            if s.get("peer") == FRR.v4:
                return int(s.get("inbound_read", 0))
        return 0

    def start_transfer(self, what, prim):
        """Starts a bulk transfer, returns once it is seen running (a random part of its
        expected duration later): (thread or None, confirmed running at that point)."""
        rng = self.rng
        if what == "bird-refresh":
            n, c0 = self.birdctl.import_stats("tandem4")
            self.bird.birdc("reload in tandem4")
            if not self.wait(lambda: self.birdctl.import_stats("tandem4")[1] > c0, 5, 0.001):
                return None, False
            time.sleep(rng.uniform(0, 0.8) * self.trial["bird-refresh"])
            return None, self.birdctl.import_stats("tandem4")[1] - c0 < n
        if what == "frr-refresh":
            b0 = self.frr_inbound(prim)
            t0 = time.monotonic()
            self.frr.vtysh(f"clear bgp ipv4 unicast {TANDEM.v4} soft out")
            if not self.wait(lambda: self.frr_inbound(prim) > b0, 5, 0.001):
                return None, False
            rest = rng.uniform(0, 0.8) * self.trial["frr-refresh"] - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)
            return None, self.frr_inbound(prim) - b0 < self.trial["frr-refresh bytes"]
        # frr-batch: failure once BIRD sees the batch arrive (or leave).
        c0 = self.birdctl.import_stats("tandem4")[1]
        th, size, adding = self.churn.batch_transfer()
        if not self.wait(lambda: self.birdctl.import_stats("tandem4")[1] > c0, 120, 0.005):
            return th, False
        time.sleep(rng.uniform(0, 0.5))
        return th, self.birdctl.import_stats("tandem4")[1] - c0 < size

    # -- one round -------------------------------------------------------------------------

    def round(self, i):
        a = self.args
        rng = self.rng
        kind = a.kinds[rng.randrange(len(a.kinds))]
        moment = rng.choice(TRANSFERS) if rng.random() < a.transfer_share else rng.choice(("steady", "churn"))
        pname = self.primary()
        sname = "B" if pname == "A" else "A"
        prim, stby = self.nodes[pname], self.nodes[sname]
        r = {"round": i, "kind": kind, "moment": moment, "from": pname, "to": sname, "problems": [],
             "resets": [], "unexplained_resets": [], "withdrawals": [], "lost": 0, "extra": 0}
        log(f"--- round {i}: {kind} of {pname} ({moment})")
        before = sw.peers_view(self.frr, self.bird)
        offs = {n: node.log_offset() for n, node in self.nodes.items()}
        bird_off, frr_off = file_size(self.bird_log), file_size(self.frr_log)
        floor_mark = len(self.floor.below)

        batch_thread = None
        r["in_transfer"] = None
        if moment == "steady":  # converged: no route change in flight (keepalives only)
            self.churn.pause()
            time.sleep(rng.uniform(0.3, 2.0))
        elif moment == "churn":  # small changes flowing
            time.sleep(rng.uniform(0.1, 2.0))
        else:
            batch_thread, r["in_transfer"] = self.start_transfer(moment, prim)

        # -- the failure
        t_fail = time.time()
        if kind == "kill":
            prim.proc.send_signal(signal.SIGKILL)
        elif kind == "stop":
            prim.proc.send_signal(signal.SIGSTOP)
        elif kind == "link":
            set_link(prim.node, False)
        else:
            refusals = []
            for _ in range(10):
                cp = prim.ctl_run("ha", "switchover", timeout=30)
                if cp.returncode == 0:
                    break
                refusals.append((cp.stderr or cp.stdout).strip().splitlines()[-1:])
                time.sleep(0.5)
            r["refusals"] = refusals
            if cp.returncode != 0:
                r["outcome"] = "refused"
                r["problems"].append(f"switchover refused 10 times: {refusals[-1]}")
        survivor = stby

        if r.get("outcome") != "refused":
            if not self.wait(lambda: ha(survivor).get("role") == "primary", 15):
                r["problems"].append(f"{sname} did not become the primary within 15 s")
                r["outcome"] = "no takeover"
            else:
                self.read_outcome(r, survivor, offs[sname], t_fail, kind)
        if moment == "steady":
            self.churn.resume()

        # -- the old primary comes back as the standby
        if kind == "kill":
            if prim.proc.alive():
                prim.proc.popen.wait(5)
            # As a supervisor restarts it, with a configuration saying primary: it must find
            # the new primary and start as its standby (docs/ha.md, "Restarts").
            prim.tables["ha"]["role"] = "primary"
            off_start = prim.log_offset()
            prim.start(timeout=60)
            if r.get("outcome") not in ("no takeover", "refused") and not prim.log_lines(
                    r"replication: node \S+ is the standby", since=off_start):
                r["problems"].append(f"{pname}, started again with role = primary, did not start as the standby")
        elif kind == "stop":
            prim.proc.send_signal(signal.SIGCONT)
        elif kind == "link":
            if not self.wait(lambda: prim.log_lines(r"fencing: .*closed silently", since=offs[pname]), 10):
                r["problems"].append(f"{pname} (link down) did not fence itself within 10 s")
            set_link(prim.node, True)
        if kind in ("stop", "link") and r.get("outcome") not in ("no takeover",):
            if not self.wait(lambda: prim.log_lines(r"restarting as the standby", since=offs[pname]), 15):
                r["problems"].append(f"{pname} did not restart as the standby")
            if kind == "stop" and not prim.log_lines(r"fencing: .*closed silently", since=offs[pname]):
                r["problems"].append(f"{pname} woke up without fencing itself")
        if batch_thread:
            batch_thread.join(600)
        new_p, new_s = (survivor, prim) if r.get("outcome") not in ("refused", "no takeover") else (prim, stby)
        t0 = time.monotonic()
        if not self.wait(lambda: self.standby_in_sync(new_p, new_s), a.sync_timeout, 0.3):
            r["problems"].append(f"the standby not in sync (heartbeat up) within {a.sync_timeout} s")
        r["resync_s"] = time.monotonic() - t0

        # -- checks, churn paused
        self.churn.pause()
        r["settle_s"], d = self.settle(new_p, a.settle_timeout)
        for k, (miss, extra, ex) in d.items():
            r["lost"] += miss
            r["extra"] += extra
            r["problems"].append(f"{k}: {miss} missing, {extra} extra, e.g. {ex}")
        # Every takeover or switchover during the round beyond the one caused here (a
        # standby that took over from a primary that was only slow, say).
        taken = []
        for name, node in self.nodes.items():
            taken += [f"{name}: {ln.split('] ', 1)[-1][:160]}" for ln in
                      node.log_lines(r"takeover: .*: taking over|switchover: taking over", since=offs[name])]
        r["takeovers"] = len(taken)
        if len(taken) > (0 if r.get("outcome") == "refused" else 1):
            r["problems"].append(f"{len(taken)} takeovers during the round (1 caused here): {taken}")
        if d:
            r["diag"] = self.diagnose(new_p)
        ok, why = self.mirrored(new_p, new_s, 60)
        if not ok:
            r["problems"].append(f"standby not mirroring the primary: {str(why)[:300]}")
        if "nonstop" in r and kind != "switchover":
            self.read_pending(r, survivor, offs[sname])
        after = sw.peers_view(self.frr, self.bird)
        gr_peers = set(r.get("gr_peers", {}))
        reset = {}  # tandemd's peer address -> what changed in the peer's view of it
        for k, b, aft in view_changes(before, after):
            reset.setdefault(VIEW_PEER.get(k, k), []).append(f"{k}: {b} -> {aft}")
        for peer, what in sorted(reset.items()):
            r["resets"].append(f"{peer}: {'; '.join(what)}")
            if peer not in gr_peers:
                r["unexplained_resets"].append(f"{peer}: {'; '.join(what)}")
        for k, v in after.items():
            if not k.endswith("at") and "Established" not in str(v):
                r["problems"].append(f"{k} not Established: {v}")
                r["broken"] = f"{k} not Established"
        if r.get("outcome") in ("no takeover", "takeover?"):
            r["broken"] = "no takeover"
        elif not ok:
            r["broken"] = "the standby does not mirror the primary"
        r["withdrawals"] = peer_withdrawals(self.churn, self.bird_log, bird_off, self.frr_log, frr_off)
        r["withdrawals"] += [f"FRR's count from tandem fell to {c} (floor {self.floor.floor}) at "
                             f"{time.strftime('%H:%M:%S', time.localtime(t))}" for t, c in self.floor.below[floor_mark:]]
        if self.churn.errors:
            r["problems"] += [f"churn: {e}" for e in self.churn.errors]
            self.churn.errors.clear()
        self.churn.resume()
        self.rounds.append(r)
        log(f"round {i}: {self.summary_line(r)}")
        return r

    def repair(self, i):
        """--repair: after a round that left the lab broken (already a failure), both
        nodes start afresh (the one with the newer term as the primary) so that the
        rounds after it still measure something. What the peers see meanwhile belongs
        to no round: every round takes its offsets and views when it starts."""
        log(f"repairing the lab after round {i}: both tandemd started afresh")
        self.churn.pause()
        for n in self.nodes.values():
            if n.proc and n.alive():
                n.proc.send_signal(signal.SIGCONT)
                n.stop()
            set_link(n.node, True)
            # Sockets of a previous run on :179 that went through TCP_REPAIR have lost
            # SO_REUSEADDR and make a new listener fail (EADDRINUSE; see docs/bench/chaos.md):
            # destroyed, then wait until *:179 can be bound (TIME-WAIT may outlive ss -K).
            n.node.exec(["ss", "-K", "-tan", "( sport = :179 )"], check=False, quiet=True)
            if not self.wait(lambda: listener_free(n.node), 90, 1.0):
                raise LabError(f"repair: *:179 stays in use in {n.node.name}")

        def term(n):
            try:
                with open(n.tables["ha"]["epoch_file"]) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return 0
        prim = max(self.nodes.values(), key=term)
        stby = self.pair.b if prim is self.pair.a else self.pair.a
        prim.tables["ha"]["role"], stby.tables["ha"]["role"] = "primary", "standby"
        prim.start(timeout=60)
        self.frr.wait_established(TANDEM.v4, 120)
        self.frr.wait_established(TANDEM.v6, 120)
        self.bird.wait_established("tandem4", 120)
        self.bird.wait_established("tandem6", 120)
        stby.start(timeout=60)
        if not self.wait(lambda: self.standby_in_sync(prim, stby), 120, 0.3):
            raise LabError("repair: the standby is not in sync after a fresh start")
        s, d = self.settle(prim, self.args.settle_timeout)
        if d:
            raise LabError(f"repair: the routes do not converge after a fresh start: {d}")
        self.repairs.append(i)
        self.churn.resume()
        log(f"repaired (routes settled in {s:.1f} s)")

    def diagnose(self, prim):
        """What the BGP sockets and neighbour tables look like when routes are missing:
        printed and kept with the round (for a bug report)."""
        out = []
        for name, node in (("A", self.pair.a.node), ("B", self.pair.b.node), ("FRR", self.frr.node),
                           ("BIRD", self.bird.node)):
            out.append(f"## {name}: ss -tnie (port 179)")
            out.append(node.exec(["ss", "-tnie", "( sport = :179 or dport = :179 )"], check=False, quiet=True).stdout)
            out.append(f"## {name}: ip neigh")
            out.append(node.exec(["ip", "neigh"], check=False, quiet=True).stdout)
        try:
            out.append("## primary: tandemctl ha")
            out.append(json.dumps(ha(prim).get("sessions", []), indent=None))
        except LabError as e:
            out.append(str(e))
        text = "\n".join(out)
        log("diagnostics (routes missing):\n" + text)
        return text

    def read_outcome(self, r, survivor, off, t_fail, kind):
        if kind == "switchover":
            line = self.wait(lambda: survivor.log_lines(r"switchover: \d+ of \d+ sessions live", since=off), 5)
            if not line:
                r["problems"].append("no 'sessions live' line from the new primary")
                r["outcome"] = "switchover?"
                return
            m = _SO_LIVE.search(line[0])
            r["outcome"] = "switchover"
            r["nonstop"], r["fallback"] = int(m.group(1)), int(m.group(2)) - int(m.group(1))
            r["takeover_ms"] = int(m.group(3)) / 1000.0
            r["gr_peers"] = {}
            if r["fallback"]:
                r["problems"].append(f"switchover moved only {m.group(1)} of {m.group(2)} sessions")
            return
        line = self.wait(lambda: survivor.log_lines(r"takeover: \d+ sessions non-stop", since=off), 5)
        lines = survivor.log_lines(r"takeover:", since=off)
        taking = [ln for ln in lines if _TAKING.search(ln)]
        if not line or not taking:
            r["problems"].append("no takeover outcome in the new primary's log")
            r["outcome"] = "takeover?"
            return
        m = _OUTCOME.search(line[0])
        r["nonstop"], r["fallback"] = int(m.group(1)), int(m.group(2))
        r["takeover_ms"] = int(m.group(3)) / 1000.0
        r["probes_ms"] = int(m.group(4)) / 1000.0
        r["detect_ms"] = (log_time(taking[0]) - t_fail) * 1000.0
        r["why"] = _TAKING.search(taking[0]).group(1)
        r["gr_peers"] = {g.group(1): g.group(2)[:160] for g in map(_GR_PATH.search, lines) if g}
        r["outcome"] = "non-stop" if r["fallback"] == 0 else "fallback"
        for ln in survivor.log_lines(r"not taking over|opening the BGP listeners after the takeover", since=off):
            r["problems"].append(f"log: {ln.split('] ', 1)[-1][:200]}")

    @staticmethod
    def read_pending(r, survivor, off):
        """Sessions carried on at the held end while the peer had sent more ("non-stop
        pending"): confirmed once the peer sent those bytes again, or reset onto the
        graceful-restart path when it did not within [ha] takeover_resend_wait_ms."""
        lines = survivor.log_lines(r"takeover: session \S+: ", since=off)
        pending = {m.group(1) for m in map(_PENDING.search, lines) if m}
        r["pending"] = len(pending)
        r["confirmed"] = len({m.group(1) for m in map(_CONFIRMED.search, lines) if m} & pending)
        for g in map(_GR_PATH.search, lines):
            if g and g.group(1) in pending and g.group(1) not in r["gr_peers"]:
                r["gr_peers"][g.group(1)] = g.group(2)[:160]
                r["nonstop"] -= 1
                r["fallback"] += 1
                r["outcome"] = "fallback"

    @staticmethod
    def summary_line(r):
        s = f"{r.get('outcome')}"
        if "nonstop" in r:
            s += f" ({r['nonstop']} non-stop, {r['fallback']} GR)"
        if r.get("pending"):
            s += f", {r['pending']} pending the peer's resend ({r['confirmed']} confirmed)"
        if r.get("detect_ms") is not None:
            s += f", detected {r['detect_ms']:.1f} ms"
        if r.get("takeover_ms") is not None:
            s += f", live {r['takeover_ms']:.1f} ms later"
        if r.get("in_transfer") is not None:
            s += f", mid-transfer {'confirmed' if r['in_transfer'] else 'not confirmed'}"
        s += f"; resets {len(r['resets'])} (unexplained {len(r['unexplained_resets'])}), lost {r['lost']}, " \
             f"extra {r['extra']}, withdrawals {len(r['withdrawals'])}; settled in {r.get('settle_s', 0):.1f} s"
        for p in r["problems"] + r["withdrawals"][:5] + r["unexplained_resets"]:
            s += f"\n    ! {p}"
        for peer, why in r.get("gr_peers", {}).items():
            s += f"\n    GR path {peer}: {why}"
        return s

    def run(self):
        a = self.args
        pname = self.primary()
        self.measure_trials(self.nodes[pname])
        self.churn.start()
        time.sleep(1.0)
        # Round 0: no failure. Checks the checks (the expected state, no withdrawal).
        self.churn.pause()
        s, d = self.settle(self.nodes[pname], a.settle_timeout)
        self.churn.resume()
        if d:
            raise LabError(f"the lab does not converge to the expected routes without any failure: {d}")
        log(f"baseline: the peers and the primary hold exactly the expected routes (settled in {s:.1f} s)")
        t0 = time.monotonic()
        for i in range(1, a.failovers + 1):
            r = self.round(i)
            if r.get("broken"):
                if not a.repair:
                    log(f"round {i} left the lab broken ({r['broken']}): no further round would mean anything")
                    break
                self.repair(i)
        self.wall = time.monotonic() - t0
        self.churn.stop()
        self.floor.stop()


# -- the report ------------------------------------------------------------------------


_ACKED_LOST = re.compile(r"^(\d+) inbound bytes the peer sent are not held here")


def fallback_cause(r):
    """None when every graceful-restart session of the round has the cause the design
    accepts (docs/ha.md): the peer sent bytes the standby never got -- acknowledged by
    the failed primary's kernel, or still in flight (the probe sees the peer's snd_nxt,
    not its snd_una) -- and in a converged state only KEEPALIVEs (19 bytes each) can be
    on the way. Else the first other cause."""
    for peer, why in r.get("gr_peers", {}).items():
        if not cause_accepted(r, why):
            return f"{peer}: {why}"
    return None


def cause_accepted(r, why):
    m = _ACKED_LOST.match(why)
    if r["kind"] == "switchover" or not m:
        return False
    return r["moment"] != "steady" or int(m.group(1)) % 19 == 0


def verdict(rounds, args):
    """(passed, [reasons]) of the gate CI applies: what the design promises."""
    bad = []
    for r in rounds:
        tag = f"round {r['round']} ({r['kind']}, {r['moment']})"
        if r.get("outcome") == "fallback" and fallback_cause(r):
            bad.append(f"{tag}: graceful-restart fallback for a cause the design does not accept: {fallback_cause(r)}")
        if r["unexplained_resets"]:
            bad.append(f"{tag}: session reset without a graceful-restart takeover: {r['unexplained_resets']}")
        if r["lost"] or r["extra"]:
            bad.append(f"{tag}: {r['lost']} routes lost, {r['extra']} extra")
        if r["withdrawals"]:
            bad.append(f"{tag}: {len(r['withdrawals'])} withdrawals at the peers, e.g. {r['withdrawals'][:2]}")
        if r["moment"] == "steady" and r.get("outcome") not in ("non-stop", "switchover", "fallback"):
            bad.append(f"{tag}: steady-state failure not taken over non-stop: {r.get('outcome')}")
        if r["moment"] != "steady" and r.get("outcome") == "fallback" and args.strict:
            bad.append(f"{tag}: graceful-restart fallback during a transfer (--strict)")
        if r["problems"]:
            bad.append(f"{tag}: {r['problems']}")
    if len(rounds) < args.failovers:
        bad.append(f"only {len(rounds)} of {args.failovers} rounds ran")
    return not bad, bad


def report(chaos, args, cmd, info):
    rounds = chaos.rounds
    L = []
    L.append(f"Command: `{cmd}`  ")
    L.append(f"seed {args.seed}; {len(rounds)} failovers; FRR table {args.prefixes} prefixes (+ BIRD "
             f"{sw.N_BIRD_V4}); churn every ~{args.churn_interval * 1000:.0f} ms ({chaos.churn.ops} changes); "
             f"batch {args.batch}; tandem {info['commit']}; {info['machine']}; {chaos.wall:.0f} s of rounds")
    if chaos.repairs:
        L.append(f"the lab was left broken by round(s) {', '.join(map(str, chaos.repairs))}; both nodes were started "
                 f"afresh after each (--repair)  ")
    L.append(f"trial transfers: BIRD ROUTE-REFRESH {chaos.trial.get('bird-refresh', 0) * 1000:.0f} ms, "
             f"FRR soft out {chaos.trial.get('frr-refresh', 0) * 1000:.0f} ms "
             f"({chaos.trial.get('frr-refresh bytes', 0)} bytes)")
    L.append("")
    L.append("| kind | rounds | non-stop | graceful-restart fallback | other |")
    L.append("|---|---:|---:|---:|---|")
    for k in KINDS:
        rs = [r for r in rounds if r["kind"] == k]
        if not rs:
            continue
        ns = sum(r.get("outcome") in ("non-stop", "switchover") for r in rs)
        fb = sum(r.get("outcome") == "fallback" for r in rs)
        other = [r.get("outcome") for r in rs if r.get("outcome") not in ("non-stop", "switchover", "fallback")]
        L.append(f"| {k} | {len(rs)} | {ns} | {fb} | {', '.join(map(str, other)) or '-'} |")
    L.append("")
    st = [r for r in rounds if r["moment"] == "steady"]
    ch = [r for r in rounds if r["moment"] == "churn"]
    tr = [r for r in rounds if r["moment"] in TRANSFERS]
    trc = [r for r in tr if r.get("in_transfer")]

    def nonstop(rs):
        return sum(r.get("outcome") in ("non-stop", "switchover") for r in rs)
    L.append("| moment | rounds | non-stop | fallback | non-stop share |")
    L.append("|---|---:|---:|---:|---:|")
    for name, rs in (("steady state (converged: churn paused)", st), ("during churn (small changes flowing)", ch),
                     ("during a transfer (all)", tr),
                     ("during a transfer (seen running at the failure)", trc)):
        fb = sum(r.get("outcome") == "fallback" for r in rs)
        share = f"{100.0 * nonstop(rs) / len(rs):.0f}%" if rs else "-"
        L.append(f"| {name} | {len(rs)} | {nonstop(rs)} | {fb} | {share} |")
    for t in TRANSFERS:
        rs = [r for r in tr if r["moment"] == t]
        if rs:
            L.append(f"| &nbsp; {t} | {len(rs)} | {nonstop(rs)} | {sum(r.get('outcome') == 'fallback' for r in rs)} "
                     f"| {100.0 * nonstop(rs) / len(rs):.0f}% |")
    L.append("")
    fbs = [r for r in rounds if r.get("outcome") == "fallback"]
    odd = [r for r in fbs if fallback_cause(r)]
    L.append(f"Graceful-restart fallbacks: {len(fbs)} rounds ({sum(r['fallback'] for r in fbs)} sessions); with the "
             f"cause the design accepts (bytes the peer sent that the standby never got: acknowledged by the failed "
             f"primary's kernel or still in flight): {len(fbs) - len(odd)}; other causes: {len(odd)}.")
    pend = sum(r.get("pending", 0) for r in rounds)
    conf = sum(r.get("confirmed", 0) for r in rounds)
    L.append(f"Sessions carried on at the held end while the peer had sent more: {pend}; the peer sent those bytes "
             f"again (non-stop): {conf}; reset onto the graceful-restart path: {pend - conf}.")
    L.append("")
    resets = sum(len(r["resets"]) for r in rounds)
    unexpl = sum(len(r["unexplained_resets"]) for r in rounds)
    L.append(f"Sessions reset as the peers see it: {resets} (by a graceful-restart takeover: {resets - unexpl}, "
             f"unexplained: {unexpl}). Routes lost: {sum(r['lost'] for r in rounds)}, extra: "
             f"{sum(r['extra'] for r in rounds)}. Withdrawals at the peers: "
             f"{sum(len(r['withdrawals']) for r in rounds)} (FRR's count sampled {chaos.floor.samples} times, "
             f"lowest {chaos.floor.low}, floor {chaos.floor.floor}).")
    L.append("")
    L.append("| figure (ms) | n | median | p99 | max |")
    L.append("|---|---:|---:|---:|---:|")
    for label, xs in (
            ("detection, process death (kill: channel closed)", [r["detect_ms"] for r in rounds
                                                                 if r["kind"] == "kill" and "detect_ms" in r]),
            (f"detection, hang (stop: heartbeat + {args.silence_mult}x channel silence)", [r["detect_ms"] for r in rounds
                                                                       if r["kind"] == "stop" and "detect_ms" in r]),
            ("detection, cut off (link down: the same)", [r["detect_ms"] for r in rounds
                                                         if r["kind"] == "link" and "detect_ms" in r]),
            ("takeover, unplanned: decision -> every session live", [r["takeover_ms"] for r in rounds
                                                                     if r["kind"] != "switchover"
                                                                     and "takeover_ms" in r]),
            ("&nbsp; of which the sequence probes", [r["probes_ms"] for r in rounds if "probes_ms" in r]),
            ("takeover, planned: commit arrived -> every session live", [r["takeover_ms"] for r in rounds
                                                                         if r["kind"] == "switchover"
                                                                         and "takeover_ms" in r]),
            ("old primary back as an in-sync standby (incl. its bulk sync)", [r["resync_s"] * 1000 for r in rounds
                                                                if "resync_s" in r])):
        if xs:
            L.append(f"| {label} | {len(xs)} | {fmt(statistics.median(xs))} | {fmt(pct(xs, 99))} | {fmt(max(xs))} |")
    L.append("")
    # The targets of issue 7 that this lab can judge.
    kill_d = [r["detect_ms"] for r in rounds if r["kind"] == "kill" and "detect_ms" in r]
    hang_d = [r["detect_ms"] for r in rounds if r["kind"] in ("stop", "link") and "detect_ms" in r]
    tk = [r["takeover_ms"] for r in rounds if r["kind"] != "switchover" and "takeover_ms" in r]
    n_wd, n_lost = sum(len(r["withdrawals"]) for r in rounds), sum(r["lost"] for r in rounds)
    wd = n_wd + n_lost
    tr_share = nonstop(tr) / len(tr) if tr else None

    def yn(c):
        return "PASS" if c else "FAIL"
    L.append("| target | measured | verdict |")
    L.append("|---|---|---|")
    L.append(f"| non-stop in 100% of steady-state failures | {nonstop(st)}/{len(st)} | "
             f"{yn(st and nonstop(st) == len(st)) if st else 'not run'} |")
    L.append(f"| non-stop in >= 95% of failures during a full-table transfer | {nonstop(tr)}/{len(tr)}"
             f"{f' ({100 * tr_share:.0f}%)' if tr else ''} | {yn(tr_share >= 0.95) if tr else 'not run'} |")
    L.append(f"| node death detected within 30 ms at 10 ms heartbeats | hang/cut off: median "
             f"{fmt(statistics.median(hang_d) if hang_d else None)} ms, p99 {fmt(pct(hang_d, 99))} ms; process death: "
             f"median {fmt(statistics.median(kill_d) if kill_d else None)} ms, p99 {fmt(pct(kill_d, 99))} ms | "
             f"node death: {'not run' if not hang_d else yn(pct(hang_d, 99) <= 30) + f' (10 ms x {args.heartbeat_mult}, then {args.silence_mult}x that of channel silence)'}; "
             f"process death: {'not run' if not kill_d else yn(pct(kill_d, 99) <= 30)} |")
    big = args.prefixes >= 1000000
    L.append(f"| takeover complete within 50 ms of detection with 1M routes | p99 {fmt(pct(tk, 99))} ms with "
             f"{args.prefixes} routes | {(yn(pct(tk, 99) <= 50) if tk else 'not run') if big else 'not judged (needs --prefixes 1000000); at this size ' + (yn(pct(tk, 99) <= 50) if tk else '-')} |")
    L.append(f"| zero routes withdrawn at any peer | {n_wd} withdrawals seen, {n_lost} routes missing at the end of "
             f"a round | {yn(wd == 0)} |")
    L.append("")
    L.append("| # | kind | moment | from -> to | detect ms | live ms | outcome | resets | lost/extra | "
             "withdrawals | settle s |")
    L.append("|---:|---|---|---|---:|---:|---|---:|---|---:|---:|")
    for r in rounds:
        mom = r["moment"] + ("" if r.get("in_transfer") is None else
                             (" (running)" if r["in_transfer"] else " (over?)"))
        out = r.get("outcome", "?")
        if "nonstop" in r:
            out += f" {r['nonstop']}/{r['nonstop'] + r['fallback']}"
        L.append(f"| {r['round']} | {r['kind']} | {mom} | {r['from']} -> {r['to']} | {fmt(r.get('detect_ms'))} | "
                 f"{fmt(r.get('takeover_ms'))} | {out} | {len(r['resets'])} | {r['lost']}/{r['extra']} | "
                 f"{len(r['withdrawals'])} | {r.get('settle_s', 0):.1f} |")
    notes = []
    for r in rounds:
        for peer, why in r.get("gr_peers", {}).items():
            tag = "accepted cause" if cause_accepted(r, why) else "NOT an accepted cause"
            notes.append(f"- round {r['round']}: {peer} by graceful restart ({tag}): {why}")
        for p in r["problems"] + r["unexplained_resets"] + r["withdrawals"][:5]:
            notes.append(f"- round {r['round']}: {p}")
    if notes:
        L.append("")
        L += notes
    return "\n".join(L)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), kernel {os.uname().release}, load {os.getloadavg()[0]:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build directory (default build)")
    ap.add_argument("--tandemd")
    ap.add_argument("--tandemctl")
    ap.add_argument("--failovers", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    ap.add_argument("--prefixes", type=int, default=20000, help="FRR's table (IPv4 /27s)")
    ap.add_argument("--batch", type=int, default=5000, help="prefixes of a frr-batch transfer (<= 98304)")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"failure kinds to draw from (default {','.join(KINDS)})")
    ap.add_argument("--transfer-share", type=float, default=0.4, help="share of failures during a transfer")
    ap.add_argument("--churn-interval", type=float, default=0.1, help="mean seconds between two churn changes")
    ap.add_argument("--settle-timeout", type=float, default=60.0, help="seconds for the routes to converge")
    ap.add_argument("--sync-timeout", type=float, default=180.0, help="seconds for the standby to be in sync")
    ap.add_argument("--full-check-limit", type=int, default=200000,
                    help="above this table size the big views are compared by count, not prefix by prefix")
    ap.add_argument("--heartbeat-mult", type=int, default=HEARTBEAT["heartbeat_detect_mult"],
                    help="[ha] heartbeat_detect_mult at 10 ms (default %(default)s)")
    ap.add_argument("--silence-mult", type=int, default=2,
                    help="[ha] takeover_silence_mult: channel silence in detection times (default %(default)s)")
    ap.add_argument("--no-hold-acks", action="store_true",
                    help="[ha] hold_acks = false: the primary's kernel acknowledges what the standby may not hold")
    ap.add_argument("--strict", action="store_true", help="also fail on a graceful-restart fallback during a transfer")
    ap.add_argument("--repair", action="store_true",
                    help="after a round that leaves the lab broken (a failure), start both nodes afresh and go on "
                         "(default: stop there)")
    ap.add_argument("--markdown", help="write the report (Markdown) to this file too")
    ap.add_argument("--json", help="write every round's figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the lab's files")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    args.kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in args.kinds):
        ap.error(f"--kinds: choose among {','.join(KINDS)}")
    if not 0 < args.batch <= 98304:
        ap.error("--batch: 1..98304")
    cmd = "python3 bench/chaos/run.py " + " ".join(sys.argv[1:])
    try:
        require_root()
        args.tandemd = require_binary(args.tandemd or os.path.join(args.build, "apps/tandemd/tandemd"), "tandemd")
        tandemctl = require_tandemctl(args.tandemctl or os.path.join(args.build, "apps/tandemctl/tandemctl"))
        frr_binaries()
        bird_binaries()
        bfdd_binary()
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        sys.exit(77)
    log(f"chaos: seed {args.seed} (--seed {args.seed} repeats the draws), {args.failovers} failovers")
    info = {"commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or "?", "machine": machine()}
    with Lab("chaos", keep=args.keep) as lab:
        chaos = Chaos(args, lab, tandemctl)
        try:
            chaos.run()
        finally:
            chaos.churn.stop()
            chaos.floor.stop()
        passed, reasons = verdict(chaos.rounds, args)
        if not passed:
            lab.failed = True  # keeps the lab's files (logs) for a look
        text = report(chaos, args, cmd, info)
    print("\n" + text + "\n", flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "info": info, "trial": chaos.trial,
                       "rounds": chaos.rounds}, f, indent=1, default=str)
    if passed:
        log(f"PASS chaos: {len(chaos.rounds)} failovers (seed {args.seed})")
        sys.exit(0)
    for b in reasons:
        print(f"  - {b}", flush=True)
    log(f"FAIL chaos (seed {args.seed}; lab files kept in {lab.workdir})")
    sys.exit(1)


if __name__ == "__main__":
    main()
