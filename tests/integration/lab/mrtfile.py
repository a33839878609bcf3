"""Writing MRT files (RFC 6396) from Python, for tests that need MRT input without
sample data: TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST) and
BGP4MP_MESSAGE_AS4 records holding UPDATE messages. Routes are dicts:

    {"prefix": "10.0.0.0/24", "as_path": [65001, 65002], "origin": "igp",
     "next_hop": "192.0.2.9", "med": 5, "local_pref": 100,
     "communities": ["65000:1"], "large_communities": ["65000:1:2"]}

(every key but "prefix" optional; AS numbers are 4-octet).
"""

import gzip
import ipaddress
import struct

ORIGINS = {"igp": 0, "egp": 1, "incomplete": 2}


def _attr(flags, code, value):
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def _prefix_bytes(net):
    return bytes([net.prefixlen]) + net.network_address.packed[:(net.prefixlen + 7) // 8]


def path_attributes(route, rib_entry=True):
    """The attributes of a route, 4-octet AS_PATH. IPv6 next hop: in a TABLE_DUMP_V2 RIB
    entry the abbreviated MP_REACH_NLRI (RFC 6396 4.3.4), in an UPDATE the full one is
    added by update_message()."""
    net = ipaddress.ip_network(route["prefix"])
    out = b""
    if "origin" in route:
        out += _attr(0x40, 1, bytes([ORIGINS[route["origin"]]]))
    path = route.get("as_path", [])
    seg = struct.pack("!BB", 2, len(path)) + b"".join(struct.pack("!I", a) for a in path) if path else b""
    out += _attr(0x40, 2, seg)
    nh = route.get("next_hop")
    if nh and net.version == 4:
        out += _attr(0x40, 3, ipaddress.ip_address(nh).packed)
    if "med" in route:
        out += _attr(0x80, 4, struct.pack("!I", route["med"]))
    if "local_pref" in route:
        out += _attr(0x40, 5, struct.pack("!I", route["local_pref"]))
    if route.get("communities"):
        out += _attr(0xC0, 8, b"".join(struct.pack("!HH", *map(int, c.split(":"))) for c in route["communities"]))
    if nh and net.version == 6 and rib_entry:
        addr = ipaddress.ip_address(nh).packed
        out += _attr(0x80, 14, bytes([len(addr)]) + addr)
    if route.get("large_communities"):
        out += _attr(0xC0, 32, b"".join(struct.pack("!III", *map(int, c.split(":")))
                                        for c in route["large_communities"]))
    return out


def _record(ts, mtype, subtype, body):
    return struct.pack("!IHHI", ts, mtype, subtype, len(body)) + body


def peer_index_table(collector_id, peers, ts=1700000000):
    """peers: [(bgp_id, ip, asn)]; every peer written with a 4-octet AS."""
    body = ipaddress.IPv4Address(collector_id).packed + struct.pack("!H", 0) + struct.pack("!H", len(peers))
    for bgp_id, ip, asn in peers:
        a = ipaddress.ip_address(ip)
        body += bytes([0x02 | (0x01 if a.version == 6 else 0)]) + ipaddress.IPv4Address(bgp_id).packed + \
            a.packed + struct.pack("!I", asn)
    return _record(ts, 13, 1, body)


def rib_record(seq, prefix, entries, ts=1700000000):
    """entries: [(peer_index, route dict)]."""
    net = ipaddress.ip_network(prefix)
    body = struct.pack("!I", seq) + _prefix_bytes(net) + struct.pack("!H", len(entries))
    for idx, route in entries:
        attrs = path_attributes(route)
        body += struct.pack("!HIH", idx, ts, len(attrs)) + attrs
    return _record(ts, 13, 2 if net.version == 4 else 4, body)


def update_message(routes=(), withdrawn=()):
    """One UPDATE: IPv4 routes sharing the first route's attributes (NLRI field), or
    IPv6 ones (MP_REACH_NLRI); withdrawn: IPv4 prefixes."""
    wd = b"".join(_prefix_bytes(ipaddress.ip_network(p)) for p in withdrawn)
    attrs, nlri = b"", b""
    if routes:
        first = routes[0]
        nets = [ipaddress.ip_network(r["prefix"]) for r in routes]
        attrs = path_attributes(first, rib_entry=False)
        if nets[0].version == 4:
            nlri = b"".join(_prefix_bytes(n) for n in nets)
        else:
            nh = ipaddress.ip_address(first["next_hop"]).packed
            mp = struct.pack("!HBB", 2, 1, len(nh)) + nh + b"\x00" + b"".join(_prefix_bytes(n) for n in nets)
            attrs = _attr(0x80, 14, mp) + attrs
    body = struct.pack("!H", len(wd)) + wd + struct.pack("!H", len(attrs)) + attrs + nlri
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body


def bgp4mp_message(message, peer_ip, peer_as, local_ip, local_as, ts=1700000000):
    """BGP4MP_MESSAGE_AS4 (a message received from peer_ip)."""
    p, l = ipaddress.ip_address(peer_ip), ipaddress.ip_address(local_ip)
    body = struct.pack("!IIHH", peer_as, local_as, 0, 1 if p.version == 4 else 2) + p.packed + l.packed + message
    return _record(ts, 16, 4, body)


def bgp4mp_state_change(peer_ip, peer_as, local_ip, local_as, old, new, ts=1700000000):
    p, l = ipaddress.ip_address(peer_ip), ipaddress.ip_address(local_ip)
    body = struct.pack("!IIHH", peer_as, local_as, 0, 1 if p.version == 4 else 2) + p.packed + l.packed + \
        struct.pack("!HH", old, new)
    return _record(ts, 16, 5, body)


def table_dump_v2(routes_by_prefix, peers, collector_id="192.0.2.250"):
    """The bytes of a TABLE_DUMP_V2 file: routes_by_prefix = [(prefix, [(peer_index,
    route)])], IPv4 and IPv6 in any order."""
    out = peer_index_table(collector_id, peers)
    for seq, (prefix, entries) in enumerate(routes_by_prefix):
        out += rib_record(seq, prefix, entries)
    return out


def write(path, data):
    """Write bytes; gzip-compressed when the path ends in .gz."""
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path
