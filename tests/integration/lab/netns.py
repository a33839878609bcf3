"""Network namespaces, one bridge, veth pairs and addresses — and their teardown.

Topology: every node gets its own namespace `<prefix><node>` with one interface
`eth0`, whose veth peer `p-<node>` sits in the switch namespace `<prefix>sw` and is
enslaved to bridge `br0`. Addresses exist only inside the node namespaces; nothing is
created in the caller's namespace, so nothing can leak out of the lab.

`<prefix>` is `td<pid>-<n>-`: unique per process and per Lab. Teardown is guaranteed
as far as Python can guarantee it: Lab is a context manager, every Lab is also torn
down by atexit and on SIGTERM/SIGHUP (turned into SystemExit), and each new Lab first
removes namespaces left behind by lab processes that no longer exist (e.g. after a
SIGKILL by ctest's timeout), killing whatever still runs inside them.
"""

import atexit
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager

from .util import SKIP_RC, LabError, Skip, log, run, tail

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1

_NS_RE = re.compile(r"^td(\d+)-\d+-")
_counter = itertools.count()
_live_labs = []


@contextmanager
def in_netns(ns):
    """Run the body (this thread only) inside network namespace `ns`. Sockets created
    in the body stay in that namespace after the body returns."""
    cur = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    tgt = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(tgt, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}): {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(cur, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns(back): {os.strerror(err)}")
    finally:
        os.close(tgt)
        os.close(cur)


def _pdeathsig():
    # Children die with the test process even if it is SIGKILLed (cleared when a
    # daemon changes its uid, e.g. zebra -> user frr; stale cleanup covers those).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setpgrp()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_netns():
    cp = run(["ip", "netns", "list"], check=False, quiet=True)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def kill_netns_processes(ns, grace=3.0):
    """SIGTERM everything still running in `ns`, then SIGKILL what remains."""
    def pids():
        cp = run(["ip", "netns", "pids", ns], check=False, quiet=True)
        return [int(p) for p in cp.stdout.split() if p.isdigit()]
    left = pids()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in left:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline:
            left = pids()
            if not left:
                return
            time.sleep(0.05)
    if left:
        log(f"warning: processes {left} survive in namespace {ns}")


def delete_netns(ns):
    kill_netns_processes(ns)
    run(["ip", "netns", "del", ns], check=False, quiet=True)


def cleanup_stale():
    """Remove namespaces of earlier lab runs whose process is gone."""
    for ns in list_netns():
        m = _NS_RE.match(ns)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            log(f"removing stale namespace {ns} (owner pid {m.group(1)} is gone)")
            delete_netns(ns)


class Proc:
    """A daemon started by the lab, its output going to a log file."""

    def __init__(self, name, argv, logfile, ns=None, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.logfile = logfile
        self.ns = ns
        full = (["ip", "netns", "exec", ns] if ns else []) + argv
        self._logf = open(logfile, "ab", buffering=0)
        self.popen = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=self._logf,
                                      stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                      preexec_fn=_pdeathsig)
        self.pid = self.popen.pid  # `ip netns exec` execs the command: same pid

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def send_signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """Stop gracefully (sig), SIGKILL after timeout. Returns the exit code."""
        if self.alive():
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not exit within {timeout}s of signal {sig}: SIGKILL")
                self.popen.kill()
                self.popen.wait(5)
        try:
            self._logf.close()
        except OSError:
            pass
        return self.popen.returncode

    def log_text(self):
        try:
            with open(self.logfile, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Node:
    """One namespace with an eth0 on the lab bridge."""

    def __init__(self, lab, name, ns, v4, v6):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.v4 = v4  # address without prefix length, e.g. "192.0.2.2"
        self.v6 = v6
        self.dir = os.path.join(lab.workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)

    def exec(self, argv, **kw):
        return run(["ip", "netns", "exec", self.ns] + argv, **kw)

    def spawn(self, name, argv, logfile=None, **kw):
        p = Proc(f"{self.name}/{name}", argv, logfile or os.path.join(self.dir, f"{name}.log"),
                 ns=self.ns, **kw)
        self.lab.procs.append(p)
        return p

    @contextmanager
    def netns(self):
        with in_netns(self.ns):
            yield

    def __repr__(self):
        return f"Node({self.name}, {self.v4}, {self.v6})"


class Lab:
    """A set of namespaces on one bridge. Use as a context manager."""

    V4_NET = "192.0.2.0/24"     # TEST-NET-1, only inside the namespaces
    V6_NET = "2001:db8::/64"    # documentation prefix

    def __init__(self, name="lab", keep=False):
        self.name = name
        self.keep = keep
        self.prefix = f"td{os.getpid()}-{next(_counter)}-"
        self.workdir = tempfile.mkdtemp(prefix=f"tandem-{name}-")
        os.chmod(self.workdir, 0o755)
        self.namespaces = []
        self.nodes = {}
        self.procs = []
        self.cleanups = []  # extra callables run first at teardown (LIFO)
        self.failed = False
        self._torn_down = False
        self._lock = threading.Lock()
        cleanup_stale()
        _live_labs.append(self)
        _install_handlers()
        self.switch_ns = self._add_ns("sw")
        self.exec_ns(self.switch_ns, ["ip", "link", "add", "br0", "type", "bridge"])
        self.exec_ns(self.switch_ns, ["ip", "link", "set", "br0", "up"])

    # -- construction ----------------------------------------------------------------

    def _add_ns(self, short):
        ns = self.prefix + short
        run(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        self.exec_ns(ns, ["ip", "link", "set", "lo", "up"])
        # No IPv6 duplicate address detection: v6 sessions come up at once.
        self.exec_ns(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
                          "net.ipv6.conf.default.accept_dad=0",
                          "net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1"])
        return ns

    def exec_ns(self, ns, argv, **kw):
        return run(["ip", "netns", "exec", ns] + argv, **kw)

    def add_node(self, name, v4, v6):
        """Namespace `name` with eth0 = v4/24 and v6/64 on the bridge."""
        if name in self.nodes:
            raise LabError(f"node {name} exists")
        ns = self._add_ns(name)
        peer = f"p-{name}"[:15]
        run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth",
             "peer", "name", peer, "netns", self.switch_ns])
        self.exec_ns(self.switch_ns, ["ip", "link", "set", peer, "master", "br0", "up"])
        self.exec_ns(ns, ["ip", "addr", "add", f"{v4}/24", "dev", "eth0"])
        self.exec_ns(ns, ["ip", "-6", "addr", "add", f"{v6}/64", "dev", "eth0", "nodad"])
        self.exec_ns(ns, ["ip", "link", "set", "eth0", "up"])
        node = Node(self, name, ns, v4, v6)
        self.nodes[name] = node
        return node

    def wait_links(self, timeout=10):
        """Wait until every node's IPv6 address is usable (not tentative) and link up."""
        from .util import wait_until
        for node in self.nodes.values():
            wait_until(lambda: "tentative" not in node.exec(["ip", "-6", "addr", "show", "dev", "eth0"]).stdout
                       and "LOWER_UP" in node.exec(["ip", "link", "show", "eth0"]).stdout,
                       timeout, f"{node.name} eth0 up")

    def reach(self, src, dst_addr, timeout=10):
        """Wait until src (Node) reaches dst_addr: a TCP connect to the discard port
        must be answered (refused or accepted) rather than time out. No ping needed."""
        import socket
        from .util import wait_until

        def probe():
            fam = socket.AF_INET6 if ":" in dst_addr else socket.AF_INET
            with in_netns(src.ns):
                s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect((dst_addr, 9))
                return True
            except ConnectionRefusedError:
                return True
            except OSError:
                return False
            finally:
                s.close()
        wait_until(probe, timeout, f"{src.name} reaching {dst_addr}")

    # -- teardown --------------------------------------------------------------------

    def dump_logs(self, lines=80):
        """Print the tail of every daemon log: called when a test fails."""
        print(f"===== lab {self.name}: logs (workdir {self.workdir}) =====", flush=True)
        for p in self.procs:
            state = "running" if p.alive() else f"exited rc={p.returncode()}"
            print(f"----- {p.name} ({state}) {p.logfile} -----")
            print(tail(p.logfile, lines), end="", flush=True)
        print("===== end of logs =====", flush=True)

    # What a sanitizer build's daemon writes to stderr (its log here) when it finds
    # something: UBSan's "file:line:col: runtime error: ...", ASan's and LSan's headers.
    _SANITIZER_RE = re.compile(r"runtime error: |ERROR: (Address|Leak|UndefinedBehavior)Sanitizer")

    def _collect_sanitizer_reports(self):
        """`make test-sanitize` (tests/sanitizers/run) sets TANDEM_SANITIZER_REPORTS to
        a directory and fails when anything lands there. ASan writes its reports there
        itself (log_path), but GCC's UBSan runtime ignores log_path and writes to stderr,
        which is a daemon's log here: a report in a log that no check reads (at SIGTERM,
        say) would pass unseen, so every daemon log holding one is copied there."""
        out = os.environ.get("TANDEM_SANITIZER_REPORTS")
        if not out:
            return
        for p in self.procs:
            text = p.log_text()
            if not self._SANITIZER_RE.search(text):
                continue
            dest = os.path.join(out, f"lab.{self.name}.{p.name.replace('/', '_')}.{p.pid}.log")
            try:
                with open(dest, "w") as f:
                    f.write(f"{p.name} ({' '.join(map(str, p.argv))}), log {p.logfile}:\n{text}")
            except OSError as e:
                log(f"cannot copy {p.name}'s sanitizer report to {dest}: {e}")
            log(f"sanitizer report in {p.name}'s log {p.logfile} (copied to {dest})")

    def teardown(self):
        with self._lock:
            if self._torn_down:
                return
            self._torn_down = True
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as e:  # teardown must go on
                log(f"cleanup {fn}: {e}")
        for p in reversed(self.procs):
            try:
                p.stop(timeout=5)
            except Exception as e:
                log(f"stopping {p.name}: {e}")
        self._collect_sanitizer_reports()
        for ns in reversed(self.namespaces):
            delete_netns(ns)
        if self.keep or self.failed:
            log(f"lab files kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self in _live_labs:
            _live_labs.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None:
            if issubclass(etype, Skip):
                pass
            elif not issubclass(etype, SystemExit) or exc.code not in (0, None, SKIP_RC):
                self.failed = True
        if self.failed:
            # The reason first as well as last (harness.main prints it after the logs):
            # a CI excerpt that shows only part of a long dump still names it.
            if etype is not None:
                log(f"lab {self.name} failed: {etype.__name__}: {exc}")
            try:
                self.dump_logs()
            except Exception as e:
                log(f"dumping logs: {e}")
        self.teardown()
        return False


def _teardown_all():
    for lab in list(_live_labs):
        try:
            lab.teardown()
        except Exception as e:
            log(f"teardown of {lab.name}: {e}")


_handlers_installed = False


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_teardown_all)
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum, _frame):
            raise SystemExit(128 + signum)
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, on_signal)
