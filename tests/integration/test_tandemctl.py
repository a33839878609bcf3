#!/usr/bin/env python3
"""tandemctl end to end: drive a live tandemd with an FRR peer only through tandemctl
(the gRPC API's CLI): add a peer, see it Established, inject a route and see it in
FRR's RIB, withdraw it, delete the peer.

tandemd starts with no peers and no networks ([api] socket in the test directory).
Everything is done with tandemctl, checking both the --json output (protobuf JSON) and
the human tables; FRR's side is checked with vtysh JSON. Also: bad requests exit 1 with
INVALID_ARGUMENT (or ALREADY_EXISTS / NOT_FOUND) on stderr and change nothing; usage
errors exit 2; `tandemctl events`, streaming in the background, shows the peer's state
changes and the injected route's best-path changes.
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.frr import FrrRouter  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import TandemNode, default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import FRR, TANDEM, add_host  # noqa: E402


ROUTE = "203.0.113.0/24"
FRR_ROUTE = "10.64.7.0/24"
DESCRIPTION = "FRR via tandemctl"
ESTABLISHED = "SESSION_STATE_ESTABLISHED"


class EventStream:
    """`tandemctl [--json] events` in the background; lines collected by a thread."""

    def __init__(self, td, json_out):
        self.json = json_out
        self.proc = td.ctl_popen("events", json=json_out)
        self.lines = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def events(self):
        return [json.loads(line) for line in self.snapshot() if line.strip()]

    def stop(self):
        """Stop the stream; returns (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(5)
        return self.proc.returncode, self.proc.stderr.read()


def peer_state(ev):
    return ev.get("peer_state") or None


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("tandemctl", keep=args.keep) as lab:
        tnode, fnode = add_host(lab, TANDEM), add_host(lab, FRR)
        lab.wait_links()
        td = TandemNode(tnode, args.tandemd, local_as=TANDEM.asn, tandemctl=tandemctl)
        frr = FrrRouter(fnode, FRR.asn)
        frr.add_neighbor(TANDEM.v4, TANDEM.asn, description="tandemd-v4")
        frr.add_network(FRR_ROUTE)
        td.global_["memory_budget_mb"] = 512
        td.start()
        frr.start()
        td.wait_api()

        # --- no peers at first -----------------------------------------------------------
        check(td.ctl("neighbor") == {"peers": []}, f"neighbor --json: {td.ctl('neighbor')}")
        check(td.ctl("neighbor", json=False).strip() == "No neighbors.", "neighbor (text) with no peers")
        g = td.ctl("global")
        check(json.dumps(g).find(TANDEM.v4) >= 0 and str(TANDEM.asn) in json.dumps(g), f"global: {g}")
        mem = g.get("memory", {})
        check(int(mem.get("rss_bytes", 0)) > 1 << 20 and int(mem.get("budget_bytes", 0)) == 512 << 20
              and not mem.get("over_budget", False), f"global: the memory budget report: {mem}")
        check("Memory:     RSS " in td.ctl("global", json=False), "tandemctl global shows the memory line")

        # --- usage errors: exit 2, nothing sent ---------------------------------------------
        for argv in (["frobnicate"], ["neighbor", "add", FRR.v4], ["neighbor", "add", FRR.v4, "as"],
                     ["neighbor", "add", FRR.v4, "as", "x"], ["neighbor", "reset", FRR.v4, "sideways"],
                     ["rib", "add", "10.0.0.0/33"], ["rib", "--in"], []):
            cp = td.ctl_run(*argv)
            check(cp.returncode == 2, f"tandemctl {' '.join(argv)}: rc {cp.returncode}, expected 2 (usage)\n"
                  f"{cp.stderr}")
            check("usage" in cp.stderr, f"tandemctl {' '.join(argv)}: no usage text on stderr: {cp.stderr}")
        log("usage errors exit 2")

        # --- requests the daemon refuses: exit 1, INVALID_ARGUMENT, nothing changes ------
        for argv in (["neighbor", "add", FRR.v4, "as", "0"],
                     ["neighbor", "add", FRR.v4, "as", FRR.asn, "hold-time", "2"],
                     ["neighbor", "add", FRR.v4, "as", "65001", "rr-client"]):
            cp = td.ctl_run(*argv)
            check(cp.returncode == 1, f"tandemctl {' '.join(map(str, argv))}: rc {cp.returncode}, expected 1\n"
                  f"{cp.stderr}")
            check("INVALID_ARGUMENT" in cp.stderr, f"tandemctl {' '.join(map(str, argv))}: stderr {cp.stderr!r}")
        # A malformed address: refused by tandemctl itself (usage, 2) or by the daemon (1).
        cp = td.ctl_run("neighbor", "add", "192.0.2.999", "as", "1")
        check(cp.returncode in (1, 2), f"neighbor add 192.0.2.999: rc {cp.returncode}")
        check(("INVALID_ARGUMENT" in cp.stderr) if cp.returncode == 1 else ("192.0.2.999" in cp.stderr),
              f"neighbor add 192.0.2.999: stderr {cp.stderr!r}")
        log(f"neighbor add 192.0.2.999: exit {cp.returncode} ({cp.stderr.strip().splitlines()[0]})")
        cp = td.ctl_run("neighbor", FRR.v4)
        check(cp.returncode == 1 and "NOT_FOUND" in cp.stderr, f"neighbor {FRR.v4} (unknown): {cp.returncode} "
              f"{cp.stderr!r}")
        check(td.ctl("neighbor") == {"peers": []}, "refused requests added a peer")
        check(td.state().peers() == [], "refused requests changed the daemon's state")
        log("refused requests exit 1 with INVALID_ARGUMENT / NOT_FOUND and change nothing")

        # --- events, streaming from before the peer exists --------------------------------
        ev_json = EventStream(td, True)
        ev_text = EventStream(td, False)
        time.sleep(0.5)  # the streams are subscribed
        for ev in (ev_json, ev_text):
            if ev.proc.poll() is not None:
                check(False, f"tandemctl events exited early: {ev.stop()}")

        # --- add the peer, see it Established ------------------------------------------------
        out = td.ctl("neighbor", "add", FRR.v4, "as", FRR.asn, "description", DESCRIPTION,
                     "families", "ipv4-unicast", "hold-time", "30", "connect-retry", "2")
        check(out in (None, {}), f"neighbor add --json: {out}")
        cp = td.ctl_run("neighbor", "add", FRR.v4, "as", FRR.asn)
        check(cp.returncode == 1 and "ALREADY_EXISTS" in cp.stderr, f"adding it twice: {cp.returncode} {cp.stderr!r}")

        def established():
            p = td.ctl("neighbor", FRR.v4)
            return p["state"]["state"] == ESTABLISHED and p
        peer = wait_until(established, 30, f"tandemctl neighbor {FRR.v4}: Established")
        frr.wait_established(TANDEM.v4, 10)
        c = peer["config"]
        check(c["address"] == FRR.v4 and c["remote_as"] == FRR.asn and c["description"] == DESCRIPTION,
              f"peer config as added: {c}")
        neg = peer["state"].get("negotiated", {})
        check(neg.get("peer_as") == FRR.asn and neg.get("peer_router_id") == FRR.v4 and neg.get("four_octet_as"),
              f"negotiated: {neg}")
        check(neg.get("families") == ["FAMILY_IPV4_UNICAST"], f"negotiated families: {neg.get('families')}")
        check(int(peer["state"]["messages_received"]["open"]) == 1, f"messages: {peer['state']['messages_received']}")
        log(f"peer {FRR.v4} Established (added with tandemctl)")

        # The list, JSON and text.
        lst = td.ctl("neighbor")["peers"]
        check(len(lst) == 1 and lst[0]["state"]["state"] == ESTABLISHED, f"neighbor list: {lst}")
        text = td.ctl("neighbor", json=False)
        lines = text.splitlines()
        check(lines[0].split()[:3] == ["Peer", "AS", "State"], f"neighbor table header: {lines[0]!r}")
        row = [line for line in lines[1:] if line.startswith(FRR.v4 + " ")]
        check(len(row) == 1 and "Established" in row[0] and str(FRR.asn) in row[0] and row[0].endswith(DESCRIPTION),
              f"neighbor table row for {FRR.v4}:\n{text}")
        detail = td.ctl("neighbor", FRR.v4, json=False)
        check(f"BGP neighbor {FRR.v4}, remote AS {FRR.asn}" in detail and "Established" in detail,
              f"neighbor {FRR.v4} (text):\n{detail}")

        # FRR's route arrives; `rib` shows it.
        def frr_route_in_rib():
            return [r for r in td.ctl("rib") if r["prefix"] == FRR_ROUTE]
        r = wait_until(frr_route_in_rib, 20, f"{FRR_ROUTE} from FRR in `tandemctl rib`")[0]
        check(r["peer"] == FRR.v4 and r["best"] and r["attributes"].get("next_hop") == FRR.v4,
              f"rib entry for {FRR_ROUTE}: {r}")

        # --- inject a route, see it in FRR's RIB ------------------------------------------
        out = td.ctl("rib", "add", ROUTE, "med", "42", "community", "65000:7,65000:8",
                     "large-community", "4200000100:1:2")
        check(out in (None, {}), f"rib add --json: {out}")

        def in_frr():
            return frr.table("ipv4").get(ROUTE)
        paths = wait_until(in_frr, 20, f"FRR receiving {ROUTE} injected with tandemctl")
        fp = paths[0]
        check(fp.get("metric") == 42, f"FRR: {ROUTE} MED {fp.get('metric')}")
        check(fp.get("peerId") == TANDEM.v4, f"FRR: {ROUTE} from {fp.get('peerId')}")
        nhs = [n.get("ip") for n in fp.get("nexthops", [])]
        check(TANDEM.v4 in nhs, f"FRR: {ROUTE} next hops {nhs} (tandemd's address by default)")
        det = frr.vtysh_json(f"show bgp ipv4 unicast {ROUTE} json")
        dp = det.get("paths", [{}])[0]
        check(dp.get("community", {}).get("string") == "65000:7 65000:8", f"FRR: communities {dp.get('community')}")
        check(dp.get("largeCommunity", {}).get("string") == "4200000100:1:2",
              f"FRR: large communities {dp.get('largeCommunity')}")
        log(f"{ROUTE} injected with tandemctl is in FRR's RIB with MED and communities")

        # tandemd's own view: Loc-RIB (local, best), Adj-RIB-Out towards FRR, text table.
        loc = [r for r in td.ctl("rib", ROUTE) if r["prefix"] == ROUTE]
        check(len(loc) == 1 and loc[0]["peer"] == "" and loc[0]["best"], f"rib {ROUTE}: {loc}")
        check(loc[0]["attributes"].get("med") == 42, f"rib {ROUTE} attributes: {loc[0]['attributes']}")
        out_rib = [r["prefix"] for r in td.ctl("rib", "--peer", FRR.v4, "--out")]
        check(ROUTE in out_rib and FRR_ROUTE not in out_rib, f"Adj-RIB-Out to {FRR.v4}: {out_rib}")
        in_rib = [r["prefix"] for r in td.ctl("rib", "--peer", FRR.v4, "--in")]
        check(in_rib == [FRR_ROUTE], f"Adj-RIB-In from {FRR.v4}: {in_rib}")
        text = td.ctl("rib", json=False)
        rows = {line.split()[1] if line.startswith("*") else None: line for line in text.splitlines()[1:]}
        check(ROUTE in rows and "local" in rows[ROUTE] and "42" in rows[ROUTE], f"rib table:\n{text}")
        check(FRR_ROUTE in rows and FRR.v4 in rows[FRR_ROUTE], f"rib table:\n{text}")
        check(td.ctl("rib", "-6") == [], "no IPv6 routes")

        # --- withdraw it --------------------------------------------------------------------
        td.ctl("rib", "del", ROUTE)
        wait_until(lambda: ROUTE not in frr.table("ipv4"), 20, f"FRR losing {ROUTE} after `rib del`")
        check(not [r for r in td.ctl("rib") if r["prefix"] == ROUTE], "route still in tandemd's Loc-RIB")
        check(FRR_ROUTE in frr.table("ipv4"), "FRR's own route is untouched")
        log(f"{ROUTE} withdrawn with tandemctl, gone from FRR")

        # --- delete the peer ------------------------------------------------------------------
        td.ctl("neighbor", "del", FRR.v4)
        wait_until(lambda: frr.neighbor_state(TANDEM.v4) != "Established", 15,
                   "FRR's session going down after `neighbor del`")
        reason = frr.neighbor(TANDEM.v4).get("lastNotificationReason") or ""
        check("Cease" in reason, f"FRR's last NOTIFICATION reason: {reason!r}")
        check(td.ctl("neighbor") == {"peers": []}, "neighbor list after del")
        check(td.ctl("rib") == [], "Loc-RIB empty after the peer was deleted")
        cp = td.ctl_run("neighbor", "del", FRR.v4)
        check(cp.returncode == 1 and "NOT_FOUND" in cp.stderr, f"deleting it again: {cp.returncode} {cp.stderr!r}")
        log(f"peer {FRR.v4} deleted: Cease seen by FRR")

        # --- the event streams ----------------------------------------------------------------
        def saw_down():
            return any((peer_state(e) or {}).get("address") == FRR.v4 and
                       (peer_state(e) or {}).get("from") == ESTABLISHED for e in ev_json.events())
        try:
            wait_until(saw_down, 10, "events: the peer leaving Established")
        except AssertionError as e:
            raise AssertionError(f"{e}\nevents seen:\n" + "\n".join(ev_json.snapshot())) from None
        rc, err = ev_json.stop()
        rc_t, err_t = ev_text.stop()
        events = ev_json.events()
        states = [(e["peer_state"]["from"], e["peer_state"]["to"]) for e in events
                  if e.get("peer_state", {}).get("address") == FRR.v4]
        check(any(t == ESTABLISHED for _, t in states), f"events: no transition to Established: {states}")
        check(any(f == ESTABLISHED for f, _ in states), f"events: no transition out of Established: {states}")
        best = [e["best_path"] for e in events if "best_path" in e]
        route_events = [b for b in best if b.get("prefix") == ROUTE]
        check(any(not b.get("withdrawn") for b in route_events) and any(b.get("withdrawn") for b in route_events),
              f"events: best-path announce and withdraw of {ROUTE}: {route_events}")
        check(all(int(e.get("dropped_before", 0)) == 0 for e in events), "events were dropped")
        text_lines = ev_text.snapshot()
        check(any(f"peer {FRR.v4}" in line and "-> Established" in line for line in text_lines),
              "events (text): no '-> Established' line:\n" + "\n".join(text_lines))
        check(any(f"best ipv4-unicast {ROUTE}" in line for line in text_lines),
              "events (text): no best-path line:\n" + "\n".join(text_lines))
        log(f"events: {len(states)} state changes, {len(route_events)} best-path changes for {ROUTE} "
            f"(streams ended rc={rc}/{rc_t})")

        check(td.alive(), "tandemd still running")
        rc = td.stop()
        check(rc == 0, f"tandemd exit code {rc}")


if __name__ == "__main__":
    main(body, needs=("frr",))
