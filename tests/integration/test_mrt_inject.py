#!/usr/bin/env python3
"""MRT inject (`tandemctl mrt inject`): routes read from MRT files are originated by
tandemd, advertised to BIRD with their attributes, and recorded by tandemd's own MRT
writer, which bgpdump reads back.

The input is written by this test (lab/mrtfile.py), no sample data:
- rib.mrt: TABLE_DUMP_V2, 2,000 IPv4 /24s and 200 IPv6 /48s, each with two paths (the
  first is injected, the second must be ignored): 4-octet AS paths, every origin, MED,
  LOCAL_PREF, communities, large communities; 20 of the IPv4 routes have an empty AS
  path (their MED survives tandemd's eBGP export);
- updates.mrt.gz: gzip-compressed BGP4MP, 300 IPv4 + 30 IPv6 announcements in UPDATEs,
  a withdrawal and a state change (both skipped);
- bad.mrt: 10 good RIB records, then one whose peer index is out of range (skipped,
  reported), then a truncated one (reading stops there, reported with its offset).
Checked:
- the reports (routes, skipped, rate) and the exit codes (0; 1 with the offset of the
  bad records for bad.mrt; 2 for usage errors), `--count` stopping after N routes;
- `tandemctl rib`: the injected routes are local, with `--nexthop`'s address for IPv4
  and the file's next hop for IPv6;
- BIRD (birdc show route all): every prefix, AS path = tandemd's AS + the file's,
  origin, communities, large communities, MED where the path was empty;
- tandemd's MRT files, read by bgpdump -m: the updates file has every prefix sent to
  BIRD (BGP4MP_LOCAL) with those attributes; the table dump has every injected route
  from peer 0.0.0.0 with the file's attributes and the rewritten next hop.
"""

import ipaddress
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, Skip, log, wait_until  # noqa: E402
from lab import mrtfile  # noqa: E402
from lab.harness import check, main  # noqa: E402
from lab.tandem import default_tandemctl, require_tandemctl  # noqa: E402
from lab.topology import BIRD, TANDEM, StandardLab  # noqa: E402

N4, N6, N_UPD4, N_UPD6, N_EMPTY = 2000, 200, 300, 30, 20
ORIGIN_NAMES = ["igp", "egp", "incomplete"]
NEXT_HOP_V4 = TANDEM.v4


def rib_routes():
    """[(prefix, [(peer index, route)])]: the first entry is the one to inject."""
    out = []
    for i in range(N4 + N6):
        v6 = i >= N4
        j = i - N4 if v6 else i
        prefix = f"2001:db8:{0x4000 + j:x}::/48" if v6 else f"10.{100 + j // 256}.{j % 256}.0/24"
        empty = not v6 and j < N_EMPTY
        r = {"prefix": prefix, "origin": ORIGIN_NAMES[i % 3],
             "as_path": [] if empty else [4200001000 + i % 7, 65100 + i % 13],
             "next_hop": "2001:db8::99" if v6 else "198.18.0.9",
             "med": i % 50, "local_pref": 100 + i % 3,
             "communities": [f"65000:{i % 10}"] + (["65000:777"] if i % 4 == 0 else []),
             "large_communities": [f"4200000100:{i % 5}:1"]}
        other = dict(r, as_path=[64999], communities=["64999:1"], next_hop="2001:db8::98" if v6 else "198.18.0.8")
        out.append((prefix, [(0, r), (1, other)]))
    return out


PEERS = [("198.18.0.9", "198.18.0.9", 4200001000), ("198.18.0.8", "198.18.0.8", 64999)]


def updates_file(path):
    """BGP4MP: a state change, UPDATEs of at most 50 prefixes sharing attributes, one
    withdrawal. Returns {prefix: route}."""
    data = mrtfile.bgp4mp_state_change("198.18.0.7", 65020, "198.18.0.1", 65000, 5, 6)
    a = {"as_path": [65020, 4200002000], "origin": "egp", "next_hop": "198.18.0.7", "communities": ["65020:1"]}
    b = {"as_path": [65021], "origin": "igp", "next_hop": "198.18.0.7", "large_communities": ["65021:2:3"]}
    c = {"as_path": [65022], "origin": "igp", "next_hop": "2001:db8::77"}
    runs = [[dict(a, prefix=f"10.150.{k}.0/24") for k in range(256)],
            [dict(b, prefix=f"10.151.{k}.0/24") for k in range(N_UPD4 - 256)],
            [dict(c, prefix=f"2001:db8:{0x5000 + k:x}::/48") for k in range(N_UPD6)]]
    for run in runs:
        for k in range(0, len(run), 50):
            peer = "2001:db8::77" if ":" in run[0]["prefix"] else "198.18.0.7"
            local = "2001:db8::1" if ":" in peer else "198.18.0.1"
            data += mrtfile.bgp4mp_message(mrtfile.update_message(run[k:k + 50]), peer, 65020, local, 65000)
    data += mrtfile.bgp4mp_message(mrtfile.update_message(withdrawn=["10.150.0.0/24"]), "198.18.0.7", 65020,
                                   "198.18.0.1", 65000)
    mrtfile.write(path, data)
    return {r["prefix"]: r for run in runs for r in run}


def bad_file(path):
    """10 good RIB records, one with a bad peer index, then a truncated record: returns
    (offset of the bad record, offset of the truncated one)."""
    data = mrtfile.peer_index_table("198.18.0.250", PEERS[:1])
    for k in range(10):
        data += mrtfile.rib_record(k, f"10.160.{k}.0/24", [(0, {"prefix": f"10.160.{k}.0/24", "as_path": [65030],
                                                                  "origin": "igp", "next_hop": "198.18.0.9"})])
    bad_at = len(data)
    data += mrtfile.rib_record(10, "10.160.10.0/24", [(7, {"prefix": "10.160.10.0/24", "as_path": [65030]})])
    trunc_at = len(data)
    data += mrtfile.rib_record(11, "10.160.11.0/24", [(0, {"prefix": "10.160.11.0/24", "as_path": [65030]})])[:-5]
    mrtfile.write(path, data)
    return bad_at, trunc_at


def bird_path(route):
    return " ".join(str(a) for a in [TANDEM.asn] + route.get("as_path", []))


def read_mrt(path):
    cp = subprocess.run(["bgpdump", "-m", path], capture_output=True, text=True, timeout=120)
    check(cp.returncode == 0, f"bgpdump -m {path}: rc {cp.returncode}: {cp.stderr[-300:]}")
    return [line.split("|") for line in cp.stdout.splitlines() if line]


def body(args):
    tandemctl = require_tandemctl(args.tandemctl or default_tandemctl())
    if not os.path.exists("/usr/bin/bgpdump"):
        raise Skip("bgpdump is not installed (Debian package bgpdump; scripts/setup installs it)")
    with Lab("mrt-inject", keep=args.keep) as lab:
        top = StandardLab(lab, args.tandemd, frr=False, bird=True, tandem_networks=False)
        td, bird = top.tandem, top.bird
        td.tandemctl = tandemctl
        td.tables["mrt"] = {"updates_file": os.path.join(td.dir, "updates.%Y%m%d.%H%M%S.mrt"),
                            "updates_interval": 3600, "rib_file": os.path.join(td.dir, "rib.%Y%m%d.%H%M%S.mrt"),
                            "rib_interval": 10}
        files = os.path.join(lab.workdir, "input")
        os.makedirs(files)
        rib = rib_routes()
        rib_path = mrtfile.write(os.path.join(files, "rib.mrt"), mrtfile.table_dump_v2(rib, PEERS))
        upd_routes = updates_file(os.path.join(files, "updates.mrt.gz"))
        bad_at, trunc_at = bad_file(os.path.join(files, "bad.mrt"))
        top.start(timeout=40)

        # Usage errors: exit 2.
        for argv in (["mrt"], ["mrt", "inject"], ["mrt", "inject", rib_path, "--count", "0"],
                     ["mrt", "inject", rib_path, "--nexthop", "not-an-address"], ["mrt", "frobnicate"]):
            cp = td.ctl_run(*argv)
            check(cp.returncode == 2 and "usage" in cp.stderr, f"tandemctl {' '.join(argv)}: rc {cp.returncode}, "
                  f"stderr {cp.stderr.strip()[:200]}")
        cp = td.ctl_run("mrt", "inject", os.path.join(files, "missing.mrt"))
        check(cp.returncode == 1 and "missing.mrt" in cp.stderr, f"missing file: rc {cp.returncode} {cp.stderr}")

        # --count: the first 10 routes only.
        out = td.ctl("mrt", "inject", rib_path, "--count", 10, "--nexthop", NEXT_HOP_V4)
        check(out["routes"] == "10", f"--count 10 injected {out}")
        # The whole table dump: the first path of each prefix.
        out = td.ctl("mrt", "inject", rib_path, "--nexthop", NEXT_HOP_V4)
        check(out["routes"] == str(N4 + N6) and out["other_paths_skipped"] == str(N4 + N6) and
              out["malformed_records"] == "0", f"inject rib.mrt: {out}")
        log(f"rib.mrt: {out['routes']} routes in {out['seconds']} s ({out['routes_per_second']} routes/s)")
        text = td.ctl("mrt", "inject", os.path.join(files, "updates.mrt.gz"), json=False)
        m = re.search(r"injected (\d+) routes from .* \((\d+) routes/s", text)
        check(m and int(m.group(1)) == N_UPD4 + N_UPD6, f"inject updates.mrt.gz: {text}")
        check(re.search(r"1 withdrawals, 1 other records", text), f"inject updates.mrt.gz report: {text}")
        log(f"updates.mrt.gz: {text.strip().splitlines()[0]}")
        # The bad file: the good routes go in; exit 1 naming both offsets.
        cp = td.ctl_run("mrt", "inject", os.path.join(files, "bad.mrt"))
        check(cp.returncode == 1, f"bad.mrt: rc {cp.returncode}")
        check("injected 10 routes" in cp.stdout, f"bad.mrt: {cp.stdout}")
        check(f"offset {trunc_at}" in cp.stderr and f"the first at offset {bad_at}" in cp.stderr,
              f"bad.mrt: expected offsets {bad_at} and {trunc_at} in: {cp.stderr.strip()}")
        log(f"bad.mrt: {cp.stderr.strip()}")

        want4 = {p: es[0][1] for p, es in rib if ":" not in p}
        want6 = {p: es[0][1] for p, es in rib if ":" in p}
        want4.update({p: r for p, r in upd_routes.items() if ":" not in p})
        want6.update({p: r for p, r in upd_routes.items() if ":" in p})
        bad4 = {f"10.160.{k}.0/24" for k in range(10)}

        # tandemd's RIB: local routes, the rewritten IPv4 next hop, the file's IPv6 one.
        local = td.rib_prefixes("ipv4").get("", set())
        check(local == set(want4) | bad4, f"tandemd's local IPv4 routes: {len(local)}, expected {len(want4) + 10}")
        r = td.ctl("rib", "10.100.0.0/24")
        check(r and r[0]["attributes"]["next_hop"] == NEXT_HOP_V4, f"rib 10.100.0.0/24: {r}")
        r = td.ctl("rib", "2001:db8:4000::/48")
        check(r and r[0]["attributes"]["next_hop"] == "2001:db8::99", f"rib 2001:db8:4000::/48: {r}")
        r = td.ctl("rib", "10.150.1.0/24")
        check(r and r[0]["attributes"]["next_hop"] == "198.18.0.7", f"rib 10.150.1.0/24 (no --nexthop): {r}")

        # BIRD has every route with the file's attributes (after tandemd's eBGP export).
        wait_until(lambda: len(bird.routes("protocol tandem4")) >= len(want4) + 10 and
                   len(bird.routes("protocol tandem6")) >= len(want6), 60, "BIRD has the injected routes")
        for proto, want in (("tandem4", want4), ("tandem6", want6)):
            got = bird.routes(f"protocol {proto}")
            missing = set(want) - set(got)
            check(not missing, f"BIRD {proto}: {len(missing)} prefixes missing, e.g. {sorted(missing)[:3]}")
            bad = []
            for p, route in want.items():
                g = got[p][0]
                exp = {"as_path": bird_path(route), "origin": route.get("origin", "incomplete"),
                       "community": sorted(route.get("communities", [])),
                       "large_community": sorted(route.get("large_communities", []))}
                have = {"as_path": g.get("as_path"), "origin": g.get("origin"), "community": sorted(g["community"]),
                        "large_community": sorted(g["large_community"])}
                if not route.get("as_path") and "med" in route:
                    exp["med"], have["med"] = route["med"], g.get("med")
                if exp != have:
                    bad.append((p, exp, have))
            check(not bad, f"BIRD {proto}: {len(bad)} routes with other attributes, e.g. {bad[:2]}")
        log(f"BIRD: {len(want4) + 10} IPv4 and {len(want6)} IPv6 routes with the file's attributes")

        # tandemd's MRT recording: a table dump after the injection, then stop (flush).
        since = td.log_offset()
        td.wait_log(r"mrt: table dump done", timeout=30, since=since)
        check(td.stop() == 0, "tandemd did not exit 0 on SIGTERM")
        names = sorted(os.listdir(td.dir))
        upd_file = [os.path.join(td.dir, f) for f in names if f.startswith("updates.")]
        rib_files = [os.path.join(td.dir, f) for f in names if f.startswith("rib.")]
        check(len(upd_file) == 1 and rib_files, f"tandemd's MRT files: {names}")

        sent = {}
        for f in read_mrt(upd_file[0]):
            if f[0] == "BGP4MP_LOCAL" and f[2] == "A" and f[3] in (BIRD.v4, str(ipaddress.ip_address(BIRD.v6))):
                sent[str(ipaddress.ip_network(f[5]))] = f
        allwant = {str(ipaddress.ip_network(p)): r for p, r in list(want4.items()) + list(want6.items())}
        missing = set(allwant) - set(sent)
        check(not missing, f"updates file: {len(missing)} injected prefixes not sent to BIRD, e.g. {sorted(missing)[:3]}")
        bad = [(p, sent[p][6], bird_path(r)) for p, r in allwant.items() if sent[p][6] != bird_path(r)]
        bad += [(p, sent[p][11], r.get("communities")) for p, r in allwant.items()
                if sorted(sent[p][11].split()) != sorted(r.get("communities", []))]
        check(not bad, f"updates file: attributes differ from the file's: {bad[:3]}")

        dump = [f for f in read_mrt(rib_files[-1]) if f[3] == "0.0.0.0"]
        local = {str(ipaddress.ip_network(f[5])): f for f in dump}
        missing = set(allwant) - set(local)
        check(not missing, f"table dump: {len(missing)} injected routes missing, e.g. {sorted(missing)[:3]}")
        bad = []
        for p, r in allwant.items():
            f = local[p]
            nh = NEXT_HOP_V4 if p in want4 and p not in upd_routes else r.get("next_hop")
            exp = (" ".join(map(str, r.get("as_path", []))), r.get("origin", "incomplete").upper(), nh,
                   str(r.get("local_pref", 0)), str(r.get("med", 0)))
            have = (f[6], f[7], str(ipaddress.ip_address(f[8])), f[9], f[10])
            if exp != have:
                bad.append((p, exp, have))
        check(not bad, f"table dump: {len(bad)} routes with other attributes, e.g. {bad[:2]}")
        log(f"bgpdump: {len(sent)} prefixes sent to BIRD in the updates file, {len(local)} local routes in the "
            f"table dump, attributes as injected")


if __name__ == "__main__":
    main(body, needs=("bird",))
