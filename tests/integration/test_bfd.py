#!/usr/bin/env python3
"""BFD (issue 5, items 5a, 5b and 5c): tandemd's healthbpf driver against FRR's bfdd,
10 ms x 3, received through XDP, or with `--receive-path user-space` (or
BFD_RECEIVE_PATH=user-space) through the fallback receiver with BPF disabled by
configuration ([bfd] receive_path = "user-space"; ctest integration.bfd_user_space).
The run asserts the path tandemd reports (its log line and `tandemctl bfd`: "xdp-*" or
"user-space"). The user-space run does 10 detection trials instead of 20 to keep CI
short (BFD_TRIALS overrides either).

(a) The session comes Up, as both sides see it (states, discriminators, intervals).
    FRR is cut off (an nftables rule in FRR's namespace drops the BFD packets it
    sends) and tandemd declares it Down: 20 trials, detection measured from tandemd's
    log (time since the last packet received, and since the cut command), asserted far
    inside the BGP hold time (< 1 s), median and worst printed. The reverse: tandemd's
    BFD packets are dropped and FRR's bfdd detects it.
(b) Coupling: the BGP peer to FRR over IPv4 has bfd = true; after the cut its BGP
    session drops within that time (long before the 90 s hold timer) while the IPv6
    session (no bfd) stays up; it is re-established after the rule is removed.
"""

import os
import re
import statistics
import sys
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.bfdd import BfdCut, Bfdd, bfdd_binary, enable_bfd, nft_binary  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import log_time, require_tandemctl  # noqa: E402
from lab.topology import FRR, TANDEM, StandardLab  # noqa: E402



def _receive_path():
    """--receive-path xdp|user-space (taken out of argv before the harness parses it),
    else $BFD_RECEIVE_PATH, else xdp."""
    import argparse
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--receive-path", choices=("xdp", "user-space"), default=None)
    ns, rest = ap.parse_known_args(sys.argv[1:])
    sys.argv[1:] = rest
    return ns.receive_path or os.environ.get("BFD_RECEIVE_PATH", "xdp")


RECEIVE_PATH = _receive_path()
TRIALS = int(os.environ.get("BFD_TRIALS", "20" if RECEIVE_PATH == "xdp" else "10"))
REVERSE_TRIALS = int(os.environ.get("BFD_REVERSE_TRIALS", "5"))
HOLD_TIME = 90
BOUND_MS = 1000.0  # "far inside the hold time"; the tight bound is bench/heartbeat's job

FRR_TS_RE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3})")


def frr_log_time(line):
    m = FRR_TS_RE.match(line)
    return datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f").timestamp() if m else None


def td_session(td, peer=FRR.v4):
    r = td.ctl("bfd")
    for s in r.get("sessions", []):
        if s["peer"] == peer:
            return r, s
    raise AssertionError(f"tandemctl bfd has no session with {peer}: {r}")


def wait_both_up(td, bfdd, timeout=15):
    bfdd.wait_status(TANDEM.v4, "up", timeout=timeout)
    wait_until(lambda: td_session(td)[1]["local_state"] == "Up", timeout, "tandemd: BFD session Up", interval=0.1)


def settle(td, bfdd, quiet=0.5, tries=10):
    """Both sides Up, then no Down for `quiet` seconds."""
    for _ in range(tries):
        wait_both_up(td, bfdd)
        off = td.log_offset()
        time.sleep(quiet)
        if not td.log_lines(r"bfd: peer .* Up -> Down", since=off):
            return
        log("note: spurious BFD Down while settling (machine stall); waiting again")
    raise AssertionError("the BFD session does not stay Up")


def stats(label, values):
    med, worst = statistics.median(values), max(values)
    log(f"[ measured ] {label}: median {med:.1f} ms, worst {worst:.1f} ms, best {min(values):.1f} ms "
        f"over {len(values)} trials")
    return med, worst


def body(args):
    bfdd_binary()
    nft_binary()
    args.tandemctl = require_tandemctl(args.tandemctl or os.path.join(
        os.path.dirname(os.path.dirname(args.tandemd)), "tandemctl", "tandemctl"))
    with Lab("bfd", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, frr=True, bird=False, tandem_networks=False)
        td, frr = top.tandem, top.frr
        td.tandemctl = args.tandemctl
        td.log_["level"] = "info"
        td.peer_defaults["hold_time"] = HOLD_TIME
        enable_bfd(td, FRR.v4, receive_path=RECEIVE_PATH)
        top.start(timeout=40)
        bfdd = Bfdd(frr)
        bfdd.add_peer(TANDEM.v4, local_address=FRR.v4, interval_ms=10, multiplier=3)
        bfdd.start()
        frr_cut, td_cut = BfdCut(top.fnode), BfdCut(top.tnode)

        # --- (a) Up, as both sides see it ---------------------------------------------
        wait_both_up(td, bfdd, timeout=20)
        path_line = td.log_lines(r"bfd: receive path")
        check(path_line, "tandemd logs which receive path is active")
        log(f"tandemd: {path_line[0]}")
        want_path = "xdp" if RECEIVE_PATH == "xdp" else "user-space"
        check(f"bfd: receive path {want_path}" in path_line[0], f"tandemd's log: receive path {want_path}")
        check(not td.log_lines(r"falling back to the user-space receiver"), "no fallback: the configured path")
        settle(td, bfdd)  # poll sequences over, a few dozen packets exchanged
        resp, s = td_session(td)
        f = bfdd.peer(TANDEM.v4)
        check(resp.get("path", "").startswith(want_path), f"tandemctl bfd path {resp.get('path')} ({want_path} wanted)")
        if want_path == "user-space":
            check(not resp.get("interfaces"), f"no XDP attachment on the user-space path: {resp.get('interfaces')}")
        check(f.get("status") == "up" and s["remote_state"] == "Up", f"FRR {f.get('status')}, tandemd remote {s['remote_state']}")
        check(int(f.get("remote-id", 0)) == int(s["local_discriminator"]),
              f"FRR's remote-id {f.get('remote-id')} is tandemd's discriminator {s['local_discriminator']}")
        check(int(s["remote_discriminator"]) == int(f.get("id", -1)),
              f"tandemd's remote discriminator {s['remote_discriminator']} is FRR's id {f.get('id')}")
        check(int(s["tx_interval_us"]) == 10000 and int(s["rx_interval_us"]) == 10000 and int(s["detect_time_us"]) == 30000,
              f"tandemd negotiated 10 ms / 30 ms: {s}")
        check(f.get("transmit-interval") == 10 and f.get("receive-interval") == 10,
              f"FRR negotiated 10 ms: tx {f.get('transmit-interval')} rx {f.get('receive-interval')}")
        check(int(s["packets_in"]) > 10 and int(s["packets_out"]) > 10, f"packets flow both ways: {s}")
        text = td.ctl("bfd", json=False)
        check(FRR.v4 in text and "Up" in text and f"Receive path: {want_path}" in text, f"tandemctl bfd table:\n{text}")
        log(f"tandemctl bfd:\n{text}")
        detail = td.ctl("bfd", FRR.v4, json=False)
        check("detect time 30 ms" in detail and "valid" in detail, f"tandemctl bfd {FRR.v4}:\n{detail}")
        log(f"tandemctl bfd {FRR.v4}:\n{detail}")
        td.wait_peer(FRR.v4, timeout=30)
        td.wait_peer(FRR.v6, timeout=30)
        v6_connections = frr.neighbor(TANDEM.v6).get("connectionsEstablished")

        # --- (a) FRR cut off: tandemd detects, TRIALS times --------------------------------
        # This 2-core machine can stall both daemons for longer than the 30 ms detection
        # time (a true detection, reported, not failed): a Down logged before the cut is
        # noted and the trial repeated.
        since_last, since_cut, spurious = [], [], 0
        while len(since_last) < TRIALS:
            settle(td, bfdd)
            off = td.log_offset()
            t_before = time.time()
            frr_cut.cut()
            t_after = time.time()
            lines = td.wait_log(rf"bfd: peer {re.escape(FRR.v4)} Up -> Down", timeout=5, since=off)
            t_down = log_time(lines[0])
            frr_cut.restore()
            if t_down < t_before - 0.002 or "Control Detection Time Expired" not in lines[0]:
                spurious += 1
                log(f"note: BFD Down before the cut (machine stall), trial repeated: {lines[0]}")
                check(spurious <= 10, "too many spurious BFD Downs: the machine is too loaded for 10 ms BFD")
                continue
            m = re.search(r"last packet ([\d.]+) ms ago", lines[0])
            check(m, f"tandemd logs the time since the last packet: {lines[0]}")
            since_last.append(float(m.group(1)))
            since_cut.append((t_down - t_before) * 1000.0)
            check(since_cut[-1] < BOUND_MS, f"trial {len(since_cut)}: detected {since_cut[-1]:.1f} ms after the cut")
            log(f"trial {len(since_last)}: Down {since_last[-1]:.1f} ms after FRR's last packet, "
                f"{since_cut[-1]:.1f} ms after the cut started (nft took {(t_after - t_before) * 1000:.1f} ms)")
        med, worst = stats("(a) tandemd detects FRR's silence, since FRR's last packet", since_last)
        stats("(a) tandemd detects FRR's silence, since the nft command started", since_cut)
        check(worst < BOUND_MS, f"worst detection {worst:.1f} ms is far inside the hold time")
        check(med >= 20.0, f"median {med:.1f} ms: not before the (jittered) detection time could pass")
        if spurious:
            log(f"note: {spurious} spurious Down(s) from machine stalls were not counted")

        # --- (b) the BGP session with bfd = true drops at once, comes back after ---------
        for attempt in range(5):
            settle(td, bfdd)
            td.wait_peer(FRR.v4, timeout=30)
            frr.wait_established(TANDEM.v4, timeout=30)
            off = td.log_offset()
            t_before = time.time()
            frr_cut.cut()
            bl = td.wait_log(rf"peer {re.escape(FRR.v4)}.*BFD session down", timeout=5, since=off)
            t_bgp = log_time(bl[0])
            if t_bgp >= t_before - 0.002:
                break
            frr_cut.restore()
            log(f"note: BFD Down before the cut (machine stall), repeated: {bl[0]}")
        check("closing the BGP session now" in bl[0], f"the BGP session was Established: {bl[0]}")
        bgp_ms = (t_bgp - t_before) * 1000.0
        check(bgp_ms < BOUND_MS, f"BGP session closed {bgp_ms:.0f} ms after the cut (hold time {HOLD_TIME} s)")
        log(f"[ measured ] (b) BGP session with bfd = true closed {bgp_ms:.1f} ms after the cut "
            f"(hold time {HOLD_TIME} s)")
        wait_until(lambda: td.state().peer_state(FRR.v4) != "Established", 5,
                   "tandemd's BGP session with FRR v4 going down")
        time.sleep(2.5)  # > connect_retry (2 s) of both sides
        check(td.state().peer_state(FRR.v4) != "Established", "no BGP session while BFD is down (reconnects blocked)")
        check(td.state().peer_state(FRR.v6) == "Established", "the IPv6 session (no bfd) is untouched")
        frr_cut.restore()
        t0 = time.monotonic()
        wait_both_up(td, bfdd)
        td.wait_peer(FRR.v4, timeout=30)
        frr.wait_established(TANDEM.v4, timeout=30)
        log(f"(b) BGP session re-established {time.monotonic() - t0:.1f} s after the rule was removed")
        check(frr.neighbor(TANDEM.v6).get("connectionsEstablished") == v6_connections,
              "the IPv6 BGP session (no bfd) was never reset")

        # --- (a) the reverse: tandemd's BFD packets dropped, FRR's bfdd detects -------------
        rev, rev_polled = [], False
        while len(rev) < REVERSE_TRIALS:
            settle(td, bfdd)
            n_before = len(re.findall(r"up -> down", bfdd.log_text(), re.I))
            t_before = time.time()
            td_cut.cut()
            f = bfdd.wait_status(TANDEM.v4, "down", timeout=5)
            t_poll = time.time()
            td_cut.restore()
            check("expired" in str(f.get("diagnostic")), f"FRR's diagnostic: {f.get('diagnostic')}")
            down_lines = [ln for ln in bfdd.log_text().splitlines() if re.search(r"up -> down", ln, re.I)]
            t_frr = frr_log_time(down_lines[n_before]) if len(down_lines) > n_before else None
            if t_frr is not None and t_frr < t_before - 0.002:
                log(f"note: FRR's Down before the cut (machine stall), repeated: {down_lines[n_before]}")
                continue
            rev_polled = rev_polled or t_frr is None
            rev.append(((t_frr if t_frr is not None else t_poll) - t_before) * 1000.0)
            check(rev[-1] < BOUND_MS, f"reverse trial {len(rev)}: FRR detected after {rev[-1]:.1f} ms")
        stats("(a) FRR's bfdd detects tandemd's silence, since the nft command started"
              + (" (polled)" if rev_polled else " (bfdd's log)"), rev)

        td.wait_peer(FRR.v4, timeout=30)
        resp, s = td_session(td)
        check(int(s["down_transitions"]) >= TRIALS, f"tandemd counted its Downs: {s}")
        counters = {c["name"]: int(c["value"]) for c in resp.get("counters", [])}
        log(f"tandemd receive counters: {counters}")
        check(counters.get("valid", 0) > 100, f"valid packets counted on the receive path: {counters}")

        # --- (e) peers deleted and added through the API take their BFD session along ---
        # Deleted: its session says AdminDown, which FRR's bfdd shows as the remote's
        # diagnostic. Added back with bfd: a new session (new discriminator) comes Up and
        # the BGP session is established again.
        pc = next(p for p in td.peers if p["address"] == FRR.v4)
        old_disc = int(td_session(td)[1]["local_discriminator"])
        td.ctl("neighbor", "del", FRR.v4, json=False)
        wait_until(lambda: "admin" in str(bfdd.peer(TANDEM.v4).get("remote-diagnostic", "")).lower(), 5,
                   f"FRR's bfdd sees tandemd's AdminDown ({bfdd.peer(TANDEM.v4)})", interval=0.05)
        check(not any(x["peer"] == FRR.v4 for x in td.ctl("bfd").get("sessions", [])),
              "the deleted peer's BFD session is gone from tandemctl bfd")
        check(td.log_lines(r"bfd: session with " + re.escape(FRR.v4) + r" removed"), "tandemd logs the removal")
        td.ctl("neighbor", "add", FRR.v4, "as", str(pc["remote_as"]), "bfd", "bfd-tx", "10", "bfd-rx", "10",
               "bfd-mult", "3", json=False)
        wait_both_up(td, bfdd, timeout=20)
        new_disc = int(td_session(td)[1]["local_discriminator"])
        check(new_disc != old_disc, f"the API peer's session has a new discriminator ({old_disc} -> {new_disc})")
        check(int(bfdd.peer(TANDEM.v4).get("remote-id", 0)) == new_disc, "FRR's bfdd talks to the new session")
        td.wait_peer(FRR.v4, timeout=60)
        shown = td.ctl("neighbor", FRR.v4, json=False)
        check("yes (tx 10 ms, rx 10 ms, x3)" in shown, f"tandemctl neighbor shows the API peer's BFD:\n{shown}")
        rc = td.ctl_run("neighbor", "add", "192.0.2.250", "as", "65009", "bfd-tx", "10")
        check(rc.returncode != 0 and "needs 'bfd'" in rc.stderr, f"bfd-tx without bfd refused: {rc.stderr.strip()}")

        # --- (f) shutdown: AdminDown before the BGP Cease, so bfdd sees no failure ------
        rc = td.stop()
        check(rc == 0, f"tandemd exited {rc}")
        f = bfdd.peer(TANDEM.v4)
        check("admin" in str(f.get("remote-diagnostic", "")).lower(),
              f"FRR's bfdd saw AdminDown from the stopping tandemd: {f}")
        check(td.log_lines(r"sent AdminDown \(shutdown\)"), "tandemd logs the AdminDown at shutdown")


if __name__ == "__main__":
    main(body, needs=("frr",))
