"""Small helpers shared by the lab: running commands, waiting, logging, skipping."""

import os
import shutil
import subprocess
import sys
import time

# ctest's SKIP_RETURN_CODE: a test that cannot run says why and exits with this.
SKIP_RC = 77

_T0 = time.monotonic()


def log(msg):
    """Progress message on stdout with the time since the start of the run."""
    print(f"[{time.monotonic() - _T0:7.2f}s] {msg}", flush=True)


class Skip(Exception):
    """Raised when a test cannot run here (not root, a binary missing...)."""


class LabError(Exception):
    """Something in the lab itself failed (a command, a daemon that would not start)."""


class WaitTimeout(AssertionError):
    """A condition did not become true in time. An AssertionError: the test failed."""


def require_root():
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces, running FRR/BIRD)")


def require_binary(path_or_name, what=None):
    """Return the absolute path of an executable or raise Skip naming it."""
    if os.sep in path_or_name:
        if os.path.isfile(path_or_name) and os.access(path_or_name, os.X_OK):
            return os.path.abspath(path_or_name)
        raise Skip(f"{what or 'binary'} not found or not executable: {path_or_name}")
    found = shutil.which(path_or_name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/lib/frr")
    if not found:
        raise Skip(f"{what or path_or_name} not installed (run scripts/setup as root)")
    return found


def run(cmd, *, check=True, timeout=30, input=None, quiet=False):
    """Run a command (list), return CompletedProcess with text stdout/stderr."""
    try:
        cp = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timeout after {timeout}s: {' '.join(cmd)}") from e
    if check and cp.returncode != 0:
        raise LabError(f"command failed (rc={cp.returncode}): {' '.join(cmd)}\n"
                       f"stdout: {cp.stdout.strip()}\nstderr: {cp.stderr.strip()}")
    if not quiet and cp.returncode != 0:
        log(f"(rc={cp.returncode}) {' '.join(cmd)}: {cp.stderr.strip()}")
    return cp


def wait_until(pred, timeout, what, interval=0.2):
    """Poll pred() until it returns a truthy value; return it. On timeout raise
    WaitTimeout mentioning `what` and the last value or exception seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            val = pred()
            if val:
                return val
            last = val
        except (LabError, OSError, ValueError, KeyError) as e:  # not ready yet
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what} (last: {str(last)[:800]})")
        time.sleep(interval)


def tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            data = f.readlines()
    except OSError as e:
        return f"<cannot read {path}: {e}>\n"
    return "".join(data[-lines:])


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
