"""FRR's bfdd next to an FrrRouter (its zebra, its instance directory), and nftables
rules that cut a node's BFD packets off.

Per LAB-NOTES: bfdd cannot skip run-as, so it runs as user frr in the FrrRouter's
frr-owned directory, with its own `--bfdctl` socket; 10 ms is its smallest interval.
It is a separate daemon with its own config file, so FrrRouter (bgpd) is not changed:
the BFD peers are configured here and queried with `show bfd peers json` through the
same vtysh directory.
"""

import os

from .util import LabError, Skip, log, require_binary, run, wait_until

BFDD = "/usr/lib/frr/bfdd"


def bfdd_binary():
    if not (os.path.isfile(BFDD) and os.access(BFDD, os.X_OK)):
        raise Skip(f"FRR bfdd not installed ({BFDD})")
    return BFDD


def nft_binary():
    return require_binary("nft", "nftables' nft (apt-get install nftables)")


def enable_bfd(td, peer_address, interval_ms=10, multiplier=3, **bfd):
    """[bfd] on a TandemNode (XDP on eth0 unless `bfd` says otherwise) and bfd = true
    on its peer at `peer_address`."""
    td.tables["bfd"] = {"enabled": True, "interfaces": ["eth0"], "desired_min_tx_ms": interval_ms,
                        "required_min_rx_ms": interval_ms, "detect_mult": multiplier, **bfd}
    for p in td.peers:
        if p["address"] == peer_address:
            p["bfd"] = True


class Bfdd:
    """bfdd in an FrrRouter's namespace and directory. add_peer() then start() (after
    the FrrRouter started: bfdd talks to its zebra for interfaces)."""

    def __init__(self, frr, name="bfdd"):
        self.bin = bfdd_binary()
        self.frr = frr
        self.node = frr.node
        self.name = name
        self.dir = frr.dir
        self.peers = []  # dicts
        self.proc = None

    def add_peer(self, address, local_address=None, interface="eth0", interval_ms=10, multiplier=3):
        self.peers.append(dict(address=address, local=local_address, interface=interface,
                               interval=interval_ms, mult=multiplier))

    def render(self):
        L = [f"hostname {self.frr.name}-bfdd", "log stdout informational", "log timestamp precision 3",
             "debug bfd peer", "!", "bfd"]
        for p in self.peers:
            head = f" peer {p['address']}"
            if p["local"]:
                head += f" local-address {p['local']}"
            if p["interface"]:
                head += f" interface {p['interface']}"
            L += [head, f"  receive-interval {p['interval']}", f"  transmit-interval {p['interval']}",
                  f"  detect-multiplier {p['mult']}", "  no shutdown", " !"]
        L += ["!"]
        return "\n".join(L) + "\n"

    def start(self, timeout=15):
        conf = os.path.join(self.dir, "bfdd.conf")
        with open(conf, "w") as f:
            f.write(self.render())
        os.chmod(conf, 0o644)
        self.ctl = os.path.join(self.dir, "bfdd.sock")
        self.proc = self.node.spawn(f"{self.frr.name}-{self.name}", [
            self.bin, "-f", conf, "-i", os.path.join(self.dir, "bfdd.pid"),
            "-z", os.path.join(self.dir, "zserv.api"), "--vty_socket", self.dir,
            "--bfdctl", self.ctl, "-A", "127.0.0.1", "-P", "0", "--log", "stdout"],
            logfile=os.path.join(self.dir, "bfdd.log"))
        wait_until(lambda: os.path.exists(os.path.join(self.dir, "bfdd.vty")) or not self.proc.alive(),
                   timeout, f"{self.name} vty socket")
        if not self.proc.alive():
            raise LabError(f"bfdd exited rc={self.proc.returncode()}:\n{self.proc.log_text()[-3000:]}")
        log(f"{self.frr.name}: bfdd running in {self.node.ns} ({len(self.peers)} peers)")
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()

    def peers_json(self):
        return self.frr.vtysh_json("show bfd peers json", timeout=10)

    def peer(self, address):
        """bfdd's view of one peer (dict: status, diagnostic, remote-diagnostic, id,
        remote-id, receive-interval, transmit-interval...), {} if unknown."""
        for p in self.peers_json():
            if p.get("peer") == address:
                return p
        return {}

    def status(self, address):
        return self.peer(address).get("status")

    def wait_status(self, address, status, timeout=15):
        return wait_until(lambda: self.status(address) == status and self.peer(address), timeout,
                          f"bfdd: peer {address} {status} (now {self.status(address)})", interval=0.1)

    def log_text(self):
        return self.proc.log_text() if self.proc else ""


class BfdCut:
    """An nftables table in a node's namespace dropping the BFD control packets the
    node sends (UDP to 3784, single hop): the node falls silent for its BFD peers while
    everything else (BGP) still flows. cut()/restore() may alternate."""

    def __init__(self, node, table="tandem_bfd_cut"):
        self.nft = nft_binary()
        self.node = node
        self.table = table
        self.active = False

    def _nft(self, script):
        cp = self.node.exec([self.nft, "-f", "-"], input=script, check=False, quiet=True)
        if cp.returncode != 0:
            raise LabError(f"nft in {self.node.ns} failed: {cp.stderr.strip()}\n{script}")

    def cut(self):
        self._nft(f"table inet {self.table} {{\n chain out {{\n  type filter hook output priority 0; policy accept;\n"
                  f"  udp dport 3784 drop\n }}\n}}\n")
        self.active = True

    def restore(self):
        if self.active:
            self._nft(f"delete table inet {self.table}\n")
            self.active = False
