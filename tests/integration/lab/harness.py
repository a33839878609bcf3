"""Entry point shared by the test scripts: arguments, skip rules, exit codes.

    def body(args): ...            # raise AssertionError (use check()) to fail
    if __name__ == "__main__":
        main(body, needs=("frr", "bird"))

Exit codes: 0 passed, 1 failed, 77 skipped (not root, a binary missing), 130 interrupted.
A test that made no check() at all fails: a test must assert something.
"""

import argparse
import os
import sys
import time
import traceback

from .util import SKIP_RC, LabError, Skip, log, require_binary, require_root

_checks = 0


def check(cond, msg):
    """Assert a real condition; counted so that a test asserting nothing fails."""
    global _checks
    _checks += 1
    if not cond:
        raise AssertionError(msg)


def checks_made():
    return _checks


def default_tandemd():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    for b in ("build", "build-release", "build-debug"):
        p = os.path.join(root, b, "apps", "tandemd", "tandemd")
        if os.path.exists(p):
            return p
    return os.path.join(root, "build", "apps", "tandemd", "tandemd")


def main(body, needs=(), tandemd=True, root=True, description=None):
    ap = argparse.ArgumentParser(description=description or (body.__module__ if body else None))
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD") or default_tandemd(),
                    help="path of the tandemd binary")
    ap.add_argument("--tandemctl", default=None,
                    help="path of the tandemctl binary (tests that use the API)")
    ap.add_argument("--keep", action="store_true", help="keep the lab's files after the run")
    args = ap.parse_args()
    t0 = time.monotonic()
    name = os.path.basename(sys.argv[0])
    try:
        if root:
            require_root()
        if "frr" in needs:
            from .frr import frr_binaries
            frr_binaries()
        if "bird" in needs:
            from .bird import bird_binaries
            bird_binaries()
        if tandemd:
            args.tandemd = require_binary(args.tandemd, "tandemd")
        body(args)
        if _checks == 0:
            raise AssertionError("the test made no checks")
    except Skip as e:
        print(f"SKIP {name}: {e}", flush=True)
        sys.exit(SKIP_RC)
    except KeyboardInterrupt:
        print(f"INTERRUPTED {name}", flush=True)
        sys.exit(130)
    except AssertionError as e:
        traceback.print_exc()
        print(f"FAIL {name}: {e}", flush=True)
        sys.exit(1)
    except (LabError, Exception) as e:
        traceback.print_exc()
        print(f"ERROR {name}: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
    log(f"PASS {name}: {_checks} checks in {time.monotonic() - t0:.1f}s")
    sys.exit(0)
