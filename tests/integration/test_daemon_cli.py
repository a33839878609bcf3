#!/usr/bin/env python3
"""tandemd's command line and process behaviour, without namespaces or root:
--version and --help exit 0; no arguments, an unknown flag, a missing config file or a
bad --log-format exit 2 with a message; `--log-format json` makes every log line a
JSON object with time, level and msg; `--log-level warn` hides info lines; SIGTERM
exits 0. The daemon listens on 127.0.0.1 only, on a free high port, with no peers.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import log  # noqa: E402
from lab.harness import check, main  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(td, *args):
    return subprocess.run([td, *args], capture_output=True, text=True, timeout=20)


def run_daemon(td, conf, *args):
    """Start tandemd, wait until it listens, SIGTERM it; return (rc, stderr)."""
    p = subprocess.Popen([td, "--config", conf, *args], stderr=subprocess.PIPE, text=True)
    port = int(open(conf).read().split("port = ")[1].split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=10)
    return p.returncode, err


def body(args):
    td = args.tandemd
    r = run(td, "--version")
    check(r.returncode == 0 and "tandemd" in r.stdout, f"--version: rc {r.returncode}, {r.stdout!r}")
    r = run(td, "--help")
    check(r.returncode == 0 and "--config" in r.stdout, f"--help: rc {r.returncode}")
    r = run(td)
    check(r.returncode == 2 and "--config" in r.stderr, f"no arguments: rc {r.returncode}, {r.stderr!r}")
    r = run(td, "--bogus")
    check(r.returncode == 2 and "bogus" in r.stderr, f"unknown flag: rc {r.returncode}, {r.stderr!r}")

    with tempfile.TemporaryDirectory() as d:
        missing = os.path.join(d, "missing.toml")
        r = run(td, "--config", missing)
        check(r.returncode == 2 and missing in r.stderr, f"missing config: rc {r.returncode}, {r.stderr!r}")

        conf = os.path.join(d, "tandemd.toml")
        with open(conf, "w") as f:
            f.write(f'[global]\nrouter_id = "192.0.2.1"\nlocal_as = 4200000100\n'
                    f'listen = ["127.0.0.1"]\nport = {free_port()}\n')
        r = run(td, "--config", conf, "--log-format", "xml")
        check(r.returncode == 2 and "xml" in r.stderr, f"bad --log-format: rc {r.returncode}, {r.stderr!r}")

        rc, err = run_daemon(td, conf, "--log-format", "json")
        check(rc == 0, f"SIGTERM exit code {rc}")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        check(len(lines) >= 3, f"json log: only {len(lines)} lines")
        for ln in lines:
            try:
                obj = json.loads(ln)
            except ValueError:
                check(False, f"log line is not JSON: {ln!r}")
            check(set(obj) == {"time", "level", "msg"}, f"JSON log keys: {sorted(obj)}")
        msgs = [json.loads(ln)["msg"] for ln in lines]
        check(any("listening on [127.0.0.1]" in m for m in msgs), f"json log lacks the listener line: {msgs}")
        check(any("SIGTERM" in m for m in msgs), "json log lacks the SIGTERM line")
        log(f"--log-format json: {len(lines)} lines, all JSON objects")

        rc, err = run_daemon(td, conf, "--log-level", "warn")
        check(rc == 0 and "[info]" not in err, f"--log-level warn still shows info lines: {err!r}")
        log("--log-level warn hides info lines; SIGTERM exits 0")


if __name__ == "__main__":
    main(body, root=False)
