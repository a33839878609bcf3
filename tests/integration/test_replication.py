#!/usr/bin/env python3
"""Replication: a standby tandemd mirrors every session and the RIB of the primary.

The primary (192.0.2.1) has sessions with FRR (iBGP, 10,000 IPv4 /24s + 50 IPv6 /48s)
and BIRD (eBGP, 150 IPv4 + 20 IPv6 routes), v4 and v6 each. The standby (192.0.2.11,
the same router id, AS and peers) dials the primary's replication port over the same
bridge, authenticated by a pre-shared key (HMAC-SHA256 on every frame).

Checked, with real FRR and BIRD and the two tandemd processes:
1. Bulk sync: the standby comes up after the sessions are Established and loaded;
   every session reaches "in-sync" on both nodes; every Adj-RIB-In, Adj-RIB-Out and
   Loc-RIB digest of the standby equals the primary's (`tandemctl ha digests`); the
   standby's shadows compared their own output with the primary's outbound stream and
   found no difference.
   Two routes injected through the primary's API (`tandemctl rib add`) are on the
   standby too.
2. Stream: FRR then announces 2,000 more prefixes and withdraws 1,000, BIRD disables a
   static protocol, one API route is deleted on the primary and another added: the
   digests converge again (and the counts are what the peers say), the standby's API
   routes follow.
   BIRD then restarts its v4 session: the new session is mirrored from its start
   (initial dumps both ways), digests equal, the shadow's output equal to the primary's.
3. Checkpoints: each session's latest checkpoint reached the standby with the TCP
   sequence numbers; FRR's next segment to the primary starts at the checkpointed
   rcv_nxt, and the primary's next segment to FRR at the checkpointed snd_nxt (tcpdump
   in FRR's namespace, absolute sequence numbers).
4. Flow control: the standby is stopped (SIGSTOP) for 1.5 s while FRR announces 60,000
   more prefixes: the primary clamps the session's window and stops reading, so the
   inbound bytes acknowledged to FRR but not held by the standby (the primary's lag
   plus the socket's Recv-Q, sampled) stay within max_unreplicated_bytes plus one
   clamp adjustment; FRR's session never drops; after SIGCONT everything converges.
   The pair's heartbeat (BFD between the nodes over XDP, 10 ms x 3) is up on both
   nodes, the primary declares the stopped standby lost and the heartbeat comes back.
5. Refusals: a standby whose configuration differs for one peer refuses the bulk sync
   naming that peer; a standby with the wrong key never gets a channel (the primary
   logs an authentication failure).

Figures reported (not asserted): bulk sync time and routes, longest snapshot step on
the primary's event loop, window updates and checkpoints, the sampled unheld bound.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import Sampler, TandemNode, default_tandemctl, log_time, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, STANDBY, TANDEM, StandardLab, add_host  # noqa: E402
from test_transit import frr_prefixes  # noqa: E402

HA_PORT = 1790
MAX_UNREPLICATED = 256 * 1024
STANDBY_BUFFER = 512 * 1024
N_BULK = 60000
N_BIRD_V4 = 150
N_BIRD_V6 = 20
N_FRR_V6 = 50


def write_key(path, hexkey):
    with open(path, "w") as f:
        f.write(hexkey + "\n")
    os.chmod(path, 0o600)


def ha_table(role, key_file, epoch_file):
    t = {"role": role, "node_id": role, "key_file": key_file, "epoch_file": epoch_file,
         "checkpoint_interval_ms": 100, "channel_dead_ms": 3000, "connect_retry_ms": 500,
         "max_unreplicated_bytes": MAX_UNREPLICATED, "standby_buffer_bytes": STANDBY_BUFFER,
         "heartbeat": True, "heartbeat_interval_ms": 10, "heartbeat_detect_mult": 3}
    if role == "primary":
        t["listen"] = f"{TANDEM.v4}:{HA_PORT}"
        t["heartbeat_address"] = STANDBY.v4
    else:
        t["peer"] = f"{TANDEM.v4}:{HA_PORT}"
    return t


def make_standby(lab, snode, td, tandemd, tandemctl, key_file, name="standby"):
    sb = TandemNode(snode, tandemd, router_id=TANDEM.v4, name=name, tandemctl=tandemctl)
    sb.global_["local_as"] = td.global_["local_as"]
    sb.peer_defaults = dict(td.peer_defaults)
    sb.peers = [dict(p) for p in td.peers]
    sb.networks = [dict(n) for n in td.networks]
    sb.tables = {k: dict(v) for k, v in td.tables.items() if k != "ha"}
    sb.tables["ha"] = ha_table("standby", key_file, os.path.join(sb.dir, "epoch"))
    return sb


def frr_received(td):
    return TandemNode.prefix_counters(td.neighbor(FRR.v4)).get("ipv4-unicast", {}).get("received", 0)


def frr_drops(frr):
    """FRR's (connections established, dropped) towards the primary; FRR may be slow to
    answer while it applies a large batch."""
    got = {}

    def ask():
        n = frr.neighbor(TANDEM.v4)
        if "connectionsDropped" in n:
            got["v"] = (n.get("connectionsEstablished"), n["connectionsDropped"])
            return True
        return False
    wait_until(ask, 60, "FRR answering about its session to the primary")
    return got["v"]


def ha(node):
    return node.ctl("ha")


def _fam(f):
    return str(f).replace("FAMILY_", "").lower().replace("_", "-")


def digests(node):
    """{(peer, family, table): (routes, digest)} from `tandemctl ha digests --json`."""
    r = node.ctl("ha", "digests")
    out = {}
    for p in r.get("peers", []):
        for table in ("adj_rib_in", "adj_rib_out"):
            out[(p["peer"], _fam(p["family"]), table)] = (int(p[table]["routes"]), p[table]["digest"])
    for lr in r.get("loc_rib", []):
        out[("-", _fam(lr["family"]), "loc_rib")] = (int(lr["loc_rib"]["routes"]), lr["loc_rib"]["digest"])
    return out


def digest_diff(a, b):
    keys = sorted(set(a) | set(b))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


def sessions_in_sync(node, n):
    st = ha(node)
    ss = st.get("sessions", [])
    return len(ss) == n and all(s.get("sync_state") == "in-sync" for s in ss)


def api_med(node, prefix):
    """The MED of the node's own (API) route for `prefix`, None if it has none."""
    for r in node.ctl("rib", prefix) or []:
        if not r.get("peer"):
            return int(r.get("attributes", {}).get("med", -1))
    return None


def wait_mirrored(td, sb, n_sessions, what, timeout=60):
    def ok():
        if not (sessions_in_sync(td, n_sessions) and sessions_in_sync(sb, n_sessions)):
            return False
        return not digest_diff(digests(td), digests(sb))
    try:
        wait_until(ok, timeout, what)
    except Exception:
        diagnose(td, sb)
        raise


def diagnose(td, sb):
    for node, who in ((td, "primary"), (sb, "standby")):
        st = ha(node)
        log(f"{who}: channel {st.get('channel_state')}, sessions:")
        for s in st.get("sessions", []):
            log(f"  {json.dumps(s)}")
    log(f"digest differences (key, primary, standby): {digest_diff(digests(td), digests(sb))[:8]}")
    log(f"primary's sockets (Recv-Q): {recv_q(td)}")


def recv_q(td):
    """Recv-Q of the primary's BGP sockets (bytes in the kernel, acknowledged to the peer)."""
    out = td.node.exec(["ss", "-Htn", "state", "established", "( sport = :179 or dport = :179 )"],
                       check=False, quiet=True).stdout
    q = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4:
            q[f[3]] = int(f[0])  # peer address:port -> Recv-Q
    return q


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("replication", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, tandem_networks=True)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        snode = add_host(lab, STANDBY)
        lab.wait_links()
        key = os.urandom(32).hex()
        pkey = os.path.join(td.dir, "ha.key")
        write_key(pkey, key)
        td.tables["fib"] = {"table": 100}
        td.tables["ha"] = ha_table("primary", pkey, os.path.join(td.dir, "epoch"))
        # The pair's heartbeat: BFD between the nodes, received by XDP on each node's eth0.
        td.tables["bfd"] = {"enabled": True, "receive_path": "auto", "interfaces": ["eth0"]}
        v4, v6 = frr_prefixes()
        for p in v4 + v6[:N_FRR_V6]:
            frr.add_network(p)
        bird.add_static("st4", [f"10.200.{i // 256}.{i % 256}/32" for i in range(N_BIRD_V4)])
        bird.add_static("st6", [f"2001:db8:2000:{i:x}::/64" for i in range(N_BIRD_V6)])
        top.start(timeout=60)
        wait_until(lambda: frr_received(td) == len(v4), 60,
                   f"the primary learning FRR's {len(v4)} IPv4 routes")
        n_sessions = 4

        # --- 1. bulk sync -------------------------------------------------------------
        # Routes injected through the primary's API are part of the bulk sync.
        td.ctl("rib", "add", "198.51.110.0/24", "med", "10", json=False)
        td.ctl("rib", "add", "2001:db8:110::/48", "med", "11", json=False)
        skey = os.path.join(lab.workdir, "standby.key")
        write_key(skey, key)
        sb = make_standby(lab, snode, td, args.tandemd, tandemctl, skey)
        sb.start()
        sb.wait_api()
        t0 = time.monotonic()
        wait_mirrored(td, sb, n_sessions, "every session in sync and the standby's RIB digests equal to the primary's")
        log(f"standby mirrored the primary {time.monotonic() - t0:.2f}s after it started")
        pst, sst = ha(td), ha(sb)
        check(pst["channel_state"] == "in-sync" and sst["channel_state"] == "in-sync",
              f"channel state primary={pst.get('channel_state')} standby={sst.get('channel_state')}")
        check(pst.get("peer_node") == "standby" and sst.get("peer_node") == "primary",
              f"each node should name the other: {pst.get('peer_node')}, {sst.get('peer_node')}")
        check(int(sst.get("epoch", 0)) == int(pst.get("epoch", 0)) >= 1,
              f"the standby adopts the primary's term: {sst.get('epoch')} vs {pst.get('epoch')}")
        wait_until(lambda: ha(td).get("heartbeat") == "up" and ha(sb).get("heartbeat") == "up", 10,
                   "the pair's heartbeat (BFD between the nodes) up on both")
        check("Heartbeat" in td.ctl("ha", json=False), "tandemctl ha shows the heartbeat")
        d = digests(sb)
        n_in = d.get((FRR.v4, "ipv4-unicast", "adj_rib_in"), (0, ""))[0]
        check(n_in == len(v4), f"the standby's Adj-RIB-In from FRR v4 holds {n_in} routes, expected {len(v4)}")
        log(f"bulk sync: {sst.get('last_snapshot_routes')} routes in {pst.get('last_snapshot_ms')} ms (primary), "
            f"longest snapshot step on the primary's event loop {pst.get('max_stall_us')} us")
        for s in sst["sessions"]:
            check(int(s.get("outbound_differences", 0)) == 0,
                  f"standby shadow of {s['peer']}: {s.get('outbound_differences')} prefixes differ from what the "
                  f"primary sent")
        check(not sb.log_lines(r"the shadow would advertise"), "the standby logged shadow/primary differences: "
              f"{sb.log_lines(r'the shadow would advertise')[:2]}")
        check(api_med(sb, "198.51.110.0/24") == 10 and api_med(sb, "2001:db8:110::/48") == 11,
              f"the primary's API routes on the standby: {sb.ctl('rib', '198.51.110.0/24')}, "
              f"{sb.ctl('rib', '2001:db8:110::/48')}")
        states = {a: n.get("state", {}).get("state") for a, n in sb.neighbors().items()}
        check(all(v == "SESSION_STATE_ESTABLISHED" for v in states.values()) and len(states) == n_sessions,
              f"the standby's shadow sessions: {states}")

        # --- 2. stream ----------------------------------------------------------------
        base = len(v4)
        more = [f"10.{104 + i // 256}.{i % 256}.0/24" for i in range(2000)]
        frr.configure(["router bgp %d" % FRR.asn, "address-family ipv4 unicast"] +
                      [f"network {p}" for p in more] + [f"no network {p}" for p in v4[:1000]])
        bird.birdc("disable st6")
        td.ctl("rib", "del", "198.51.110.0/24", json=False)
        td.ctl("rib", "add", "198.51.111.0/24", "med", "12", json=False)
        try:
            wait_until(lambda: frr_received(td) == base + 1000, 60, "the primary learning FRR's changes")
        except Exception:
            diagnose(td, sb)
            raise
        wait_mirrored(td, sb, n_sessions, "the standby's digests equal to the primary's after the changes")
        check(api_med(sb, "198.51.110.0/24") is None and api_med(sb, "198.51.111.0/24") == 12,
              "the primary's API route changes on the standby: "
              f"{sb.ctl('rib', '198.51.110.0/24')}, {sb.ctl('rib', '198.51.111.0/24')}")
        n_in = digests(sb).get((FRR.v4, "ipv4-unicast", "adj_rib_in"), (0, ""))[0]
        check(n_in == base + 1000, f"the standby's Adj-RIB-In from FRR v4: {n_in}, expected {base + 1000}")
        # A session that starts while the standby is in sync is streamed from its
        # KEEPALIVE on, initial dumps both ways included.
        off = sb.log_offset()
        bird.birdc("restart tandem4")
        wait_until(lambda: sb.log_lines(rf"session {re.escape(BIRD.v4)} \(\d+\) mirrored", since=off), 30,
                   "the standby mirroring BIRD's new v4 session")
        bird.wait_established("tandem4", 30)
        wait_mirrored(td, sb, n_sessions, "the standby's digests equal to the primary's after BIRD's session restart")
        time.sleep(1.2)  # two comparison intervals: the shadow's view of what BIRD was sent
        s4 = next(s for s in ha(sb)["sessions"] if s["peer"] == BIRD.v4)
        check(int(s4["outbound_compared"]) > 0 and int(s4["outbound_differences"]) == 0,
              f"BIRD v4's new session on the standby: compared {s4['outbound_compared']} times, "
              f"{s4['outbound_differences']} prefixes differ from what the primary sent")

        # --- 3. checkpoints -------------------------------------------------------------
        time.sleep(0.5)
        for node, who in ((td, "primary"), (sb, "standby")):
            for s in ha(node)["sessions"]:
                check(s.get("has_checkpoint") and int(s.get("checkpoints", 0)) > 0,
                      f"{who}: session {s['peer']} has no checkpoint")
        cp = {s["peer"]: s for s in ha(sb)["sessions"]}
        frr_cp = cp.get(FRR.v4)
        check(frr_cp and int(frr_cp.get("rcv_nxt", 0)) != 0, f"FRR v4 checkpoint on the standby: {frr_cp}")
        # The next segment FRR sends the primary (a KEEPALIVE at the latest) starts at the
        # primary's rcv_nxt, which the last checkpoint holds while nothing else moves.
        def capture(name, src, dst, sport, dport):
            return frr.node.spawn(name, ["tcpdump", "-l", "-n", "-S", "-c", "1", "-i", "eth0",
                                         f"tcp and src host {src} and dst host {dst} and src port {sport} and "
                                         f"dst port {dport} and tcp[tcpflags] & tcp-push != 0"],
                                  logfile=os.path.join(lab.workdir, f"{name}.txt"))
        ep = td.neighbor(FRR.v4)["state"]
        fport, tport = ep.get("remote_port"), ep.get("local_port")
        cap_in = capture("tcpdump-frr-to-primary", FRR.v4, TANDEM.v4, fport, tport)
        cap_out = capture("tcpdump-primary-to-frr", TANDEM.v4, FRR.v4, tport, fport)
        time.sleep(0.5)
        cp_before = {s["peer"]: s for s in ha(sb)["sessions"]}[FRR.v4]
        # FRR sends now (soft out), and asks for our routes (soft in: ROUTE-REFRESH).
        frr.vtysh(f"clear bgp ipv4 unicast {TANDEM.v4} soft")
        wait_until(lambda: not cap_in.alive() and not cap_out.alive(), 30, "tcpdump seeing a segment each way")
        for cap, field, who in ((cap_in, "rcv_nxt", "FRR's"), (cap_out, "snd_nxt", "the primary's")):
            m = re.search(r"seq (\d+):(\d+)", cap.log_text())
            check(m is not None, f"tcpdump output: {cap.log_text()[-400:]}")
            seg = int(m.group(1)) if m else -1
            check(seg == int(cp_before[field]), f"{who} next segment starts at {seg}; the standby's checkpointed "
                  f"{field} was {cp_before[field]}")
            log(f"checkpoint verified on the wire: {who} next segment seq {seg} == checkpointed {field}")
        wait_mirrored(td, sb, n_sessions, "mirror after FRR's soft-out")

        # --- 4. flow control with a stalled standby ----------------------------------
        bulk = [f"10.{112 + (i >> 12)}.{(i >> 4) & 255}.{(i & 15) << 4}/28" for i in range(N_BULK)]  # 10.112/12
        drops0 = frr_drops(frr)

        def sample():
            st = ha(td)
            s = next((x for x in st["sessions"] if x["peer"] == FRR.v4), {})
            q = recv_q(td).get(f"{FRR.v4}:179", 0) or max(
                [v for k, v in recv_q(td).items() if k.startswith(FRR.v4 + ":")] or [0])
            return int(s.get("lag_bytes", 0)), q, int(s.get("window_clamp", 0)), int(s.get("estimated_window", 0))

        sampler = Sampler(sample, interval=0.05, name="unheld")
        hb_off = td.log_offset()
        try:
            t_stop = time.time()
            sb.proc.send_signal(signal.SIGSTOP)
            sampler.phase = "stopped"
            frr.configure(["router bgp %d" % FRR.asn, "address-family ipv4 unicast"] +
                          [f"network {p}" for p in bulk])
            time.sleep(1.5)
            sampler.phase = "resumed"
            sb.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: frr_received(td) == base + 1000 + len(bulk), 90,
                       f"the primary learning FRR's {N_BULK} further routes")
        finally:
            samples = sampler.stop()
            if sb.alive():
                sb.proc.send_signal(signal.SIGCONT)
        # Only while the standby is stopped: no acknowledgement moves then, so the two
        # readings (the API's lag, then ss's Recv-Q) cannot count the same bytes twice.
        stopped = [v for _, ph, v in samples if ph == "stopped"]
        check(len(stopped) >= 10, f"expected >= 10 samples while the standby was stopped, got {len(stopped)}")
        worst = max((lag + q for lag, q, _, _ in stopped), default=0)
        clamps = sorted({c for _, _, (_, _, c, _) in samples if c})
        check(worst >= MAX_UNREPLICATED // 2, f"the stall should have pushed the unheld bytes towards the bound; "
              f"worst sample {worst}")
        log(f"unheld inbound bytes (primary lag + Recv-Q), worst of {len(stopped)} samples: {worst} "
            f"(bound {MAX_UNREPLICATED}); clamps seen {clamps[:6]}")
        check(worst <= MAX_UNREPLICATED + 16 * 1024,
              f"unheld inbound bytes {worst} exceed max_unreplicated_bytes {MAX_UNREPLICATED} (+16 KiB: window rounding, one segment)")
        drops1 = frr_drops(frr)
        check(drops1 == drops0 and frr.neighbor_state(TANDEM.v4) == "Established",
              f"FRR's session to the primary must stay up through the standby's stall: (established, dropped) "
              f"{drops0} before, {drops1} after")
        wait_mirrored(td, sb, n_sessions, "mirror after the stall", timeout=90)
        # The heartbeat saw the standby hang, and came back with it.
        lost = td.log_lines(r"heartbeat with the other node lost", since=hb_off)
        check(lost, "the primary's heartbeat declared the stopped standby lost")
        log(f"[ measured ] heartbeat loss of the stopped standby logged {(log_time(lost[0]) - t_stop) * 1000:.1f} ms "
            f"after SIGSTOP (10 ms x 3): {lost[0].split('] ', 1)[-1][:140]}")
        wait_until(lambda: ha(td).get("heartbeat") == "up" and ha(sb).get("heartbeat") == "up", 10,
                   "the heartbeat up again after SIGCONT")
        check(int(ha(td).get("heartbeat_losses", 0)) >= 1, f"the primary counted the loss: {ha(td)}")
        pst = ha(td)
        s = next(x for x in pst["sessions"] if x["peer"] == FRR.v4)
        log(f"FRR v4 on the primary: {s.get('window_updates')} window updates, {s.get('checkpoints')} checkpoints, "
            f"clamp {s.get('window_clamp')}")

        # --- 5. refusals ------------------------------------------------------------------
        sb.stop()
        bad = make_standby(lab, snode, td, args.tandemd, tandemctl, skey, name="standby-badconfig")
        for p in bad.peers:
            if p["address"] == BIRD.v4:
                p["hold_time"] = 30
        off = td.log_offset()
        bad.start()
        wait_until(lambda: bad.log_lines(r"configuration differs from the primary's: peer 192\.0\.2\.3 differs"),
                   20, "the standby refusing a configuration that differs for BIRD v4")
        log(f"refused: {bad.log_lines(r'configuration differs')[0].split('] ', 1)[-1][:160]}")
        check(ha(bad)["channel_state"] in ("refused", "connecting", "down"),
              f"a refused standby's channel: {ha(bad)['channel_state']}")
        bad.stop()
        wrong = os.path.join(lab.workdir, "wrong.key")
        write_key(wrong, os.urandom(32).hex())
        wk = make_standby(lab, snode, td, args.tandemd, tandemctl, wrong, name="standby-wrongkey")
        wk.start()
        wait_until(lambda: td.log_lines(r"replication|channel", r"MAC|authenticat", since=off), 20,
                   "the primary refusing a standby with the wrong key")
        time.sleep(1.0)
        check(ha(wk)["channel_state"] != "in-sync", "a standby with the wrong key must never be in sync")
        log(f"primary: {td.log_lines(r'MAC|authenticat', since=off)[0].split('] ', 1)[-1][:160]}")
        wk.stop()


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
