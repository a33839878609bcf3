"""FRR peer: zebra + bgpd in a node's namespace, configured per test, queried by vtysh.

Per LAB-NOTES: bgpd runs as root with -S; zebra cannot skip run-as and runs as user
frr, so the instance directory is frr-owned. bgpd gets -n (no FIB install) and talks
to its own zebra, which it needs to resolve next hops of received routes.
"""

import grp
import json
import os
import pwd

from .util import LabError, log, require_binary, run, wait_until

FRR_DIR = "/usr/lib/frr"


def frr_binaries():
    return {
        "bgpd": require_binary(os.path.join(FRR_DIR, "bgpd"), "FRR bgpd"),
        "zebra": require_binary(os.path.join(FRR_DIR, "zebra"), "FRR zebra"),
        "vtysh": require_binary("vtysh", "FRR vtysh"),
    }


def _af(prefix):
    return "ipv6" if ":" in prefix else "ipv4"


class FrrRouter:
    """An FRR bgpd (+ zebra). Build the config with the add_* methods, then start()."""

    def __init__(self, node, asn, router_id=None, name="frr"):
        self.bins = frr_binaries()
        self.node = node
        self.asn = asn
        self.router_id = router_id or node.v4
        self.name = name
        self.dir = os.path.join(node.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        try:
            uid, gid = pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
        except KeyError:
            uid = gid = None
        if uid is not None:
            os.chown(self.dir, uid, gid)
        os.chmod(self.dir, 0o755)
        self.neighbors = []      # dicts
        self.networks = []       # (prefix, route_map or None)
        self.route_maps = {}     # name -> list of "set ..." lines
        self.extra_router = []   # lines inside "router bgp"
        self.extra_global = []   # lines outside
        self.zebra = None
        self.bgpd = None
        self.config_override = None

    # -- configuration ---------------------------------------------------------------

    def add_neighbor(self, address, remote_as, families=None, description=None, extra=()):
        """families: subset of ("ipv4", "ipv6"); default: the transport's family."""
        self.neighbors.append(dict(address=address, remote_as=remote_as,
                                   families=list(families or [_af(address)]),
                                   description=description, extra=list(extra)))

    def add_route_map(self, name, set_lines):
        self.route_maps[name] = list(set_lines)

    def add_network(self, prefix, route_map=None):
        self.networks.append((prefix, route_map))

    def use_config_file(self, path):
        """Run with this config file's text instead of the rendered one."""
        with open(path) as f:
            self.config_override = f.read()

    def render(self):
        if self.config_override is not None:
            return self.config_override
        L = ["frr defaults traditional", f"hostname {self.name}", "log stdout informational",
             "log timestamp precision 3", "debug bgp neighbor-events", "!"]
        L += self.extra_global
        # Route maps first: a `network ... route-map X` read before X exists is denied
        # until the route-map delay timer re-evaluates it (5 s later).
        for name, sets in self.route_maps.items():
            L.append(f"route-map {name} permit 10")
            L += [f" {s}" for s in sets]
            L.append("!")
        L += [f"router bgp {self.asn}", f" bgp router-id {self.router_id}",
              " no bgp ebgp-requires-policy", " no bgp network import-check",
              " no bgp default ipv4-unicast", " bgp log-neighbor-changes"]
        for n in self.neighbors:
            L.append(f" neighbor {n['address']} remote-as {n['remote_as']}")
            if n["description"]:
                L.append(f" neighbor {n['address']} description {n['description']}")
            L.append(f" neighbor {n['address']} timers connect 2")
            L.append(f" neighbor {n['address']} advertisement-interval 0")
            L += [f" {x}" for x in n["extra"]]
        L += [f" {x}" for x in self.extra_router]
        for af in ("ipv4", "ipv6"):
            nets = [(p, rm) for p, rm in self.networks if _af(p) == af]
            nbrs = [n for n in self.neighbors if af in n["families"]]
            if not nets and not nbrs:
                continue
            L.append(f" address-family {af} unicast")
            for p, rm in nets:
                L.append(f"  network {p}" + (f" route-map {rm}" if rm else ""))
            for n in nbrs:
                L.append(f"  neighbor {n['address']} activate")
                L.append(f"  neighbor {n['address']} send-community all")
            L.append(" exit-address-family")
        L.append("!")
        return "\n".join(L) + "\n"

    # -- process ---------------------------------------------------------------------

    @property
    def vty_dir(self):
        return self.dir

    def start(self, timeout=15):
        conf = os.path.join(self.dir, "bgpd.conf")
        with open(conf, "w") as f:
            f.write(self.render())
        zconf = os.path.join(self.dir, "zebra.conf")
        with open(zconf, "w") as f:
            f.write(f"hostname {self.name}-zebra\nlog stdout informational\n")
        for p in (conf, zconf):
            os.chmod(p, 0o644)
        zsock = os.path.join(self.dir, "zserv.api")
        self.zebra = self.node.spawn(f"{self.name}-zebra", [
            self.bins["zebra"], "-f", zconf, "-i", os.path.join(self.dir, "zebra.pid"),
            "-z", zsock, "--vty_socket", self.dir, "-P", "0", "--log", "stdout"],
            logfile=os.path.join(self.dir, "zebra.log"))
        wait_until(lambda: os.path.exists(zsock) and os.path.exists(os.path.join(self.dir, "zebra.vty"))
                   or self._died(self.zebra), timeout, f"{self.name} zebra socket")
        self._check_alive(self.zebra)
        self._spawn_bgpd(timeout)
        log(f"{self.name}: zebra+bgpd running in {self.node.ns} (AS {self.asn})")
        return self

    def _spawn_bgpd(self, timeout):
        conf = os.path.join(self.dir, "bgpd.conf")
        zsock = os.path.join(self.dir, "zserv.api")
        self.bgpd = self.node.spawn(f"{self.name}-bgpd", [
            self.bins["bgpd"], "-S", "-n", "-f", conf, "-i", os.path.join(self.dir, "bgpd.pid"),
            "-z", zsock, "--vty_socket", self.dir, "-A", "127.0.0.1", "-P", "0", "--log", "stdout"],
            logfile=os.path.join(self.dir, "bgpd.log"))
        wait_until(lambda: os.path.exists(os.path.join(self.dir, "bgpd.vty")) or self._died(self.bgpd),
                   timeout, f"{self.name} bgpd vty socket")
        self._check_alive(self.bgpd)
        # vty up does not mean the config is applied; wait until bgpd answers about it.
        wait_until(lambda: str(self.asn) in self.vtysh("show bgp summary json"), timeout,
                   f"{self.name} bgpd configured")

    def kill_bgpd(self, timeout=5):
        """SIGKILL bgpd, like a crash: no NOTIFICATION, the kernel closes its sockets.
        zebra keeps running. Waits until the process is gone."""
        import signal as _signal
        if self.bgpd and self.bgpd.alive():
            self.bgpd.send_signal(_signal.SIGKILL)
            self.bgpd.popen.wait(timeout)
        log(f"{self.name}: bgpd killed (SIGKILL)")

    def restart_bgpd(self, timeout=15):
        """Start bgpd again after kill_bgpd() with the configuration as rendered now
        (change networks etc. before calling). Output is appended to bgpd.log."""
        conf = os.path.join(self.dir, "bgpd.conf")
        with open(conf, "w") as f:
            f.write(self.render())
        os.chmod(conf, 0o644)
        for stale in ("bgpd.vty", "bgpd.pid"):
            try:
                os.unlink(os.path.join(self.dir, stale))
            except FileNotFoundError:
                pass
        self._spawn_bgpd(timeout)
        log(f"{self.name}: bgpd restarted in {self.node.ns}")
        return self

    def log_text(self):
        """bgpd's log (every run of it: restart_bgpd appends)."""
        try:
            with open(os.path.join(self.dir, "bgpd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _died(self, proc):
        return not proc.alive()

    def _check_alive(self, proc):
        if not proc.alive():
            raise LabError(f"{proc.name} exited rc={proc.returncode()}:\n{proc.log_text()[-3000:]}")

    def stop(self):
        for p in (self.bgpd, self.zebra):
            if p:
                p.stop()

    # -- queries ---------------------------------------------------------------------

    def vtysh(self, *cmds, timeout=60, check=True):
        argv = [self.bins["vtysh"], "--vty_socket", self.dir]
        for c in cmds:
            argv += ["-c", c]
        cp = run(argv, timeout=timeout, check=check)
        return cp.stdout

    def vtysh_json(self, cmd, timeout=60):
        out = self.vtysh(cmd, timeout=timeout)
        try:
            return json.loads(out)
        except ValueError as e:
            raise LabError(f"vtysh '{cmd}' did not return JSON: {out[:500]}") from e

    def vtysh_json_multi(self, cmds, timeout=60):
        """Several JSON commands in one vtysh run; returns the list of parsed objects."""
        out = self.vtysh(*cmds, timeout=timeout)
        dec = json.JSONDecoder()
        res, i = [], 0
        while True:
            while i < len(out) and out[i].isspace():
                i += 1
            if i >= len(out):
                break
            obj, i = dec.raw_decode(out, i)
            res.append(obj)
        if len(res) != len(cmds):
            raise LabError(f"expected {len(cmds)} JSON answers from vtysh, got {len(res)}")
        return res

    def configure(self, lines, timeout=120):
        """Apply configuration lines (as typed after `configure terminal`) in one batch."""
        path = os.path.join(self.dir, "batch.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o644)
        cp = run([self.bins["vtysh"], "--vty_socket", self.dir, "-f", path], timeout=timeout, check=False)
        if cp.returncode != 0:
            raise LabError(f"{self.name}: vtysh -f failed rc={cp.returncode}: {cp.stdout[-1000:]} {cp.stderr[-1000:]}")
        return cp.stdout

    def neighbor(self, address):
        """`show bgp neighbors ADDR json` for one neighbour (dict), {} if unknown."""
        d = self.vtysh_json(f"show bgp neighbors {address} json")
        return d.get(address, {})

    def neighbor_state(self, address):
        return self.neighbor(address).get("bgpState")

    def wait_established(self, address, timeout=30):
        return wait_until(lambda: self.neighbor_state(address) == "Established", timeout,
                          f"{self.name}: session with {address} Established "
                          f"(state {self.neighbor_state(address) if self.bgpd and self.bgpd.alive() else 'bgpd dead'})")

    def table(self, af="ipv4"):
        """Whole BGP table: {prefix: [path dicts]} from `show bgp <af> unicast json`."""
        d = self.vtysh_json(f"show bgp {af} unicast json")
        return d.get("routes", {})

    def received_prefixes(self, af, neighbor):
        """Prefixes FRR holds from `neighbor` (the table, filtered by peer): {prefix: path}."""
        out = {}
        for pfx, paths in self.table(af).items():
            for p in paths:
                if p.get("peerId") == neighbor:
                    out[pfx] = p
        return out

    def route_detail(self, af, prefixes):
        """Per-prefix JSON detail (communities etc.) for a list of prefixes, batched."""
        res = {}
        chunk = 100
        for i in range(0, len(prefixes), chunk):
            part = prefixes[i:i + chunk]
            for pfx, obj in zip(part, self.vtysh_json_multi([f"show bgp {af} unicast {p} json" for p in part])):
                res[pfx] = obj
        return res

    # -- graceful restart ------------------------------------------------------------

    def prefix_counts(self, af, neighbor):
        """`show bgp <af> unicast neighbors N prefix-counts json`'s table-walk counters:
        {"Adj-in", "Stale", "Valid", "All RIB", "PfxCt counted", ...} as ints (FRR
        keeps counting a peer's stale paths while the session is down)."""
        d = self.vtysh_json(f"show bgp {af} unicast neighbors {neighbor} prefix-counts json")
        return {k: int(v) for k, v in d.get("ribTableWalkCounters", {}).items()}

    def graceful_restart_info(self, neighbor):
        """The neighbour's `gracefulRestartInfo` (rBit, nBit, remoteGrMode, per-family
        fBit and End-of-RIB flags, timers) from `show bgp neighbors N json`."""
        return self.neighbor(neighbor).get("gracefulRestartInfo", {})
