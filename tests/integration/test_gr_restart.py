#!/usr/bin/env python3
"""Graceful restart, tandemd as the restarting speaker (RFC 4724 §4.1): tandemd is
killed and started again; its helpers FRR and BIRD keep every one of its routes, and
its own kernel routes stay in place, the whole time.

tandemd originates 10,000 IPv4 /24s (100.64.0.0/10) and 10 IPv6 /48s (`[[network]]`)
and advertises the Graceful Restart capability listing both families with the
Forwarding State bit (its kernel FIB, table 100, survives its own crash). FRR (iBGP,
`bgp graceful-restart`, `debug bgp updates`) and BIRD (eBGP, `graceful restart on`,
`debug { routes }`) are its helpers, and each also originates 10,000 IPv4 + 20 IPv6
prefixes, which tandemd installs into table 100 (protocol 201) and passes on to the
other.

tandemd is SIGKILLed: no NOTIFICATION, its kernel routes stay, its marker file stays.
While it is down FRR and BIRD each drop 5 of their prefixes. tandemd is started again
with the same configuration. Because its marker file exists (and its protocol's routes
are in its table) it is *restarting*: its OPEN carries R=1, it keeps the kernel
routes, and it holds back its UPDATEs and End-of-RIB until it has End-of-RIB from
every GR peer ("selection deferral"); then it sends its table and End-of-RIB, and
deletes the kernel routes it did not relearn (the 5+5 dropped ones). FRR 8.4 sets R=1
in its own OPENs for 120 s after bgpd starts; RFC 4724 §4.1 would not wait for such a
peer, tandemd deliberately does (docs/graceful-restart.md), so that FRR's routes are
neither swept from the kernel nor missing from what BIRD gets: checked from the
deferral log lines (FRR released by its End-of-RIB).

A background sampler (~150 ms) checks, through the kill, the down time and the
restart: FRR counts all of tandemd's paths (`prefix-counts`: FRR keeps a restarting
peer's paths as stale, RFC 4724 §4.2), BIRD imports all of tandemd's routes on both
sessions, and every relearned route stays in tandemd's kernel table via its peer.
Afterwards: neither helper logged a withdrawal of any route from tandemd other than
the other peer's dropped ones (the restart was invisible to them), FRR saw R=1 in
tandemd's new OPEN and F=1 per family, FRR's stale flags and BIRD's "graceful restart
active" are cleared after tandemd's End-of-RIB, and exactly the dropped routes were
swept from the kernel.
"""

import ipaddress
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import Sampler, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, TANDEM, StandardLab  # noqa: E402

N_V4 = 10000
N_V6 = 10
N_BIRD_V4, N_BIRD_V6 = 10000, 20
N_FRR_V4, N_FRR_V6 = 10000, 20
FIB_TABLE = 100
FIB_PROTO = 201
DEFERRAL = 30        # tandemd's selection_deferral_time: an upper bound, End-of-RIBs come first
RESTART_TIME = 60    # tandemd's advertised restart time: how long the helpers wait


def v4_block(first, n):
    base = int(ipaddress.IPv4Address(first))
    return [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(n)]


TD_V4 = v4_block("100.64.0.0", N_V4)
TD_V6 = [f"2001:db8:f{i:03x}::/48" for i in range(N_V6)]
BIRD_V4 = v4_block("10.128.0.0", N_BIRD_V4)
BIRD_V6 = [f"2001:db8:{0x2000 + i:x}::/48" for i in range(N_BIRD_V6)]
BIRD_GONE = [BIRD_V4[i] for i in (7, 2500, 5001, 7502, 9999)]   # dropped by BIRD while tandemd is down
FRR_V4 = v4_block("10.64.0.0", N_FRR_V4)
FRR_V6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_FRR_V6)]
FRR_GONE = [FRR_V4[i] for i in (3, 3333, 6666, 8000, 9998)]      # dropped by FRR while tandemd is down


def tandem_gr(td):
    """tandemd with its FIB and graceful restart (both families, F=1 by default)."""
    td.log_["level"] = "info"
    td.tables["fib"] = {"enabled": True, "table": FIB_TABLE, "protocol": FIB_PROTO}
    td.tables["graceful_restart"] = {"enabled": True, "restart_time": RESTART_TIME,
                                     "selection_deferral_time": DEFERRAL}


def bird_gr_extra():
    return ["graceful restart on;", f"graceful restart time {RESTART_TIME};", "debug { states, routes, events };"]


def frr_withdrawals(frr, prefixes, since=0):
    """FRR `debug bgp updates` lines reporting a received withdrawal of one of `prefixes`
    ("192.0.2.1 rcvd UPDATE about 100.64.0.0/24 IPv4 unicast -- withdrawn")."""
    want = set(prefixes)
    out = []
    for line in frr.log_text()[since:].splitlines():
        if "withdrawn" in line and "rcvd" in line.lower():
            m = re.search(r"(\d+\.\d+\.\d+\.\d+/\d+|[0-9a-f:]+::/\d+)", line)
            if m and m.group(1) in want:
                out.append(line.strip())
    return out


def bird_removals(bird, protos, prefixes, since=0):
    """BIRD `debug { routes }` lines removing one of `prefixes` imported by `protos`
    ("tandem4.ipv4 > removed [sole] 100.64.0.0/24 ...")."""
    want = set(prefixes)
    rx = re.compile(rf"(?:{'|'.join(protos)})\.ipv[46] > removed(?: \[[^\]]*\])? (\S+)")
    out = []
    for line in bird.log_text()[since:].splitlines():
        m = rx.search(line)
        if m and m.group(1) in want:
            out.append(line.strip())
    return out


def check_open_r0(td, addr, off, who):
    """After tandemd's restart the peer's new OPEN must say R=0: with R=1 tandemd would
    rightly (RFC 4724 §4.1) not wait for its End-of-RIB and the scenario is not tested."""
    lines = td.log_lines(rf"peer {re.escape(addr)}: graceful restart: peer advertised", since=off)
    check(lines and "R=0" in lines[-1], f"precondition: {who}'s OPEN after tandemd's restart should carry R=0; "
          f"tandemd logged: {lines[-1:] or 'no such line'}")


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("gr-restart", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=False)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        tandem_gr(td)
        frr.extra_global += ["debug bgp updates"]
        frr.extra_router += ["bgp graceful-restart", f"bgp graceful-restart restart-time {RESTART_TIME}"]
        for p in bird.peers:
            p["extra"] += bird_gr_extra()
        for p in TD_V4 + TD_V6:
            td.add_network(p)
        bird.add_static("gr4", BIRD_V4)
        bird.add_static("gr6", BIRD_V6)
        for p in FRR_V4 + FRR_V6:
            frr.add_network(p)
        t0 = time.monotonic()
        top.start(timeout=60)
        n_frr4, n_frr6 = N_V4 + N_BIRD_V4, N_V6 + N_BIRD_V6     # FRR's paths from tandemd
        n_bird4, n_bird6 = N_V4 + N_FRR_V4, N_V6 + N_FRR_V6    # BIRD's routes from tandemd

        def loaded():
            c4, c6 = frr.prefix_counts("ipv4", TANDEM.v4), frr.prefix_counts("ipv6", TANDEM.v6)
            k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
            return (c4.get("All RIB") == n_frr4 and c6.get("All RIB") == n_frr6 and
                    bird.protocol("tandem4")["imported"] == n_bird4 and
                    bird.protocol("tandem6")["imported"] == n_bird6 and
                    sum(1 for p in BIRD_V4 if k4.get(p) == BIRD.v4) == N_BIRD_V4 and
                    sum(1 for p in FRR_V4 if k4.get(p) == FRR.v4) == N_FRR_V4)
        wait_until(loaded, 90, "FRR and BIRD holding tandemd's routes, tandemd's kernel table theirs")
        log(f"all tables loaded {time.monotonic() - t0:.1f}s after start")
        gr = frr.graceful_restart_info(TANDEM.v4)
        check(gr.get("ipv4Unicast", {}).get("fBit") is True and gr.get("rBit") is False,
              f"FRR should see tandemd's GR capability with F=1 for ipv4-unicast and R=0 on a first start; "
              f"gracefulRestartInfo: {gr}")
        check(os.path.exists(td.marker_file), f"tandemd's marker file {td.marker_file} should exist while it runs")
        frr_off, bird_off = len(frr.log_text()), len(bird.log_text())
        kept = [p for p in BIRD_V4 if p not in BIRD_GONE]
        fkept = [p for p in FRR_V4 if p not in FRR_GONE]
        gone = BIRD_GONE + FRR_GONE

        def sample():
            c4, c6 = frr.prefix_counts("ipv4", TANDEM.v4), frr.prefix_counts("ipv6", TANDEM.v6)
            b4, b6 = bird.protocol("tandem4")["imported"], bird.protocol("tandem6")["imported"]
            k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
            return {"frr4": c4.get("All RIB", 0), "frr4_stale": c4.get("Stale", 0), "frr6": c6.get("All RIB", 0),
                    "bird4": b4, "bird6": b6, "kernel": sum(1 for p in kept if k4.get(p) == BIRD.v4),
                    "fkernel": sum(1 for p in fkept if k4.get(p) == FRR.v4),
                    "kernel_gone": sum(1 for p in gone if p in k4), "alive": td.alive()}

        sampler = Sampler(sample, interval=0.15, name="restart")
        try:
            time.sleep(0.5)
            sampler.phase = "killed"
            t_kill = time.monotonic()
            td.kill()
            wait_until(lambda: frr.neighbor_state(TANDEM.v4) != "Established" and
                       frr.prefix_counts("ipv4", TANDEM.v4).get("Stale") == n_frr4, 10,
                       "FRR holding tandemd's routes as stale after the kill")
            wait_until(lambda: bird.neighbor_restarting("tandem4"), 10,
                       "BIRD helping tandemd (\"Neighbor graceful restart active\")")
            sampler.phase = "down"
            check(os.path.exists(td.marker_file), "the marker file survives SIGKILL")
            bird.statics["gr4"]["prefixes"] = kept
            bird.reconfigure()
            frr.configure([f"router bgp {FRR.asn}", "address-family ipv4 unicast"] +
                          [f"no network {p}" for p in FRR_GONE])
            time.sleep(2.5)
            sampler.phase = "restarting"
            off = td.log_offset()
            td.start()
            t_start = time.monotonic()
            restarting = td.wait_log(r"graceful restart: restarting", timeout=10, since=off)
            log(f"tandemd restarted: {restarting[0][-200:]}")
            wait_until(lambda: td.log_lines(r"selection deferral over for ipv4-unicast", since=off) and
                       td.log_lines(r"selection deferral over for ipv6-unicast", since=off),
                       DEFERRAL + 10, "tandemd ending selection deferral for both families")
            t_released = time.monotonic()
            sampler.phase = "released"
            check_open_r0(td, BIRD.v4, off, "BIRD")
            wait_until(lambda: frr.prefix_counts("ipv4", TANDEM.v4).get("Stale") == 0 and
                       frr.prefix_counts("ipv6", TANDEM.v6).get("Stale") == 0, 20,
                       "FRR clearing the stale flags of tandemd's routes after tandemd's End-of-RIB")
            wait_until(lambda: not bird.neighbor_restarting("tandem4") and not bird.neighbor_restarting("tandem6"),
                       20, "BIRD ending its help (\"Neighbor graceful restart done\")")
            wait_until(lambda: not set(td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)) & set(gone), 10,
                       f"tandemd sweeping the kernel routes FRR and BIRD no longer announce {gone}")
            sampler.phase = "done"
            time.sleep(0.5)
        finally:
            samples = sampler.stop()
        log(f"killed -> started {t_start - t_kill:.2f}s, started -> deferral over {t_released - t_start:.2f}s")
        lines = td.log_lines(r"selection deferral over for ipv4-unicast", since=off)
        check("End-of-RIB from every graceful-restart peer" in lines[0],
              f"the deferral should end on End-of-RIB from every GR peer, not on its {DEFERRAL}s timer: {lines[0]}")
        for addr, fam in ((FRR.v4, "ipv4-unicast"), (FRR.v6, "ipv6-unicast"), (BIRD.v4, "ipv4-unicast"),
                          (BIRD.v6, "ipv6-unicast")):
            why = td.log_lines(rf"selection deferral for {fam}: no longer waiting for peer {re.escape(addr)} ",
                               since=off)
            check(why and "(End-of-RIB received)" in why[-1],
                  f"tandemd should stop waiting for {addr} ({fam}) because of its End-of-RIB (FRR's OPEN says R=1 "
                  f"during its first 120 s, which must not end the wait); tandemd logged: {why[-1:] or 'nothing'}")
        r_frr = td.log_lines(rf"peer {re.escape(FRR.v4)}: graceful restart: peer advertised", since=off)
        log(f"FRR's OPEN after the restart: {r_frr[-1].split('advertised ', 1)[-1][:60] if r_frr else '?'}")

        # --- every sample -------------------------------------------------------------------
        check(not sampler.errors(), f"vtysh/birdc/ip failed while sampling: {sampler.errors()[:3]}")
        bad = [(round(t, 2), ph, s) for t, ph, s in samples
               if s["frr4"] < n_frr4 - len(BIRD_GONE) or s["frr6"] < n_frr6 or
               s["bird4"] < n_bird4 - len(FRR_GONE) or s["bird6"] < n_bird6 or
               s["kernel"] != len(kept) or s["fkernel"] != len(fkept)]
        check(not bad, f"through the restart FRR must keep >= {n_frr4 - len(BIRD_GONE)}+{n_frr6} paths from "
              f"tandemd, BIRD >= {n_bird4 - len(FRR_GONE)}+{n_bird6}, the kernel every relearned route "
              f"({len(kept)} via BIRD, {len(fkept)} via FRR); {len(bad)} of {len(samples)} samples broke it, "
              f"first: {bad[:3]}")
        down = [s for t, ph, s in samples if ph == "down" and not s["alive"]]
        check(len(down) >= 3 and all(s["frr4_stale"] == n_frr4 and s["kernel_gone"] == len(gone) for s in down),
              f"while tandemd is down FRR should hold all {n_frr4} of its paths stale and the kernel keep every "
              f"route (also the {len(gone)} dropped ones); {len(down)} samples: {down[:2]}")
        gaps = [b[0] - a[0] for a, b in zip(samples, samples[1:])]
        log(f"{len(samples)} samples (max gap {max(gaps):.2f}s): FRR, BIRD and the kernel kept everything throughout")

        # --- no withdrawal ever reached the helpers --------------------------------------------
        wd = frr_withdrawals(frr, TD_V4 + TD_V6 + kept + BIRD_V6, since=frr_off)
        check(not wd, f"FRR must never receive a withdrawal of tandemd's routes (its own or BIRD's kept ones); "
              f"its log has {len(wd)}: {wd[:3]}")
        rm = bird_removals(bird, ["tandem4", "tandem6"], TD_V4 + TD_V6 + fkept + FRR_V6, since=bird_off)
        check(not rm, f"BIRD must never remove a route from tandemd (its own or FRR's kept ones); its log has "
              f"{len(rm)}: {rm[:3]}")
        bl = bird.log_text()[bird_off:]
        check(re.search(r"tandem4: Neighbor graceful restart detected", bl) and
              "tandem4: Neighbor graceful restart done" in bl,
              "BIRD's log should show it detected tandemd's restart and finished helping "
              f"(\"Neighbor graceful restart detected/done\"); its tandem4 lines: "
              f"{[x for x in bl.splitlines() if 'tandem4:' in x][-6:]}")

        # --- the new session: R bit, then nothing stale -----------------------------------------
        gr = frr.graceful_restart_info(TANDEM.v4)
        check(gr.get("rBit") is True, f"FRR should have seen R=1 (Restart State) in tandemd's OPEN after the "
              f"restart; gracefulRestartInfo: {gr}")
        check(gr.get("ipv4Unicast", {}).get("fBit") is True and
              gr.get("ipv4Unicast", {}).get("endOfRibStatus", {}).get("endOfRibRecv") is True,
              f"FRR should have F=1 and End-of-RIB received from tandemd for ipv4-unicast: {gr}")
        table = frr.table("ipv4")
        mine = {p: [x for x in paths if x.get("peerId") == TANDEM.v4] for p, paths in table.items()}
        mine = {p: x[0] for p, x in mine.items() if x}
        want = set(TD_V4) | set(kept)
        check(set(mine) == want, f"FRR's table from tandemd: {len(want - set(mine))} missing, "
              f"unexpected {sorted(set(mine) - want)[:5]} (BIRD's 5 dropped routes must be gone)")
        stale = [p for p, x in mine.items() if x.get("stale")]
        check(not stale, f"FRR: no path from tandemd should still be stale after its End-of-RIB; {len(stale)} are, "
              f"e.g. {stale[:3]}")
        routes = bird.routes("protocol tandem4")
        wantb = set(TD_V4) | set(fkept)
        check(set(routes) == wantb, f"BIRD's table from tandemd: {len(wantb - set(routes))} missing, "
              f"unexpected {sorted(set(routes) - wantb)[:5]} (FRR's 5 dropped routes must be gone)")

        # --- tandemd's kernel table: swept exactly what was not relearned -----------------------
        k4 = td.kernel_routes("ipv4", FIB_TABLE, FIB_PROTO)
        want_k = {p: BIRD.v4 for p in kept} | {p: FRR.v4 for p in fkept}
        check(k4 == want_k, f"tandemd's kernel table {FIB_TABLE} should hold exactly the {len(want_k)} relearned "
              f"routes: {len(set(want_k) - set(k4))} missing, left over {sorted(set(k4) - set(want_k))[:5]}")
        k6 = td.kernel_routes("ipv6", FIB_TABLE, FIB_PROTO)
        check(set(k6) == set(BIRD_V6) | set(FRR_V6), f"kernel IPv6: {len(k6)} routes, want BIRD's and FRR's "
              f"{N_BIRD_V6 + N_FRR_V6}")
        sweep = td.log_lines(r"fib: ipv4-unicast after the selection deferral", since=off)
        log(f"R bit seen by FRR; stale flags cleared at both helpers; {sweep[0].split('] ', 1)[-1] if sweep else ''}")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
