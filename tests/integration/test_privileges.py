#!/usr/bin/env python3
"""Least privilege (docs/security.md): after start-up every thread of tandemd holds
exactly the capabilities its configuration needs, in the permitted, effective,
inheritable, ambient and bounding sets, with no_new_privs set:

1. the lab's default (port 179, no FIB): cap_net_bind_service only; the API socket
   has the default mode 0660, owner root:root, answers tandemctl, and refuses a
   non-root user;
2. [fib] + [bfd] over XDP on eth0, [api] socket_mode = "0600": + cap_net_admin,
   cap_perfmon, cap_bpf; the socket's mode is 0600;
3. a replication pair (primary A, standby B, no peers): A and B keep cap_net_admin,
   cap_net_raw and cap_net_bind_service; after `tandemctl ha switchover` A restarts
   itself as the standby (an exec in the same process) and holds exactly the same set
   again, not root's full set;
4. `--keep-capabilities`: every capability is kept.

The mTLS TCP listener (a client without a certificate, or with one from another CA, is
refused) is tested in tests/unit/api/tls_test.cpp.
"""

import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import TandemNode  # noqa: E402
from lab.topology import STANDBY, TANDEM, add_host  # noqa: E402

CAP = {"cap_net_bind_service": 10, "cap_net_admin": 12, "cap_net_raw": 13, "cap_sys_admin": 21,
       "cap_perfmon": 38, "cap_bpf": 39}
HA_PORT = 7179


def mask(*names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


def names(m):
    out = [n for n, b in CAP.items() if m & (1 << b)]
    other = m & ~mask(*CAP)
    return ",".join(out + ([hex(other)] if other else [])) or "none"


def thread_status(pid):
    """{tid: {field: value}} of every thread's /proc/PID/task/TID/status."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                out[tid] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except FileNotFoundError:
            pass
    return out


def check_caps(td, want, what):
    threads = thread_status(td.proc.pid)
    for tid, st in threads.items():
        for k in ("CapPrm", "CapEff", "CapInh", "CapAmb", "CapBnd"):
            got = int(st[k], 16)
            check(got == want, f"{what}: thread {tid} ({st['Name'].strip()}) {k} = {names(got)}, "
                               f"expected {names(want)}")
        check(st["NoNewPrivs"].strip() == "1", f"{what}: thread {tid} without no_new_privs")
    log(f"{what}: {len(threads)} threads hold exactly {names(want)} (permitted, effective, inheritable, "
        f"ambient, bounding), no_new_privs")
    return threads


def check_socket(td, mode, what):
    st = os.stat(td.api_socket)
    check(stat.S_ISSOCK(st.st_mode), f"{what}: {td.api_socket} is not a socket")
    check(stat.S_IMODE(st.st_mode) == mode, f"{what}: API socket mode {stat.S_IMODE(st.st_mode):04o}, "
                                            f"expected {mode:04o}")
    check((st.st_uid, st.st_gid) == (0, 0), f"{what}: API socket owner {st.st_uid}:{st.st_gid}")


def start(td, extra_args=()):
    """Start td and wait for its capabilities to be dropped (the line of this start)."""
    off = td.log_offset()
    td.start(extra_args=extra_args)
    if "--keep-capabilities" not in extra_args:
        td.wait_log(r"privileges: \d+ thread\(s\) keep only", timeout=10, since=off)
    return off


def write_key(path):
    with open(path, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)


def body(args):
    with Lab("privileges", keep=args.keep) as lab:
        tnode = add_host(lab, TANDEM)
        snode = add_host(lab, STANDBY)
        lab.wait_links()

        # 1. Defaults.
        td = TandemNode(tnode, args.tandemd, local_as=TANDEM.asn, tandemctl=args.tandemctl)
        start(td)
        threads = check_caps(td, mask("cap_net_bind_service"), "defaults")
        check(len(threads) > 1, "expected more than one thread (gRPC), the drop must reach them all")
        check_socket(td, 0o660, "defaults")
        if args.tandemctl:
            td.wait_api()
            # Any uid but root's group is refused by the socket's mode.
            r = subprocess.run(["ip", "netns", "exec", tnode.ns, "setpriv", "--reuid=65534", "--regid=65534",
                                "--clear-groups", args.tandemctl, "--socket", td.api_socket, "global"],
                               capture_output=True, text=True, timeout=20)
            check(r.returncode != 0, f"tandemctl as nobody was served: {r.stdout!r}")
            log(f"API socket 0660 root:root: root is served, nobody is refused ({r.stderr.strip()[:80]})")
        check(td.stop() == 0, "defaults: SIGTERM exit code")

        # 2. FIB and BFD over XDP; a stricter socket mode.
        td.tables["fib"] = {"enabled": True, "table": 100}
        td.tables["bfd"] = {"enabled": True, "receive_path": "auto", "interfaces": ["eth0"]}
        td.tables["api"] = {"socket_mode": "0600"}
        off = start(td)
        xdp = bool(td.log_lines(r"bfd: .*xdp", since=off))
        check_caps(td, mask("cap_net_bind_service", "cap_net_admin", "cap_perfmon", "cap_bpf"),
                   f"[fib] + [bfd] XDP ({'XDP loaded' if xdp else 'XDP not loaded here, kept by configuration'})")
        check_socket(td, 0o600, "socket_mode 0600")
        check(td.stop() == 0, "fib+bfd: SIGTERM exit code")

        # 3. A replication pair, and the restart as the standby after a switchover.
        key = os.path.join(lab.workdir, "ha.key")
        write_key(key)
        def ha_table(role, me, other, node_id):
            return {"role": role, "node_id": node_id, "key_file": key, "listen": f"{me}:{HA_PORT}",
                    "peer": f"{other}:{HA_PORT}", "connect_retry_ms": 200}
        td.tables = {"ha": ha_table("primary", TANDEM.v4, STANDBY.v4, "A")}
        sb = TandemNode(snode, args.tandemd, router_id=TANDEM.v4, local_as=TANDEM.asn, name="standby",
                        tandemctl=args.tandemctl)
        sb.tables = {"ha": ha_table("standby", STANDBY.v4, TANDEM.v4, "B")}
        ha_set = mask("cap_net_bind_service", "cap_net_admin", "cap_net_raw")
        start(td)
        start(sb)
        check_caps(td, ha_set, "[ha] primary A")
        check_caps(sb, ha_set, "[ha] standby B")
        if args.tandemctl:
            wait_until(lambda: td.ctl("ha").get("channel_state") == "in-sync", 15, "the standby in sync")
            pid = td.proc.pid
            off = td.log_offset()
            out = td.ctl("ha", "switchover", json=False, timeout=20)
            log(f"tandemctl ha switchover: {out.strip()}")
            wait_until(lambda: sb.ctl("ha").get("role") == "primary", 10, "B primary after the switchover")
            wait_until(lambda: len(td.log_lines(r"privileges: \d+ thread\(s\) keep only", since=off)) >= 1, 15,
                       "A restarted as the standby and dropped its capabilities")
            check(td.proc.alive() and td.proc.pid == pid, "A is the same process after its restart")
            check(td.log_lines(r"restarting as the standby", since=off), "A's log lacks its restart as the standby")
            check_caps(td, ha_set, "A after its restart as the standby (exec)")
        td.stop()
        sb.stop()

        # 4. --keep-capabilities.
        td.tables = {}
        off = start(td, ["--keep-capabilities"])
        td.wait_log(r"--keep-capabilities: every capability kept", timeout=10, since=off)
        st = thread_status(td.proc.pid)
        with open("/proc/self/status") as f:
            mine = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        full = int(mine["CapBnd"], 16)
        for tid, s in st.items():
            check(int(s["CapEff"], 16) == full, f"--keep-capabilities: thread {tid} CapEff {s['CapEff']}")
        log(f"--keep-capabilities: every thread keeps the full set {full:#x}")
        check(td.stop() == 0, "--keep-capabilities: SIGTERM exit code")


if __name__ == "__main__":
    main(body)
