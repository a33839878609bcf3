#!/usr/bin/env python3
"""`tandemd --check-config FILE`: exit 0 for the shipped configs (etc/tandemd.toml,
etc/lab/tandemd.toml, the HA pair etc/primary.toml and etc/standby.toml), exit 2 for
broken ones, with a message naming the file, the line and the key. Needs neither root
nor namespaces.

Broken configs (written to a temporary directory), each from a valid base:
  missing router_id, a bad peer address, an unknown key, a value of the wrong type,
  a duplicate peer address, a bad prefix in [[network]].
Also: a minimal valid config passes, and a file that is not TOML at all fails with 2.
The peer configs in etc/lab are checked by BIRD (`bird -p`) and, as root, by FRR
(`bgpd -C`) when those are installed.
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import log  # noqa: E402
from lab.harness import check, main  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

BASE = """\
[global]
router_id = "192.0.2.1"
local_as = 4200000100
state_dump = "/tmp/tandemd-check-config-state.json"

[[peer]]
address = "192.0.2.2"
remote_as = 4200000001
description = "first"

[[peer]]
address = "2001:db8::3"
remote_as = 4200000200
families = ["ipv6-unicast"]

[[network]]
prefix = "198.51.100.0/24"
"""

def broken_cases():
    """name -> (config text, key the message must name, acceptable line numbers or None)."""
    def replace(old, new):
        assert old in BASE, old
        return BASE.replace(old, new, 1)

    def line_of(text, needle, nth=1):
        n = 0
        for i, ln in enumerate(text.splitlines(), 1):
            if needle in ln:
                n += 1
                if n == nth:
                    return i
        raise AssertionError(needle)

    cases = {}
    t = replace('router_id = "192.0.2.1"\n', "")
    cases["missing_router_id"] = (t, "router_id", None)
    t = replace('address = "192.0.2.2"', 'address = "192.0.2.300"')
    cases["bad_address"] = (t, "address", {line_of(t, "192.0.2.300")})
    t = replace('description = "first"', 'description = "first"\ncolour = "blue"')
    cases["unknown_key"] = (t, "colour", {line_of(t, "colour")})
    t = replace("local_as = 4200000100", 'local_as = "lots"')
    cases["bad_type"] = (t, "local_as", {line_of(t, "local_as")})
    t = BASE + '\n[[peer]]\naddress = "192.0.2.2"\nremote_as = 4200000009\n'
    cases["duplicate_peer"] = (t, "address", {line_of(t, "[[peer]]", 3), line_of(t, 'address = "192.0.2.2"', 2)})
    t = replace('prefix = "198.51.100.0/24"', 'prefix = "198.51.100.0/33"')
    cases["bad_prefix"] = (t, "prefix", {line_of(t, "198.51.100.0/33")})
    return cases


def run_check(tandemd, path):
    cp = subprocess.run([tandemd, "--check-config", path], capture_output=True, text=True, timeout=30)
    return cp.returncode, cp.stdout + cp.stderr


def body(args):
    td = args.tandemd
    # primary/standby: the HA example pair (key_file is only required, not opened).
    for cfg in ("etc/tandemd.toml", "etc/lab/tandemd.toml", "etc/primary.toml", "etc/standby.toml"):
        rc, out = run_check(td, os.path.join(ROOT, cfg))
        check(rc == 0, f"--check-config {cfg}: exit {rc}, output:\n{out}")
        log(f"{cfg}: accepted")

    with tempfile.TemporaryDirectory(prefix="tandem-check-config-") as tmp:
        path = os.path.join(tmp, "minimal.toml")
        with open(path, "w") as f:
            f.write(BASE)
        rc, out = run_check(td, path)
        check(rc == 0, f"minimal valid config rejected (exit {rc}):\n{out}")

        path = os.path.join(tmp, "not-toml.toml")
        with open(path, "w") as f:
            f.write("[global\nrouter_id = \n")
        rc, out = run_check(td, path)
        check(rc == 2, f"not-TOML file: exit {rc} (want 2):\n{out}")
        check(path in out or "not-toml.toml" in out, f"not-TOML: message does not name the file:\n{out}")

        for name, (text, key, want_lines) in broken_cases().items():
            path = os.path.join(tmp, f"{name}.toml")
            with open(path, "w") as f:
                f.write(text)
            rc, out = run_check(td, path)
            check(rc == 2, f"{name}: exit {rc} (want 2), output:\n{out}")
            check(path in out, f"{name}: message does not name the file {path}:\n{out}")
            check(key in out, f"{name}: message does not name the key '{key}':\n{out}")
            got_lines = {int(m) for m in re.findall(re.escape(path) + r":(\d+)", out)}
            if want_lines is not None:
                check(got_lines & want_lines, f"{name}: message does not name line {sorted(want_lines)} "
                      f"(named {sorted(got_lines)}):\n{out}")
            first = next((ln for ln in out.splitlines() if path in ln), out.strip().splitlines()[0])
            log(f"{name}: exit 2: {first.strip()}")

    # The lab's peer configs are valid for their daemons too.
    bird = "/usr/sbin/bird"
    if os.access(bird, os.X_OK):
        cp = subprocess.run([bird, "-p", "-c", os.path.join(ROOT, "etc/lab/bird.conf")],
                            capture_output=True, text=True, timeout=30)
        check(cp.returncode == 0, f"bird -p etc/lab/bird.conf: {cp.stderr}")
        log("etc/lab/bird.conf: accepted by bird -p")
    bgpd = "/usr/lib/frr/bgpd"
    if os.geteuid() == 0 and os.access(bgpd, os.X_OK):
        with tempfile.TemporaryDirectory(prefix="tandem-check-frr-") as tmp:
            cp = subprocess.run([bgpd, "-C", "-S", "-Z", "-f", os.path.join(ROOT, "etc/lab/frr.conf"),
                                 "--vty_socket", tmp, "-i", os.path.join(tmp, "bgpd.pid"), "-p", "0",
                                 "-P", "0", "--log", "stdout"],
                                capture_output=True, text=True, timeout=30)
        check(cp.returncode == 0 and "[EC " not in cp.stdout + cp.stderr,  # errors: "[EC n] No such command"
              f"bgpd -C etc/lab/frr.conf: rc {cp.returncode}\n{cp.stdout}{cp.stderr}")
        log("etc/lab/frr.conf: accepted by bgpd -C")


if __name__ == "__main__":
    main(body, root=False)
