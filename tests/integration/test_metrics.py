#!/usr/bin/env python3
"""Prometheus metrics: tandemd with `[metrics] enabled = true` serves GET /metrics
(text exposition format 0.0.4) on 127.0.0.1:9179 inside its namespace.

FRR (iBGP, one IPv4 and one IPv6 session) originates N IPv4 and M IPv6 prefixes. Once
they are in tandemd's Loc-RIB the scrape must say: both peers up (state 6), their
received/accepted prefix counters N and M, the Loc-RIB sizes N and M, message counters
moving, the process metrics present and sane, and HELP/TYPE for every family. Then FRR
withdraws K IPv4 prefixes and the counters follow. Other paths answer 404.
"""

import os
import re
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.topology import FRR, TANDEM, StandardLab  # noqa: E402

N_V4 = 40
N_V6 = 12
K_WITHDRAW = 15
LISTEN = "127.0.0.1:9179"

V4_PREFIXES = [f"10.64.{i}.0/24" for i in range(N_V4)]
V6_PREFIXES = [f"2001:db8:1000:{i:x}::/64" for i in range(N_V6)]

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_exposition(text):
    """-> (samples: [(name, {label: value}, float)], help: {name: text}, type: {name: type}).
    Raises AssertionError on a line that is not valid text format."""
    samples, helps, types = [], {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, h = line[7:].partition(" ")
            helps[name] = h
            continue
        if line.startswith("# TYPE "):
            name, _, t = line[7:].partition(" ")
            types[name] = t
            continue
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        check(m is not None, f"not a valid sample line: {line!r}")
        labels = {}
        if m.group(3):
            pos = 0
            body = m.group(3)
            while pos < len(body):
                lm = _LABEL.match(body, pos)
                check(lm is not None, f"bad labels in {line!r}")
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                pos = lm.end()
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples, helps, types


def value(samples, name, **labels):
    vals = [v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
    if len(vals) != 1:
        raise AssertionError(f"expected one sample {name}{labels}, found {len(vals)}")
    return vals[0]


def fetch(node, path):
    """GET http://LISTEN/path from inside the node's namespace: (status, headers, body)."""
    with node.netns():
        try:
            with urllib.request.urlopen(f"http://{LISTEN}{path}", timeout=5) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()


def scrape(node):
    status, headers, body = fetch(node, "/metrics")
    check(status == 200, f"GET /metrics: status {status}")
    ctype = headers.get("Content-Type", "")
    check(ctype.startswith("text/plain; version=0.0.4"), f"GET /metrics: Content-Type {ctype!r}")
    return body, parse_exposition(body)


def body(args):
    with Lab("metrics", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, frr=True, bird=False, tandem_networks=False)
        frr, td = top.frr, top.tandem
        td.tables["metrics"] = {"enabled": True, "listen": LISTEN}
        for p in V4_PREFIXES + V6_PREFIXES:
            frr.add_network(p)
        top.start(timeout=40)

        wait_until(lambda: td.listening(9179), 10, "tandemd listening on the metrics port 9179")

        def counters_reached():
            _, (s, _, _) = scrape(td.node)
            return (value(s, "tandem_peer_prefixes_received", peer=FRR.v4) == N_V4 and
                    value(s, "tandem_peer_prefixes_received", peer=FRR.v6) == N_V6 and s)
        samples = wait_until(counters_reached, 30, f"metrics showing {N_V4}+{N_V6} prefixes from FRR")
        text, (samples, helps, types) = scrape(td.node)
        log(f"scraped {len(samples)} samples, {len(text)} bytes")

        # --- every family declared, peers labelled -----------------------------------
        for name in ("tandem_peer_state", "tandem_peer_up", "tandem_peer_uptime_seconds",
                     "tandem_peer_prefixes_received", "tandem_peer_prefixes_accepted",
                     "tandem_peer_prefixes_advertised", "tandem_peer_messages_received_total",
                     "tandem_peer_messages_sent_total", "tandem_rib_prefixes", "tandem_rib_attribute_sets",
                     "tandem_connections_refused_total",
                     "process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds"):
            check(name in helps and name in types, f"{name}: missing HELP/TYPE")
            check(any(n == name for n, _, _ in samples), f"{name}: no sample")
        check(types["tandem_peer_messages_received_total"] == "counter", "messages_received_total is a counter")
        check(types["tandem_peer_up"] == "gauge", "peer_up is a gauge")
        check(types["tandem_connections_refused_total"] == "counter", "connections_refused_total is a counter")
        for n, ls, _ in samples:
            if n.startswith("tandem_peer_"):
                check(set(ls) == {"peer", "remote_as", "description"}, f"{n} labels {ls}")
        peers = {ls["peer"] for n, ls, _ in samples if n == "tandem_peer_up"}
        check(peers == {FRR.v4, FRR.v6}, f"peers in the metrics: {peers}")
        check(value(samples, "tandem_peer_up", peer=FRR.v4, remote_as=str(FRR.asn),
                    description="FRR v4 (iBGP)") == 1, "FRR v4 labels and up")

        # --- the counters ------------------------------------------------------------------
        for addr, n in ((FRR.v4, N_V4), (FRR.v6, N_V6)):
            check(value(samples, "tandem_peer_up", peer=addr) == 1, f"{addr}: tandem_peer_up")
            check(value(samples, "tandem_peer_state", peer=addr) == 6, f"{addr}: tandem_peer_state (6 = Established)")
            check(value(samples, "tandem_peer_prefixes_received", peer=addr) == n, f"{addr}: received != {n}")
            check(value(samples, "tandem_peer_prefixes_accepted", peer=addr) == n, f"{addr}: accepted != {n}")
            # iBGP-learned routes are not sent back to an iBGP peer; tandemd has no networks.
            check(value(samples, "tandem_peer_prefixes_advertised", peer=addr) == 0, f"{addr}: advertised != 0")
            check(value(samples, "tandem_peer_uptime_seconds", peer=addr) > 0, f"{addr}: uptime")
            check(value(samples, "tandem_peer_messages_received_total", peer=addr) >= 3,
                  f"{addr}: messages received (OPEN, KEEPALIVE, UPDATEs)")
            check(value(samples, "tandem_peer_messages_sent_total", peer=addr) >= 2, f"{addr}: messages sent")
        check(value(samples, "tandem_rib_prefixes", family="ipv4-unicast") == N_V4, "Loc-RIB IPv4 size")
        check(value(samples, "tandem_rib_prefixes", family="ipv6-unicast") == N_V6, "Loc-RIB IPv6 size")
        check(value(samples, "tandem_rib_attribute_sets") >= 1, "attribute sets")

        # The state dump agrees with the metrics.
        st = td.state()
        check(st.peer(FRR.v4)["received"] == N_V4 and len(st.prefixes("ipv4")) == N_V4,
              f"state dump: {st.summary()}")

        # --- process metrics ---------------------------------------------------------------
        now = time.time()
        start = value(samples, "process_start_time_seconds")
        check(now - 600 < start <= now + 1, f"process_start_time_seconds {start} (now {now})")
        check(value(samples, "process_resident_memory_bytes") > 1 << 20, "resident memory > 1 MiB")
        check(value(samples, "process_virtual_memory_bytes") >= value(samples, "process_resident_memory_bytes"),
              "virtual >= resident")
        check(value(samples, "process_open_fds") >= 5, "open fds (listeners, sessions, log)")
        check(value(samples, "process_cpu_seconds_total") >= 0, "cpu seconds")

        # --- counters follow a withdrawal ------------------------------------------------
        withdrawn = V4_PREFIXES[:K_WITHDRAW]
        frr.configure([f"router bgp {FRR.asn}", " address-family ipv4 unicast"] +
                      [f"  no network {p}" for p in withdrawn] + [" exit-address-family"])

        def counters_dropped():
            _, (s, _, _) = scrape(td.node)
            return (value(s, "tandem_peer_prefixes_received", peer=FRR.v4) == N_V4 - K_WITHDRAW and
                    value(s, "tandem_rib_prefixes", family="ipv4-unicast") == N_V4 - K_WITHDRAW and s)
        s2 = wait_until(counters_dropped, 30, f"metrics showing {N_V4 - K_WITHDRAW} IPv4 prefixes after withdrawal")
        check(value(s2, "tandem_peer_prefixes_received", peer=FRR.v6) == N_V6, "IPv6 untouched")
        check(value(s2, "tandem_peer_messages_received_total", peer=FRR.v4) >
              value(samples, "tandem_peer_messages_received_total", peer=FRR.v4), "message counter grew")
        log(f"withdrew {K_WITHDRAW} prefixes: counters followed")

        # --- other paths, methods ----------------------------------------------------------
        status, _, _ = fetch(td.node, "/")
        check(status == 404, f"GET / -> {status}, expected 404")
        status, _, _ = fetch(td.node, "/metrics/extra")
        check(status == 404, f"GET /metrics/extra -> {status}, expected 404")
        with td.node.netns():
            req = urllib.request.Request(f"http://{LISTEN}/metrics", data=b"x", method="POST")
            try:
                urllib.request.urlopen(req, timeout=5)
                code = 200
            except urllib.error.HTTPError as e:
                code = e.code
        check(code == 405, f"POST /metrics -> {code}, expected 405")
        check(td.alive(), "tandemd still running")
        log("metrics: counters, process metrics, 404/405 ok")


if __name__ == "__main__":
    main(body, needs=("frr",))
