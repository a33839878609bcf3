"""BIRD 2 peer: `bird -f -c CONF -s CTL -P PID` in a node's namespace, queried by birdc.

The config is rendered from static routes (originated, with BGP attributes set by the
BGP export filter) and BGP protocols. BIRD never touches the kernel here (no kernel
protocol): it only keeps routes in its tables.
"""

import os
import re

from .util import LabError, log, require_binary, run, wait_until


def bird_binaries():
    return {"bird": require_binary("bird", "BIRD 2 (bird)"),
            "birdc": require_binary("birdc", "BIRD 2 (birdc)")}


def _af(prefix):
    return "ipv6" if ":" in prefix else "ipv4"


def bird_community(c):
    a, b = c.split(":")
    return f"({a},{b})"


def bird_large(c):
    a, b, d = c.split(":")
    return f"({a},{b},{d})"


class BirdRouter:
    """A BIRD instance. Configure with add_* then start()."""

    def __init__(self, node, asn, router_id=None, name="bird"):
        self.bins = bird_binaries()
        self.node = node
        self.asn = asn
        self.router_id = router_id or node.v4
        self.name = name
        self.dir = os.path.join(node.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.ctl = os.path.join(self.dir, "bird.ctl")
        self.conf = os.path.join(self.dir, "bird.conf")
        self.statics = {}   # protocol name -> dict(af, routes, communities, large, med)
        self.peers = []     # dicts
        self.proc = None
        self.config_override = None

    # -- configuration ---------------------------------------------------------------

    def add_static(self, proto, prefixes, communities=(), large_communities=(), med=None,
                   enabled=True):
        """A static protocol originating `prefixes` (one family); its routes get these
        BGP attributes when exported to BGP peers."""
        afs = {_af(p) for p in prefixes}
        if len(afs) != 1:
            raise LabError("one family per static protocol")
        self.statics[proto] = dict(af=afs.pop(), prefixes=list(prefixes),
                                   communities=list(communities),
                                   large=list(large_communities), med=med, enabled=enabled)

    def add_peer(self, proto, local_address, neighbor, remote_as, extra=()):
        """One BGP session, carrying the family of its transport."""
        self.peers.append(dict(proto=proto, local=local_address, neighbor=neighbor,
                               remote_as=remote_as, af=_af(neighbor), extra=list(extra)))

    def use_config_file(self, path):
        """Run with this config file's text instead of the rendered one."""
        with open(path) as f:
            self.config_override = f.read()

    def render(self):
        if self.config_override is not None:
            return self.config_override
        L = ["# rendered by tests/integration/lab/bird.py",
             "log stderr all;", f"router id {self.router_id};",
             'timeformat log "%F %T.%3f";', 'timeformat protocol iso long;',
             "protocol device { scan time 10; }", ""]
        for name, s in self.statics.items():
            L.append(f"protocol static {name} {{")
            if not s["enabled"]:
                L.append("  disabled;")
            L.append(f"  {s['af']};")
            for p in s["prefixes"]:
                L.append(f"  route {p} blackhole;")
            L += ["}", ""]
        # Export filter: our statics, with their attributes; nothing learned is re-exported
        # unless a peer asks for it with extra lines.
        for af in ("ipv4", "ipv6"):
            L.append(f"filter export_{af} {{")
            for name, s in self.statics.items():
                if s["af"] != af:
                    continue
                L.append(f'  if proto = "{name}" then {{')
                for c in s["communities"]:
                    L.append(f"    bgp_community.add({bird_community(c)});")
                for c in s["large"]:
                    L.append(f"    bgp_large_community.add({bird_large(c)});")
                if s["med"] is not None:
                    L.append(f"    bgp_med = {s['med']};")
                L += ["    accept;", "  }"]
            L += ["  reject;", "}", ""]
        for p in self.peers:
            L += [f"protocol bgp {p['proto']} {{",
                  f"  local {p['local']} as {self.asn};",
                  f"  neighbor {p['neighbor']} as {p['remote_as']};",
                  "  connect delay time 1;", "  connect retry time 2;",
                  "  error wait time 1, 5;",
                  f"  {p['af']} {{ import all; export filter export_{p['af']}; }};"]
            L += [f"  {x}" for x in p["extra"]]
            L += ["}", ""]
        return "\n".join(L) + "\n"

    # -- process ---------------------------------------------------------------------

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.render())

    def start(self, timeout=15, recovery=False):
        """recovery: `bird -R`, graceful-restart recovery (after kill(): BIRD sets the
        Restart State and Forwarding State bits and waits for its peers' End-of-RIB)."""
        self.write_config()
        cp = run([self.bins["bird"], "-p", "-c", self.conf], check=False)
        if cp.returncode != 0:
            raise LabError(f"{self.name}: config rejected: {cp.stderr}{cp.stdout}\n{self.render()}")
        self.proc = self.node.spawn(self.name, [self.bins["bird"], "-f", "-c", self.conf, "-s", self.ctl,
                                                "-P", os.path.join(self.dir, "bird.pid")] +
                                    (["-R"] if recovery else []),
                                    logfile=os.path.join(self.node.dir, f"{self.name}.log"))
        wait_until(lambda: not self.proc.alive() or
                   (os.path.exists(self.ctl) and "BIRD" in self.birdc("show status", check=False)),
                   timeout, f"{self.name} control socket")
        if not self.proc.alive():
            raise LabError(f"{self.name} exited rc={self.proc.returncode()}:\n{self.proc.log_text()[-3000:]}")
        log(f"{self.name}: bird running in {self.node.ns} (AS {self.asn})")
        return self

    def reconfigure(self):
        """Write the current config and `birdc configure` it."""
        self.write_config()
        out = self.birdc("configure")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise LabError(f"{self.name}: configure failed: {out}")
        return out

    def stop(self):
        if self.proc:
            self.proc.stop()

    def kill(self, timeout=5):
        """SIGKILL bird, like a crash (no NOTIFICATION); waits until it is gone and
        removes its control socket so that a restart can bind it again."""
        import signal as _signal
        if self.proc and self.proc.alive():
            self.proc.send_signal(_signal.SIGKILL)
            self.proc.popen.wait(timeout)
        try:
            os.unlink(self.ctl)
        except FileNotFoundError:
            pass
        log(f"{self.name}: killed (SIGKILL)")

    def restart(self, timeout=15, recovery=True):
        """Start again after kill() with the configuration as rendered now; by default
        with graceful-restart recovery (`bird -R`). Output is appended to the same log."""
        return self.start(timeout=timeout, recovery=recovery)

    def log_text(self):
        return self.proc.log_text() if self.proc else ""

    # -- queries ---------------------------------------------------------------------

    def birdc(self, cmd, check=True, timeout=60):
        cp = run([self.bins["birdc"], "-s", self.ctl] + cmd.split(), check=check, timeout=timeout,
                 quiet=not check)
        return cp.stdout

    def protocol(self, proto):
        """Parsed `show protocols all PROTO`: dict with state, bgp_state, neighbor_as,
        local_as, imported, exported, raw."""
        out = self.birdc(f"show protocols all {proto}")
        info = {"raw": out}
        m = re.search(rf"^{re.escape(proto)}\s+BGP\s+\S+\s+(\S+)", out, re.M)
        info["state"] = m.group(1) if m else None
        for key, rx in (("bgp_state", r"BGP state:\s+(\S+)"), ("neighbor_as", r"Neighbor AS:\s+(\d+)"),
                        ("local_as", r"Local AS:\s+(\d+)"), ("neighbor_id", r"Neighbor ID:\s+(\S+)"),
                        ("last_error", r"Last error:\s+(.*)")):
            m = re.search(rx, out)
            info[key] = m.group(1).strip() if m else None
        for k in ("neighbor_as", "local_as"):
            if info[k] is not None:
                info[k] = int(info[k])
        m = re.search(r"Routes:\s+(\d+) imported(?:, (\d+) filtered)?, (\d+) exported", out)
        info["imported"] = int(m.group(1)) if m else 0
        info["exported"] = int(m.group(3)) if m else 0
        return info

    def neighbor_restarting(self, proto):
        """True while BIRD helps a restarting neighbour on `proto` (it keeps the
        neighbour's routes stale: "Neighbor graceful restart active")."""
        return "Neighbor graceful restart active" in self.birdc(f"show protocols all {proto}")

    def wait_established(self, proto, timeout=30):
        return wait_until(lambda: self.protocol(proto).get("bgp_state") == "Established", timeout,
                          f"{self.name}: protocol {proto} Established")

    def routes(self, args=""):
        """Parsed `show route all [args]`: {prefix: [route dicts]} where each route has
        proto, primary (bool), attributes from BGP.* lines (as_path, next_hop, med,
        local_pref, origin, community (list of 'a:b'), large_community (list 'a:b:c'))."""
        return parse_show_route_all(self.birdc(f"show route all {args}".strip(), timeout=120))


_ROUTE_RE = re.compile(r"^(\S+)?\s+(unicast|blackhole|unreachable|prohibited)\s+\[(\S+)\s[^\]]*\]\s*(\*)?")


def parse_show_route_all(text):
    routes = {}
    cur_prefix = None
    cur = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("BIRD ") or line.startswith("Table "):
            continue
        m = _ROUTE_RE.match(line)
        if m:
            if m.group(1):
                cur_prefix = m.group(1)
            cur = {"proto": m.group(3), "primary": bool(m.group(4)), "type": m.group(2),
                   "community": [], "large_community": [], "ext_community": []}
            routes.setdefault(cur_prefix, []).append(cur)
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("via "):
            cur["via"] = s.split()[1]
        elif s.startswith("BGP."):
            key, _, val = s[4:].partition(":")
            val = val.strip()
            if key == "community":
                cur["community"] = [f"{a}:{b}" for a, b in re.findall(r"\((\d+),\s*(\d+)\)", val)]
            elif key == "large_community":
                cur["large_community"] = [f"{a}:{b}:{c}" for a, b, c in
                                          re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", val)]
            elif key == "ext_community":
                cur["ext_community"] = re.findall(r"\(([^)]*)\)", val)
            elif key in ("med", "local_pref"):
                cur[key] = int(val)
            elif key == "origin":
                cur["origin"] = val.lower()
            elif key == "as_path":
                cur["as_path"] = val
            else:
                cur[key] = val
    return routes
