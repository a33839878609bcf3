#!/usr/bin/env python3
"""Live capture (`tandemctl capture`): a BGP session with BIRD is reset and comes back
while it is captured, as JSON and as a pcapng file, with tcpdump recording the real
packets in tandemd's namespace at the same time.

tandemd runs with [fib] enabled (it keeps CAP_NET_ADMIN, which reading the TCP sequence
numbers needs) and one IPv4 session with BIRD, which originates a few prefixes. Checked:
- the JSON stream: state changes Established -> Idle and back to Established; the
  NOTIFICATION sent (Cease / Administrative Reset) in state Established; on the new
  connection OPENs both ways at stream offset 0, a KEEPALIVE received in OpenConfirm,
  UPDATEs received in Established with BIRD's prefixes in their summaries and the
  negotiated families in the session state; a ROUTE-REFRESH sent earlier (soft reset in);
- the sequence numbers, on the new connection (read as it opened) and on the old one
  (the capture began mid-connection): each message's tcp_seq is the initial sequence
  number of its direction (from the SYNs tcpdump saw) + 1 + its stream offset;
- the pcapng file, read by `tshark -r FILE -T fields`: dissected as BGP (the same
  message types, in order, as the JSON stream), the same sequence numbers and
  addresses/ports, the session state in each packet's comment;
- `--type` and `--count` filter and stop server-side.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, Skip, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, TANDEM, StandardLab  # noqa: E402

BIRD_PREFIXES = [f"10.200.{i}.0/24" for i in range(5)]
TYPES = {"BGP_MESSAGE_TYPE_OPEN": 1, "BGP_MESSAGE_TYPE_UPDATE": 2, "BGP_MESSAGE_TYPE_NOTIFICATION": 3,
         "BGP_MESSAGE_TYPE_KEEPALIVE": 4, "BGP_MESSAGE_TYPE_ROUTE_REFRESH": 5}


class Capture:
    """`tandemctl --json capture ARGS` in the background; records collected by a thread."""

    def __init__(self, td, *args):
        self.proc = td.ctl_popen("capture", *args, json=True)
        self.records = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                rec = json.loads(line)
                with self._lock:
                    self.records.append(rec)

    def snapshot(self):
        with self._lock:
            return list(self.records)

    def messages(self):
        return [r["message"] for r in self.snapshot() if "message" in r]

    def stop(self):
        """SIGINT (a clean stop: the stream is cancelled, the file closed); (rc, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._thread.join(5)
        return self.proc.returncode, self.proc.stderr.read()


def tshark_fields(path, *fields, filt=None):
    argv = ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=f"]  # tab-separated
    if filt:
        argv += ["-Y", filt]
    for f in fields:
        argv += ["-e", f]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(cp.returncode == 0, f"tshark -r {path} failed ({cp.returncode}): {cp.stderr[-500:]}")
    return [line.split("\t") for line in cp.stdout.splitlines() if line.strip()]


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    for tool in ("/usr/bin/tshark", "/usr/bin/tcpdump"):
        if not os.path.exists(tool):
            raise Skip(f"{tool} is not installed (scripts/setup installs it)")
    with Lab("capture", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, frr=False, bird=True, tandem_networks=True)
        td, bird = top.tandem, top.bird
        td.tandemctl = tandemctl
        td.remove_peer(BIRD.v6)
        bird.peers = [p for p in bird.peers if p["proto"] == "tandem4"]
        bird.add_static("static4", BIRD_PREFIXES, communities=["65000:7"])
        td.tables["fib"] = {"enabled": True, "table": 100}
        pcap_real = os.path.join(td.dir, "tcpdump.pcap")
        tcpdump = top.tnode.spawn("tcpdump", ["tcpdump", "-i", "eth0", "-U", "-n", "-w", pcap_real, "tcp port 179"])
        td.start()
        bird.start()
        bird.wait_established("tandem4")
        td.wait_peer(BIRD.v4)
        wait_until(lambda: len(td.state().prefixes("ipv4", peer=BIRD.v4)) == len(BIRD_PREFIXES), 20,
                   "BIRD's prefixes in tandemd")

        pcapng = os.path.join(td.dir, "capture.pcapng")
        cap = Capture(td, "--peer", BIRD.v4, "--pcapng", pcapng)
        # Live once a soft reset's ROUTE-REFRESH shows up in the stream.
        def refreshed():
            td.ctl("neighbor", "reset", BIRD.v4, "soft-in", json=False)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and cap.proc.poll() is None:
                if any(m["type"] == "BGP_MESSAGE_TYPE_ROUTE_REFRESH" for m in cap.messages()):
                    return True
                time.sleep(0.05)
            return cap.proc.poll() is not None
        wait_until(refreshed, 15, "the capture stream live")
        if cap.proc.poll() is not None:
            check(False, f"tandemctl capture exited early: {cap.stop()}")

        t_reset = time.time()
        td.ctl("neighbor", "reset", BIRD.v4, json=False)
        log("hard reset of the BIRD session")
        def back():
            recs = cap.snapshot()
            ups = [r for r in recs if r.get("state_change", {}).get("to") == "SESSION_STATE_ESTABLISHED"]
            eor = [m for m in cap.messages() if m["direction"] == "CAPTURE_DIRECTION_RECEIVED"
                   and "End-of-RIB" in m["summary"] and m["stream_offset"] not in ("0", 0)]
            return ups and eor and int(eor[-1]["connection_id"]) != int(cap.messages()[0]["connection_id"])
        wait_until(back, 30, "the session re-established and BIRD's UPDATEs captured")
        time.sleep(0.5)
        rc, err = cap.stop()
        check(rc == 0, f"tandemctl capture exited {rc} on SIGINT: {err}")
        # tcpdump drops what it has not read from the kernel yet when it stops, and under
        # load (a sanitizer build) it lags by a second or more: wait for the SYNs of
        # every connection the capture saw before stopping it.
        def syn_keys():
            out = set()
            for m in cap.messages():
                ep = m["endpoints"]
                here, there = (ep["local_address"], ep["local_port"]), (ep["remote_address"], ep["remote_port"])
                out.add(here + there if m["direction"] == "CAPTURE_DIRECTION_SENT" else there + here)
            return out
        want_syns = syn_keys()
        def syns_written():
            # Not tshark_fields: a file still being written may end in half a packet,
            # which tshark reports as an error after printing the rest.
            cp = subprocess.run(["tshark", "-r", pcap_real, "-T", "fields", "-Y", "tcp.flags.syn == 1", "-e", "ip.src",
                                 "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport"],
                                capture_output=True, text=True, timeout=60)
            got = {(f[0], int(f[1]), f[2], int(f[3])) for f in (ln.split("\t") for ln in cp.stdout.splitlines())
                   if len(f) == 4}
            return want_syns <= got
        wait_until(syns_written, 15, "tcpdump writing the SYNs of every captured connection")
        tcpdump.stop(sig=signal.SIGINT)
        log(f"re-established {time.time() - t_reset:.1f} s after the reset; {len(cap.snapshot())} records")

        recs = cap.snapshot()
        msgs = cap.messages()
        for m in msgs:
            check(m["peer"] == BIRD.v4, f"a record of another peer despite --peer: {m}")
        # State changes, in order.
        states = [(r["state_change"]["from"], r["state_change"]["to"]) for r in recs if "state_change" in r]
        down = [i for i, s in enumerate(states) if s[0] == "SESSION_STATE_ESTABLISHED"]
        check(down, f"no state change out of Established: {states}")
        up = [i for i, s in enumerate(states) if s[1] == "SESSION_STATE_ESTABLISHED" and i > down[0]]
        check(up, f"no state change back to Established after the reset: {states}")
        check(("SESSION_STATE_OPEN_CONFIRM", "SESSION_STATE_ESTABLISHED") in states[down[0]:],
              f"no OpenConfirm -> Established after the reset: {states}")
        log("state changes: " + ", ".join(f"{a[14:]}->{b[14:]}" for a, b in states))

        # The NOTIFICATION sent in Established, then the new connection's messages.
        notes = [i for i, m in enumerate(msgs) if m["type"] == "BGP_MESSAGE_TYPE_NOTIFICATION"
                 and m["direction"] == "CAPTURE_DIRECTION_SENT"]
        check(notes, "no NOTIFICATION sent captured")
        n = msgs[notes[0]]
        check("Cease" in n["summary"] and n["session"]["state"] == "SESSION_STATE_ESTABLISHED",
              f"NOTIFICATION: {n['summary']} in {n['session']['state']}")
        after = msgs[notes[0] + 1:]
        opens = [m for m in after if m["type"] == "BGP_MESSAGE_TYPE_OPEN"]
        dirs = {m["direction"] for m in opens}
        check(dirs == {"CAPTURE_DIRECTION_SENT", "CAPTURE_DIRECTION_RECEIVED"}, f"OPENs after the reset: {opens}")
        conn = opens[-1]["connection_id"]
        new = [m for m in after if m["connection_id"] == conn]
        for d in ("CAPTURE_DIRECTION_SENT", "CAPTURE_DIRECTION_RECEIVED"):
            first = next(m for m in new if m["direction"] == d)
            check(first["type"] == "BGP_MESSAGE_TYPE_OPEN" and first["stream_offset"] in ("0", 0),
                  f"the new connection's first {d} message: {first['type']} at offset {first['stream_offset']}")
        # (Received messages carry the state when their bytes were read: BIRD's OPEN and
        # KEEPALIVE may arrive together, both read in OpenSent.)
        check(any(m["type"] == "BGP_MESSAGE_TYPE_KEEPALIVE" and m["direction"] == "CAPTURE_DIRECTION_RECEIVED"
                  and m["session"]["state"] in ("SESSION_STATE_OPEN_SENT", "SESSION_STATE_OPEN_CONFIRM")
                  for m in new), "no KEEPALIVE received in OpenSent/OpenConfirm")
        sent_open = next(m for m in new if m["type"] == "BGP_MESSAGE_TYPE_OPEN" and
                         m["direction"] == "CAPTURE_DIRECTION_SENT")
        check(sent_open["session"]["state"] in ("SESSION_STATE_CONNECT", "SESSION_STATE_ACTIVE"),
              f"OPEN sent in {sent_open['session']['state']}, expected Connect or Active (before OpenSent)")
        upd = [m for m in new if m["type"] == "BGP_MESSAGE_TYPE_UPDATE" and m["direction"] ==
               "CAPTURE_DIRECTION_RECEIVED" and "announce" in m["summary"]]
        check(upd and all(m["session"]["state"] == "SESSION_STATE_ESTABLISHED" for m in upd),
              f"UPDATEs received: {[(m['summary'], m['session']['state']) for m in upd]}")
        neg = upd[0]["session"].get("negotiated", {})
        check(neg.get("families") == ["FAMILY_IPV4_UNICAST"] and neg.get("four_octet_as") is True,
              f"negotiated capabilities in the session state: {neg}")
        check("comm 65000:7" in upd[0]["summary"], f"UPDATE summary: {upd[0]['summary']}")
        announced = sum(int(re.search(r"announce (\d+)", m["summary"]).group(1)) for m in upd)
        check(announced == len(BIRD_PREFIXES), f"BIRD's UPDATEs announce {announced} prefixes, expected "
              f"{len(BIRD_PREFIXES)}: {[m['summary'] for m in upd]}")
        check(any(m["type"] == "BGP_MESSAGE_TYPE_ROUTE_REFRESH" and m["direction"] == "CAPTURE_DIRECTION_SENT"
                  for m in msgs), "no ROUTE-REFRESH sent captured")
        # Offsets: each direction's messages are contiguous in the stream.
        for d in ("CAPTURE_DIRECTION_SENT", "CAPTURE_DIRECTION_RECEIVED"):
            pos = 0
            for m in (x for x in new if x["direction"] == d):
                check(int(m["stream_offset"]) == pos, f"{d} message at offset {m['stream_offset']}, expected {pos}")
                pos += m["length"]
        log(f"new connection {conn}: {len(new)} messages, offsets contiguous both ways")

        # Sequence numbers against the real packets: ISN + 1 + offset, on the new connection
        # (read when it opened) and on the old one (read when the capture first saw each
        # direction's bytes: it began mid-connection).
        check(all(m["tcp_seq_known"] for m in new), f"sequence numbers unknown: "
              f"{[m.get('tcp_seq_unknown') for m in new if not m['tcp_seq_known']][:1]}")
        old = [m for m in msgs if m["connection_id"] != conn]
        check(old and all(m["tcp_seq_known"] for m in old),
              f"the old connection's sequence numbers: {[(m['type'], m.get('tcp_seq_unknown')) for m in old]}")
        # Keyed by the whole 4-tuple: both connections may have the same listening side
        # (address, 179) as the source of a SYN-ACK, each with its own ISN.
        syns = tshark_fields(pcap_real, "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.seq_raw",
                             filt="tcp.flags.syn == 1")
        isn = {}
        for src, sport, dst, dport, seq in syns:
            isn.setdefault((src, int(sport), dst, int(dport)), set()).add(int(seq))
        for m in msgs:
            ep = m["endpoints"]
            local = (ep["local_address"], ep["local_port"])
            remote = (ep["remote_address"], ep["remote_port"])
            key = local + remote if m["direction"] == "CAPTURE_DIRECTION_SENT" else remote + local
            check(len(isn.get(key, ())) == 1, f"connection {m['connection_id']}: SYNs of {key}: "
                  f"{isn.get(key)} (expected exactly one ISN) in {isn}")
            want = (next(iter(isn[key])) + 1 + int(m["stream_offset"])) % 2**32
            check(m["tcp_seq"] == want, f"{m['type']} {m['direction']} at offset {m['stream_offset']} of connection "
                  f"{m['connection_id']}: tcp_seq {m['tcp_seq']}, the wire says {want}")
        conns = sorted({(m["connection_id"], m["endpoints"]["local_port"], m["endpoints"]["remote_port"]) for m in msgs})
        log(f"tcp_seq of {len(msgs)} messages = ISN + 1 + offset (ISNs from tcpdump's SYNs); connections "
            f"(id, local port, remote port): {conns}")

        # The pcapng file: tshark dissects it as BGP, same messages, sequence numbers, state.
        rows = tshark_fields(pcapng, "bgp.type", "tcp.seq_raw", "ip.src", "tcp.srcport", "ip.dst",
                             "tcp.dstport", "frame.comment")
        check(len(rows) == len(msgs), f"pcapng: {len(rows)} packets for {len(msgs)} messages")
        for row, m in zip(rows, msgs):
            btype, seq, src, sport, dst, dport, comment = row
            check(btype == str(TYPES[m["type"]]), f"tshark: BGP type {btype!r} for a {m['type']}")
            sent = m["direction"] == "CAPTURE_DIRECTION_SENT"
            e = m["endpoints"]
            want_src = (e["local_address"], str(e["local_port"])) if sent else (e["remote_address"], str(e["remote_port"]))
            check((src, sport) == want_src, f"tshark: source {src}:{sport}, expected {want_src}")
            if m["tcp_seq_known"]:
                check(int(seq) == m["tcp_seq"], f"tshark: seq {seq}, capture {m['tcp_seq']}")
            state = m["session"]["state"].replace("SESSION_STATE_", "").replace("_", "").lower()
            check(comment.startswith("tandem: ") and state in comment.replace(" ", "").lower(),
                  f"packet comment without the state {state}: {comment}")
        log(f"pcapng: {len(rows)} packets dissected as BGP by tshark, seq/addresses/state comments match")
        check(any("Established" in r[6] and "families ipv4-unicast" in r[6] for r in rows),
              "no packet comment with the negotiated families")

        # --type and --count, server-side: only ROUTE-REFRESH, and the stream ends by itself.
        proc = td.ctl_popen("capture", "--peer", BIRD.v4, "--type", "route-refresh", "--count", "1", json=True)
        def one_refresh():
            td.ctl("neighbor", "reset", BIRD.v4, "soft-in", json=False)
            try:
                proc.wait(1.0)
                return True
            except subprocess.TimeoutExpired:
                return False
        wait_until(one_refresh, 15, "capture --count 1 ends after one ROUTE-REFRESH")
        out = [json.loads(x) for x in proc.stdout.read().splitlines() if x.strip()]
        msgs1 = [r["message"] for r in out if "message" in r]
        check(proc.returncode == 0 and len(msgs1) == 1 and msgs1[0]["type"] == "BGP_MESSAGE_TYPE_ROUTE_REFRESH",
              f"capture --type route-refresh --count 1: rc {proc.returncode}, {out}")
        log("--type route-refresh --count 1: one message, the stream ended by itself")


if __name__ == "__main__":
    main(body, needs=("bird",))
