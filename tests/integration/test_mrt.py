#!/usr/bin/env python3
"""MRT recording (RFC 6396): what tandemd records is what its peers sent and received,
and both bgpdump (Debian's reader) and tandem's own reader (tandem-mrtdump) read it
the same way.

FRR (iBGP) originates 500 IPv4 /24s and 50 IPv6 /48s with a community; BIRD (eBGP)
receives them from tandemd. tandemd records with `[mrt] updates_file` (BGP4MP: every
message, every FSM transition) and `rib_file` (TABLE_DUMP_V2 every 10 s), gzip
compressed (tandemd adds the ".gz" readers expect). After the first table dump tandemd
is stopped (SIGTERM: the writers flush), then:
- `bgpdump -m` and `tandem-mrtdump` print the same lines for both files (IPv6
  addresses compared as addresses: tandem prints RFC 5952 text, glibc's inet_ntop may
  compress a single zero group);
- the updates file holds, from FRR's addresses, exactly FRR's prefixes as announced
  (`A`, with FRR's next hop and community), and, sent to BIRD (`BGP4MP_LOCAL`), each of
  them with tandemd's AS prepended; STATE records for every session up to Established
  (6) and, after SIGTERM, down to Idle (1);
- the table dump holds every FRR prefix once with FRR as the peer (index table) and
  tandemd's own networks with peer 0.0.0.0.
"""

import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, Skip, log, wait_until  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, FRR, TANDEM, TANDEM_NETWORKS, StandardLab  # noqa: E402

N_V4, N_V6 = 500, 50
COMMUNITY = "65000:777"


def normalise(line):
    """A bgpdump -m line with every IP address in canonical form."""
    fields = line.split("|")
    out = []
    for f in fields:
        try:
            out.append(str(ipaddress.ip_address(f)))
            continue
        except ValueError:
            pass
        try:
            out.append(str(ipaddress.ip_network(f)))
        except ValueError:
            out.append(f)
    return "|".join(out)


def read(tool, path):
    r = subprocess.run(tool + [path], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{' '.join(tool)} {path} exited {r.returncode}: {r.stderr.strip()[:300]}")
    return [normalise(x) for x in r.stdout.splitlines() if x]


def body(args):
    mrtdump = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.tandemd))), "tandem-mrtdump",
                           "tandem-mrtdump")
    if not os.path.exists(mrtdump):
        raise Skip(f"tandem-mrtdump not built ({mrtdump})")
    if not os.path.exists("/usr/bin/bgpdump"):
        raise Skip("bgpdump is not installed (Debian package bgpdump; scripts/setup installs it)")
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    with Lab("mrt", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd)
        frr, bird, td = top.frr, top.bird, top.tandem
        td.tandemctl = tandemctl
        frr.add_route_map("RMC", [f"set community {COMMUNITY}"])
        base = int(ipaddress.IPv4Address("10.64.0.0"))
        v4 = [f"{ipaddress.IPv4Address(base + i * 256)}/24" for i in range(N_V4)]
        v6 = [f"2001:db8:{0x1000 + i:x}::/48" for i in range(N_V6)]
        for p in v4 + v6:
            frr.add_network(p, "RMC")
        updates = os.path.join(td.dir, "updates.%Y%m%d.%H%M%S.mrt.gz")
        ribs = os.path.join(td.dir, "rib.%Y%m%d.%H%M%S.mrt")  # ".gz" added by tandemd
        td.tables["mrt"] = {"updates_file": updates, "updates_interval": 3600, "rib_file": ribs,
                            "rib_interval": 10, "compression": "gzip"}
        top.start(timeout=40)
        td.wait_routes(lambda s: len(s.prefixes("ipv4", peer=FRR.v4)) == N_V4 and
                       len(s.prefixes("ipv6", peer=FRR.v6)) == N_V6, 60, "FRR's routes in tandemd")
        wait_until(lambda: len(bird.routes("protocol tandem4")) >= N_V4, 60, "BIRD has FRR's IPv4 routes")
        td.wait_log(r"mrt: table dump done", timeout=40)
        # The writers' counters over the API (GetGlobal): records written, none dropped.
        writers = {w["name"]: w for w in td.ctl("global").get("mrt", [])}
        check(set(writers) == {"updates", "rib"}, f"MRT writers in GetGlobal: {writers}")
        check(all(int(w.get("records_written", 0)) > 0 and int(w.get("records_dropped", 0)) == 0 and
                  int(w.get("write_errors", 0)) == 0 for w in writers.values()),
              f"MRT writers' counters: {writers}")
        log(f"GetGlobal: MRT updates {writers['updates'].get('records_written')} records written, rib "
            f"{writers['rib'].get('records_written')}, none dropped")
        check(td.stop() == 0, "tandemd did not exit 0 on SIGTERM")

        files = sorted(os.listdir(td.dir))
        upd = [os.path.join(td.dir, f) for f in files if f.startswith("updates.")]
        rib = [os.path.join(td.dir, f) for f in files if f.startswith("rib.")]
        check(all(f.endswith(".gz") for f in upd + rib), f"compressed files without .gz: {upd + rib}")
        check(len(upd) == 1, f"expected one updates file, found {upd}")
        check(len(rib) >= 1, f"expected a RIB dump file, found none in {files}")
        rib = rib[:1]  # the first dump

        for path in upd + rib:
            theirs = read(["bgpdump", "-m"], path)
            ours = read([mrtdump], path)
            check(len(theirs) > 0, f"bgpdump read nothing from {path}")
            diff = [(a, b) for a, b in zip(theirs, ours) if a != b]
            check(len(theirs) == len(ours) and not diff,
                  f"{os.path.basename(path)}: bgpdump {len(theirs)} lines, tandem-mrtdump {len(ours)}; "
                  f"first difference: {diff[:1]}")
            log(f"{os.path.basename(path)}: {len(ours)} lines, identical in both readers")

        lines = read([mrtdump], upd[0])
        frr_ips = {FRR.v4, str(ipaddress.ip_address(FRR.v6))}
        announced = {}
        for l in lines:
            f = l.split("|")
            if f[0] == "BGP4MP" and f[2] == "A" and f[3] in frr_ips:
                announced[f[5]] = f
        want = set(v4) | {str(ipaddress.ip_network(p)) for p in v6}
        check(set(announced) == want,
              f"prefixes recorded from FRR: {len(announced)}, expected {len(want)}; "
              f"missing {sorted(want - set(announced))[:3]}, extra {sorted(set(announced) - want)[:3]}")
        bad = [f for f in announced.values() if COMMUNITY not in f[11].split() or f[6] != ""]
        check(not bad, f"routes from FRR recorded without its community or with an AS path: {bad[:2]}")
        bird_ips = {BIRD.v4, str(ipaddress.ip_address(BIRD.v6))}
        sent = {f[5] for f in (l.split("|") for l in lines)
                if f[0] == "BGP4MP_LOCAL" and f[2] == "A" and f[3] in bird_ips and f[6] == str(TANDEM.asn)}
        check(want <= sent, f"{len(want - sent)} of FRR's prefixes not recorded as sent to BIRD with AS path "
                            f"{TANDEM.asn}, e.g. {sorted(want - sent)[:3]}")
        states = [l.split("|") for l in lines if l.split("|")[2] == "STATE"]
        for ip in frr_ips | bird_ips:
            mine = [(s[5], s[6]) for s in states if s[3] == ip]
            check(("5", "6") in mine, f"no STATE OpenConfirm -> Established for {ip}: {mine}")
            check(mine and mine[-1][1] == "1", f"the last STATE for {ip} is not Idle after SIGTERM: {mine}")

        dump = [l.split("|") for l in read([mrtdump], rib[0])]
        from_frr = [f for f in dump if f[3] in frr_ips]
        check({f[5] for f in from_frr} == want and len(from_frr) == len(want),
              f"table dump: {len(from_frr)} entries from FRR for {len({f[5] for f in from_frr})} prefixes, "
              f"expected each of {len(want)} once")
        local = {f[5] for f in dump if f[3] == "0.0.0.0"}
        check(local == {str(ipaddress.ip_network(p)) for p in TANDEM_NETWORKS},
              f"tandemd's own networks in the dump: {sorted(local)}")
        log(f"updates: {len(lines)} lines ({len(announced)} announced by FRR, {len(sent)} sent to BIRD, "
            f"{len(states)} state changes); table dump: {len(dump)} entries")


if __name__ == "__main__":
    main(body, needs=("frr", "bird"))
