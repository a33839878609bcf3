"""tandemd in a lab node: TOML config rendering, start/stop/reload, log matching, and
the accessor for its state.

Everything that knows the *format* of tandemd's state (today: the JSON file written on
SIGUSR1 to [global] state_dump; later: the gRPC API) lives in TandemState and
TandemNode.state() below. Tests only use TandemState's methods.
"""

import json
import json as _jsonmod  # ctl() has a parameter named json
import os
import re
import signal
import subprocess
import sys
import time

from .util import LabError, log, require_binary, wait_until

FAMILY_NAMES = {"ipv4": "ipv4-unicast", "ipv6": "ipv6-unicast"}


# --------------------------------------------------------------------------------------
# TOML rendering (just what tandemd's config needs: strings, ints, bools, string lists)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def render_toml(doc, comments=None):
    """doc: {table: {key: value}} for tables, {array_name: [ {..}, ..]} for arrays of
    tables (e.g. "peer", "network"). Insertion order is kept."""
    out = []
    if comments:
        out += [f"# {c}" if c else "#" for c in comments] + [""]
    for name, val in doc.items():
        if isinstance(val, dict):
            out.append(f"[{name}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in val.items() if v is not None]
            out.append("")
        elif isinstance(val, list):
            for item in val:
                out.append(f"[[{name}]]")
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
                out.append("")
        else:
            raise TypeError(f"top-level {name} must be a table or an array of tables")
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# The state accessor: the only code that knows the dump's format.


class TandemState:
    """tandemd's state at one moment: peers and RIB."""

    def __init__(self, raw):
        self.raw = raw
        self.router_id = raw.get("router_id")
        self.local_as = raw.get("local_as")

    def peers(self):
        return list(self.raw.get("peers", []))

    def peer(self, address):
        """The peer dict (address, remote_as, description, state, received, accepted,
        advertised, last_error) or None."""
        for p in self.raw.get("peers", []):
            if p.get("address") == address:
                return p
        return None

    def peer_state(self, address):
        p = self.peer(address)
        return p.get("state") if p else None

    def routes(self, family, best_only=False, peer=None):
        """Route dicts of one family ("ipv4"/"ipv6"): prefix, peer, best, next_hop,
        as_path (string), origin, med, local_pref, communities, large_communities,
        ext_communities."""
        rs = self.raw.get("rib", {}).get(FAMILY_NAMES.get(family, family), [])
        return [r for r in rs if (not best_only or r.get("best")) and (peer is None or r.get("peer") == peer)]

    def best(self, family):
        """{prefix: best route dict}."""
        return {r["prefix"]: r for r in self.routes(family, best_only=True)}

    def prefixes(self, family, peer=None):
        return {r["prefix"] for r in self.routes(family, peer=peer)}

    def summary(self):
        ps = ", ".join(f"{p.get('address')}={p.get('state')}" for p in self.peers())
        return (f"peers: {ps}; rib: " +
                ", ".join(f"{f} {len(self.routes(f))}" for f in FAMILY_NAMES))


# --------------------------------------------------------------------------------------


class TandemNode:
    """One tandemd in a lab node."""

    def __init__(self, node, binary, router_id=None, local_as=4200000100, name="tandemd", tandemctl=None):
        self.node = node
        self.binary = binary
        self.tandemctl = tandemctl  # path of tandemctl, for ctl()
        self.name = name
        self.dir = os.path.join(node.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "tandemd.toml")
        self.state_path = os.path.join(self.dir, "state.json")
        self.logfile = os.path.join(self.dir, "tandemd.log")
        # The API socket lives in the test's directory (rendered as [api] socket).
        self.api_socket = os.path.join(self.dir, "api.sock")
        # Graceful restart's "running" marker ([graceful_restart] marker_file) too: a
        # SIGKILLed test must not make another test's tandemd believe it restarts.
        self.marker_file = os.path.join(self.dir, "running")
        self.global_ = {"router_id": router_id or node.v4, "local_as": local_as,
                        "listen": ["0.0.0.0", "::"], "port": 179, "state_dump": self.state_path}
        self.log_ = {"level": "debug", "format": "text"}
        self.peer_defaults = {"hold_time": 90, "connect_retry": 2,
                              "families": ["ipv4-unicast", "ipv6-unicast"]}
        self.tables = {}    # other top-level tables rendered as they are, e.g. "fib"
        self.peers = []
        self.networks = []
        self.proc = None

    def load_toml(self, path, state_dump=True):
        """Take the configuration from a TOML file (e.g. etc/lab/tandemd.toml); the
        state dump path is pointed into the lab unless state_dump is False."""
        import tomllib
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        self.global_ = dict(doc.get("global", {}))
        if state_dump:
            self.global_["state_dump"] = self.state_path
        self.log_ = dict(doc.get("log", {}))
        self.log_.setdefault("level", "info")
        self.peer_defaults = dict(doc.get("peer_defaults", {}))
        self.peers = [dict(p) for p in doc.get("peer", [])]
        self.networks = [dict(n) for n in doc.get("network", [])]
        self.tables = {k: dict(v) for k, v in doc.items()
                       if k not in ("global", "log", "peer_defaults", "peer", "network")}
        return doc

    # -- configuration ---------------------------------------------------------------

    def add_peer(self, address, remote_as, description=None, families=None, **kw):
        """families: short ("ipv4") or long ("ipv4-unicast") names; default: the
        transport's family only. Other keys as in the [[peer]] table."""
        if families is None:
            families = ["ipv6" if ":" in address else "ipv4"]
        p = {"address": address, "remote_as": remote_as, "description": description,
             "families": [FAMILY_NAMES.get(f, f) for f in families]}
        p.update(kw)
        self.peers.append(p)
        return p

    def remove_peer(self, address):
        self.peers = [p for p in self.peers if p["address"] != address]

    def add_network(self, prefix, **kw):
        n = {"prefix": prefix}
        n.update(kw)
        self.networks.append(n)

    def render(self):
        doc = {"global": self.global_, "log": self.log_}
        doc.update(self.tables)
        # Never the system-wide default socket: each test's daemon has its own.
        doc["api"] = dict(doc.get("api", {}), socket=self.api_socket)
        gr = dict(doc.get("graceful_restart", {}))
        gr.setdefault("marker_file", self.marker_file)
        doc["graceful_restart"] = gr
        ha = doc.get("ha")
        if ha and ha.get("vip_interface") and "crash_guard_pin_dir" not in ha:
            # The bpffs is shared by every namespace: each node's crash guard gets its own
            # pins (as on separate hosts), removed with the lab.
            doc["ha"] = dict(ha, crash_guard_pin_dir=self.crash_guard_pins())
        doc["peer_defaults"] = self.peer_defaults
        if self.peers:
            doc["peer"] = self.peers
        if self.networks:
            doc["network"] = self.networks
        return render_toml(doc, comments=["rendered by tests/integration/lab/tandem.py"])

    def crash_guard_pins(self):
        path = f"/sys/fs/bpf/tandem-test-{os.path.basename(self.node.lab.workdir)}-{self.node.name}-{self.name}"
        if not getattr(self, "_pins_registered", False):
            self._pins_registered = True
            self.node.lab.cleanups.append(lambda: remove_pins(path))
        return path

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.render())

    # -- process ---------------------------------------------------------------------

    def start(self, timeout=15, extra_args=()):
        self.write_config()
        off = len(self.log_text())  # the log file is appended to across restarts
        self.proc = self.node.spawn(self.name, [self.binary, "--config", self.conf,
                                                "--log-level", self.log_["level"]] + list(extra_args),
                                    logfile=self.logfile)
        # Up when it listens on its port (SIGUSR1 before its handler is installed would
        # kill it), then when it writes a state dump on request (config parsed, loop running).
        port = self.global_.get("port", 179)
        role = self.tables.get("ha", {}).get("role")
        if role in ("primary", "standby"):
            # A standby opens no BGP listener, and a node configured as the primary starts
            # as the standby when it finds the other node the primary: its role first.
            wait_until(lambda: not self.proc.alive() or "replication: node" in self.log_text()[off:], timeout,
                       f"{self.name} choosing its role")
            if role == "primary" and self.proc.alive() and " is the standby" in self.log_text()[off:]:
                role = "standby"
        if role != "standby":
            wait_until(lambda: not self.proc.alive() or self.listening(port), timeout,
                       f"{self.name} listening on port {port}")
        if self.proc.alive():
            time.sleep(0.2)
            wait_until(lambda: not self.proc.alive() or self._try_state(), timeout,
                       f"{self.name} answering SIGUSR1 with a state dump")
        if not self.proc.alive():
            raise LabError(f"{self.name} exited rc={self.proc.returncode()}:\n{self.proc.log_text()[-4000:]}")
        log(f"{self.name}: running in {self.node.ns} (AS {self.global_['local_as']}, pid {self.proc.pid})")
        return self

    def listening(self, port):
        out = self.node.exec(["ss", "-Hltn", f"sport = :{port}"], check=False, quiet=True).stdout
        return bool(out.strip())

    def _try_state(self):
        try:
            return self.state(timeout=1.0)
        except (LabError, AssertionError):
            return None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def reload(self):
        """Write the current config and SIGHUP."""
        self.write_config()
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code (tandemd exits 0 after sending Cease)."""
        return self.proc.stop(timeout=timeout) if self.proc else None

    def kill(self, timeout=5):
        """SIGKILL, like a crash: no NOTIFICATION, no cleanup (kernel routes and the
        graceful-restart marker file stay). Waits until the process is gone; start()
        runs it again with the same configuration (its log is appended to)."""
        if self.proc and self.proc.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.popen.wait(timeout)
        log(f"{self.name}: killed (SIGKILL)")
        return self.proc.returncode() if self.proc else None

    def state(self, timeout=5.0):
        """Ask for a state dump (SIGUSR1) and return it as TandemState."""
        if not self.alive():
            raise LabError(f"{self.name} is not running (rc={self.proc.returncode() if self.proc else None})")

        def stamp():
            try:
                st = os.stat(self.state_path)
                return (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                return None
        before = stamp()
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = stamp()
            if now is not None and now != before:
                try:
                    with open(self.state_path) as f:
                        return TandemState(json.load(f))
                except ValueError:
                    pass  # caught mid-write despite the rename? try again
            time.sleep(0.02)
        raise LabError(f"{self.name}: no new state dump at {self.state_path} within {timeout}s")

    # -- tandemctl (the gRPC API's CLI) ----------------------------------------------------

    def _ctl_argv(self, args, json):
        if not self.tandemctl:
            raise LabError(f"{self.name}: no tandemctl binary given (TandemNode.tandemctl)")
        return ["ip", "netns", "exec", self.node.ns, self.tandemctl, "--socket", self.api_socket] + \
            (["--json"] if json else []) + [str(a) for a in args]

    def ctl_run(self, *args, json=False, timeout=30):
        """Run tandemctl in the tandem namespace against this daemon's API socket and
        return the CompletedProcess (returncode, stdout, stderr) whatever the exit code."""
        argv = self._ctl_argv(args, json)
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LabError(f"tandemctl timed out after {timeout}s: {' '.join(argv[4:])}") from e

    def ctl(self, *args, json=True, timeout=30):
        """`tandemctl [--json] ARGS...`: with json=True the parsed JSON output (None if
        there was none, e.g. a command that only acts), else the text output. Raises
        LabError naming the exit code and stderr unless tandemctl exits 0."""
        cp = self.ctl_run(*args, json=json, timeout=timeout)
        if cp.returncode != 0:
            raise LabError(f"tandemctl {' '.join(str(a) for a in args)}: rc={cp.returncode}\n"
                           f"stderr: {cp.stderr.strip()}\nstdout: {cp.stdout.strip()[:2000]}")
        if not json:
            return cp.stdout
        if not cp.stdout.strip():
            return None
        try:
            return _jsonmod.loads(cp.stdout)
        except ValueError as e:
            raise LabError(f"tandemctl --json {' '.join(str(a) for a in args)}: not JSON: {cp.stdout[:1000]}") from e

    def ctl_popen(self, *args, json=True):
        """Start a long-running tandemctl (e.g. `events`) with piped text stdout/stderr;
        the caller stops it (terminate/kill) and reads its output."""
        return subprocess.Popen(self._ctl_argv(args, json), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def wait_api(self, timeout=15):
        """Wait until the API answers (`tandemctl global`)."""
        return wait_until(lambda: self.ctl_run("global", json=True, timeout=5).returncode == 0, timeout,
                          f"{self.name}: API answering on {self.api_socket}")

    # -- queries used by the graceful-restart tests ------------------------------------

    def kernel_routes(self, family="ipv4", table=100, protocol=201):
        """{prefix: gateway} of tandemd's routes in its namespace's kernel table (its FIB
        protocol id only); a route without a gateway maps to None."""
        out = self.node.exec(["ip", "-6" if family in ("ipv6", "ipv6-unicast") else "-4", "route", "show",
                              "table", str(table), "proto", str(protocol)], quiet=True).stdout
        routes = {}
        for line in out.splitlines():
            f = line.split()
            if f:
                routes[f[0]] = f[f.index("via") + 1] if "via" in f else None
        return routes

    def rib_paths(self, family="ipv4", peer=None):
        """Loc-RIB paths from `tandemctl --json rib [-6] [--peer P]`: route dicts (prefix,
        family, peer, best, eligible, attributes{communities: [uint32], ...})."""
        args = ["rib"] + (["-6"] if family in ("ipv6", "ipv6-unicast") else []) + \
            (["--peer", peer] if peer else [])
        return self.ctl(*args) or []

    _PREFIX_PEER_RE = re.compile(r'"prefix":"([^"]+)","family":"[^"]*","peer":"([^"]*)"')

    def rib_prefixes(self, family="ipv4"):
        """{peer address ("" = local): set of prefixes} of the Loc-RIB, cheap enough to
        poll a 20,000-path table several times a second (no JSON decoding per route;
        relies on tandemctl's fixed key order prefix, family, peer)."""
        args = ["rib"] + (["-6"] if family in ("ipv6", "ipv6-unicast") else [])
        cp = self.ctl_run(*args, json=True)
        if cp.returncode != 0:
            raise LabError(f"tandemctl rib: rc={cp.returncode}: {cp.stderr.strip()}")
        out = {}
        for prefix, peer in self._PREFIX_PEER_RE.findall(cp.stdout):
            out.setdefault(peer, set()).add(prefix)
        if not out and cp.stdout.strip() not in ("[]", ""):
            raise LabError(f"tandemctl --json rib: unexpected format: {cp.stdout[:300]}")
        return out

    def neighbor(self, address):
        """`tandemctl --json neighbor ADDR`: {"config": {...}, "state": {...}}."""
        return self.ctl("neighbor", address)

    def neighbors(self):
        """`tandemctl --json neighbor` (one call for every peer): {address: {"config",
        "state"}} as neighbor() returns for one."""
        return {p.get("config", {}).get("address"): p for p in (self.ctl("neighbor") or {}).get("peers", [])}

    @staticmethod
    def prefix_counters(neighbor):
        """{family ("ipv4-unicast"): {received, accepted, advertised, stale} as ints}
        from a neighbor() answer."""
        out = {}
        for pc in neighbor.get("state", {}).get("prefixes", []):
            fam = pc.get("family", "").replace("FAMILY_", "").lower().replace("_", "-")
            out[fam] = {k: int(pc.get(k, 0)) for k in ("received", "accepted", "advertised", "stale")}
        return out

    # -- waiting -----------------------------------------------------------------------

    def wait_peer(self, address, state="Established", timeout=30):
        def ok():
            st = self.state()
            return st.peer_state(address) == state and st
        try:
            return wait_until(ok, timeout, f"{self.name}: peer {address} {state}")
        except AssertionError:
            st = self._try_state()
            raise AssertionError(f"{self.name}: peer {address} not {state} after {timeout}s: "
                                 f"{st.peer(address) if st else 'no state'}")

    def wait_routes(self, pred, timeout, what):
        """Poll the state until pred(TandemState) is truthy."""
        return wait_until(lambda: pred(self.state()), timeout, f"{self.name}: {what}")

    def log_text(self):
        return self.proc.log_text() if self.proc else ""

    def log_lines(self, *patterns, since=0):
        """Log lines (after byte offset `since`) matching every regex (case-insensitive)."""
        text = self.log_text()[since:]
        rx = [re.compile(p, re.I) for p in patterns]
        return [line for line in text.splitlines() if all(r.search(line) for r in rx)]

    def log_offset(self):
        return len(self.log_text())

    def wait_log(self, *patterns, timeout=10, since=0):
        return wait_until(lambda: self.log_lines(*patterns, since=since), timeout,
                          f"{self.name} log line matching {patterns}")




def remove_pins(path):
    """Removes a bpffs pin directory (files are unlinked like any file)."""
    if not os.path.isdir(path):
        return
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


_LOG_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:?\d\d)")


def log_time(line):
    """The wall-clock time (seconds since the epoch) of a tandemd log line."""
    from datetime import datetime
    m = _LOG_TS_RE.match(line)
    if not m:
        raise AssertionError(f"no timestamp in tandemd log line: {line}")
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def default_tandemctl():
    """$TANDEMCTL, else build*/apps/tandemctl/tandemctl of this checkout."""
    if os.environ.get("TANDEMCTL"):
        return os.environ["TANDEMCTL"]
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
    for b in ("build", "build-release", "build-debug"):
        p = os.path.join(root, b, "apps", "tandemctl", "tandemctl")
        if os.path.exists(p):
            return p
    return os.path.join(root, "build", "apps", "tandemctl", "tandemctl")


def require_tandemctl(path):
    return require_binary(path, "tandemctl")


class Sampler:
    """Calls sample() in a background thread every `interval` seconds until stop(),
    keeping (seconds since start, phase, value) tuples, so that a test can check an
    invariant on every state seen *during* an event (a restart), not only before and
    after it. The main thread names the phases (`sampler.phase = "peer down"`). A sample
    belongs to a phase only if it began and ended in it; one that straddled a change is
    kept under "before->after" (a slow sample, e.g. on a sanitizer build, that began
    while the peer was down may have read its counters after the peer came back). An
    exception in sample() is kept as the value (tests decide whether that is a failure)."""

    def __init__(self, sample, interval=0.15, name="sampler"):
        import threading
        self.sample = sample
        self.interval = interval
        self.samples = []
        self.phase = "start"
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            phase = self.phase
            try:
                val = self.sample()
            except Exception as e:  # kept, judged by the test
                val = e
            if self.phase != phase:
                phase = f"{phase}->{self.phase}"
            self.samples.append((time.monotonic() - self._t0, phase, val))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        return self.samples

    def errors(self):
        return [(t, ph, v) for t, ph, v in self.samples if isinstance(v, Exception)]
