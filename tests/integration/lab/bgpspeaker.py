"""A minimal BGP-4 speaker for tests (RFC 4271, 4760, 6793, 2918, 1997, 8092, 4360).

It opens one session (connecting out or accepting), negotiates multiprotocol IPv4/IPv6
unicast, 4-octet AS numbers and route refresh, keeps the session alive, announces and
withdraws routes, can send deliberately malformed UPDATEs, and parses what it receives
into an Adj-RIB-In per family plus counters (UPDATEs, KEEPALIVEs, NOTIFICATIONs,
End-of-RIB) that tests assert on.

    spk = Speaker(node, 4200000300, router_id="192.0.2.4", families=("ipv4",))
    spk.connect("192.0.2.1")            # inside node's namespace
    spk.wait_established()
    spk.announce([Route("10.9.0.0/24", next_hop="192.0.2.4", communities=["65000:1"])])
    spk.send_update_raw(attrs=..., nlri=...)   # anything at all
"""

import ipaddress
import socket
import struct
import threading
import time

from .netns import in_netns
from .util import WaitTimeout, log, wait_until

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
MSG_NAMES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}
AS_TRANS = 23456
MAX_MSG = 4096

FAMILIES = {"ipv4": (1, 1), "ipv6": (2, 1)}
FAMILY_BY_AFI = {v: k for k, v in FAMILIES.items()}

# Path attribute type codes
ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR = 1, 2, 3, 4, 5, 6, 7
COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST, MP_REACH, MP_UNREACH, EXT_COMMUNITIES = 8, 9, 10, 14, 15, 16
AS4_PATH, AS4_AGGREGATOR, LARGE_COMMUNITIES = 17, 18, 32
F_OPTIONAL, F_TRANSITIVE, F_PARTIAL, F_EXTLEN = 0x80, 0x40, 0x20, 0x10
ORIGINS = {"igp": 0, "egp": 1, "incomplete": 2}
ORIGIN_NAMES = {v: k for k, v in ORIGINS.items()}


def family_of(prefix):
    return "ipv6" if ":" in str(prefix) else "ipv4"


# --------------------------------------------------------------------------------------
# Routes and attribute encoding


class Route:
    """A route with its path attributes. Used both for announcing and for what was
    received. as_path is a list of AS numbers (one AS_SEQUENCE); as_set an optional
    list for a trailing AS_SET. extra_attrs are raw (flags, type, value) triples
    appended as they are, for crafting anything."""

    __slots__ = ("prefix", "next_hop", "next_hop_ll", "origin", "as_path", "as_set", "med",
                 "local_pref", "communities", "large_communities", "ext_communities",
                 "atomic_aggregate", "aggregator", "originator_id", "cluster_list",
                 "extra_attrs", "unknown")

    def __init__(self, prefix, next_hop=None, origin="igp", as_path=None, med=None, local_pref=None,
                 communities=(), large_communities=(), ext_communities=(), atomic_aggregate=False,
                 aggregator=None, extra_attrs=(), as_set=None, next_hop_ll=None):
        self.prefix = str(ipaddress.ip_network(prefix, strict=True))
        self.next_hop = next_hop
        self.next_hop_ll = next_hop_ll
        self.origin = origin
        self.as_path = list(as_path) if as_path is not None else None
        self.as_set = list(as_set) if as_set else None
        self.med = med
        self.local_pref = local_pref
        self.communities = list(communities)
        self.large_communities = list(large_communities)
        self.ext_communities = list(ext_communities)
        self.atomic_aggregate = atomic_aggregate
        self.aggregator = aggregator  # (asn, "a.b.c.d")
        self.originator_id = None
        self.cluster_list = None
        self.extra_attrs = list(extra_attrs)
        self.unknown = []  # received attributes not understood: (flags, type, value)

    @property
    def family(self):
        return family_of(self.prefix)

    def attr_key(self):
        """Everything but the prefix: routes with equal keys share one UPDATE."""
        return (self.next_hop, self.next_hop_ll, self.origin, tuple(self.as_path or ()),
                tuple(self.as_set or ()), self.med, self.local_pref, tuple(self.communities),
                tuple(self.large_communities), tuple(self.ext_communities), self.atomic_aggregate,
                self.aggregator, tuple(self.extra_attrs))

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        parts = [self.prefix, f"nh={self.next_hop}", f"path={self.as_path}", f"origin={self.origin}"]
        for k in ("med", "local_pref"):
            if getattr(self, k) is not None:
                parts.append(f"{k}={getattr(self, k)}")
        for k in ("communities", "large_communities", "ext_communities"):
            if getattr(self, k):
                parts.append(f"{k}={getattr(self, k)}")
        return f"Route({', '.join(parts)})"


def attr(flags, type_code, value):
    """Encode one path attribute; sets the extended-length flag when needed (unless
    the caller set it already). Length is the real length of `value`."""
    if len(value) > 255:
        flags |= F_EXTLEN
    if flags & F_EXTLEN:
        return struct.pack("!BBH", flags, type_code, len(value)) + value
    return struct.pack("!BBB", flags, type_code, len(value)) + value


def attr_raw_len(flags, type_code, declared_len, value):
    """Encode an attribute with an arbitrary declared length (for malformed tests)."""
    if flags & F_EXTLEN:
        return struct.pack("!BBH", flags, type_code, declared_len) + value
    return struct.pack("!BBB", flags, type_code, declared_len) + value


def encode_prefix(prefix):
    net = ipaddress.ip_network(prefix)
    n = (net.prefixlen + 7) // 8
    return bytes([net.prefixlen]) + net.network_address.packed[:n]


def decode_prefixes(data, afi):
    out, i = [], 0
    width = 4 if afi == 1 else 16
    while i < len(data):
        plen = data[i]
        n = (plen + 7) // 8
        if plen > width * 8 or i + 1 + n > len(data):
            raise ValueError(f"bad NLRI at offset {i}")
        raw = data[i + 1:i + 1 + n] + b"\0" * (width - n)
        addr = ipaddress.IPv4Address(raw) if afi == 1 else ipaddress.IPv6Address(raw)
        out.append(f"{addr}/{plen}")
        i += 1 + n
    return out


def encode_community(c):
    a, b = (int(x) for x in c.split(":"))
    return struct.pack("!HH", a, b)


def encode_large(c):
    return struct.pack("!III", *(int(x) for x in c.split(":")))


def encode_ext(c):
    """'rt:ASN:VAL' / 'soo:ASN:VAL' (2-octet ASN -> type 0x00, 4-octet -> 0x02) or raw 8 bytes."""
    if isinstance(c, bytes):
        return c
    kind, a, b = c.split(":")
    sub = {"rt": 0x02, "soo": 0x03}[kind]
    a, b = int(a), int(b)
    if a <= 0xFFFF:
        return struct.pack("!BBHI", 0x00, sub, a, b)
    return struct.pack("!BBIH", 0x02, sub, a, b)


def decode_ext(v):
    t, st = v[0], v[1]
    names = {0x02: "rt", 0x03: "soo"}
    if t in (0x00, 0x40) and st in names:
        a, b = struct.unpack("!HI", v[2:])
        return f"{names[st]}:{a}:{b}"
    if t in (0x02, 0x42) and st in names:
        a, b = struct.unpack("!IH", v[2:])
        return f"{names[st]}:{a}:{b}"
    if t in (0x01, 0x41) and st in names:
        return f"{names[st]}:{ipaddress.IPv4Address(v[2:6])}:{struct.unpack('!H', v[6:])[0]}"
    return "0x" + v.hex()


def encode_as_path(asns, as_set=None, four_octet=True):
    fmt = "!I" if four_octet else "!H"
    out = b""
    asns = list(asns or [])
    while asns:
        chunk, asns = asns[:255], asns[255:]
        out += bytes([2, len(chunk)]) + b"".join(struct.pack(fmt, a) for a in chunk)
    if as_set:
        out += bytes([1, len(as_set)]) + b"".join(struct.pack(fmt, a) for a in as_set)
    return out


def encode_path_attrs(route, nlri_family, mp_nlri=b"", four_octet=True):
    """Path attributes for `route`. For IPv6 the MP_REACH_NLRI carrying mp_nlri is included."""
    out = attr(F_TRANSITIVE, ORIGIN, bytes([ORIGINS[route.origin]]))
    out += attr(F_TRANSITIVE, AS_PATH, encode_as_path(route.as_path, route.as_set, four_octet))
    if nlri_family == "ipv4" and route.next_hop:
        out += attr(F_TRANSITIVE, NEXT_HOP, ipaddress.IPv4Address(route.next_hop).packed)
    if route.med is not None:
        out += attr(F_OPTIONAL, MED, struct.pack("!I", route.med))
    if route.local_pref is not None:
        out += attr(F_TRANSITIVE, LOCAL_PREF, struct.pack("!I", route.local_pref))
    if route.atomic_aggregate:
        out += attr(F_TRANSITIVE, ATOMIC_AGGREGATE, b"")
    if route.aggregator:
        asn, ip = route.aggregator
        out += attr(F_OPTIONAL | F_TRANSITIVE, AGGREGATOR,
                    struct.pack("!I" if four_octet else "!H", asn) + ipaddress.IPv4Address(ip).packed)
    if route.communities:
        out += attr(F_OPTIONAL | F_TRANSITIVE, COMMUNITIES,
                    b"".join(encode_community(c) for c in route.communities))
    if nlri_family == "ipv6":
        nh = ipaddress.IPv6Address(route.next_hop).packed
        if route.next_hop_ll:
            nh += ipaddress.IPv6Address(route.next_hop_ll).packed
        out += attr(F_OPTIONAL, MP_REACH, struct.pack("!HBB", 2, 1, len(nh)) + nh + b"\0" + mp_nlri)
    if route.ext_communities:
        out += attr(F_OPTIONAL | F_TRANSITIVE, EXT_COMMUNITIES,
                    b"".join(encode_ext(c) for c in route.ext_communities))
    if route.large_communities:
        out += attr(F_OPTIONAL | F_TRANSITIVE, LARGE_COMMUNITIES,
                    b"".join(encode_large(c) for c in route.large_communities))
    for flags, t, v in route.extra_attrs:
        out += v if t is None else attr(flags, t, v)  # t None: v is a fully encoded attribute
    return out


def message(mtype, body):
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def update_message(withdrawn=b"", attrs=b"", nlri=b""):
    return message(UPDATE, struct.pack("!H", len(withdrawn)) + withdrawn +
                   struct.pack("!H", len(attrs)) + attrs + nlri)


def end_of_rib(family):
    if family == "ipv4":
        return update_message()
    afi, safi = FAMILIES[family]
    return update_message(attrs=attr(F_OPTIONAL, MP_UNREACH, struct.pack("!HB", afi, safi)))


# --------------------------------------------------------------------------------------
# Parsing


class ParseError(Exception):
    pass


def parse_update(body, four_octet=True):
    """Returns (announced: {family: [Route]}, withdrawn: {family: [prefix]}, eor_family or None)."""
    if len(body) < 4:
        raise ParseError("UPDATE too short")
    wl = struct.unpack("!H", body[:2])[0]
    withdrawn_raw = body[2:2 + wl]
    pal = struct.unpack("!H", body[2 + wl:4 + wl])[0]
    attrs_raw = body[4 + wl:4 + wl + pal]
    nlri_raw = body[4 + wl + pal:]
    withdrawn = {"ipv4": decode_prefixes(withdrawn_raw, 1)}
    announced = {}
    base = Route("0.0.0.0/0")
    mp_reach = None
    mp_unreach = None
    i = 0
    while i < len(attrs_raw):
        flags, t = attrs_raw[i], attrs_raw[i + 1]
        if flags & F_EXTLEN:
            ln = struct.unpack("!H", attrs_raw[i + 2:i + 4])[0]
            i += 4
        else:
            ln = attrs_raw[i + 2]
            i += 3
        v = attrs_raw[i:i + ln]
        if len(v) != ln:
            raise ParseError(f"attribute {t} truncated")
        i += ln
        if t == ORIGIN:
            base.origin = ORIGIN_NAMES.get(v[0], str(v[0]))
        elif t == AS_PATH:
            w = 4 if four_octet else 2
            path, aset, j = [], [], 0
            while j < len(v):
                st, cnt = v[j], v[j + 1]
                asns = [int.from_bytes(v[j + 2 + k * w:j + 2 + (k + 1) * w], "big") for k in range(cnt)]
                (path if st == 2 else aset).extend(asns)
                j += 2 + cnt * w
            base.as_path = path
            base.as_set = aset or None
        elif t == NEXT_HOP:
            base.next_hop = str(ipaddress.IPv4Address(v))
        elif t == MED:
            base.med = struct.unpack("!I", v)[0]
        elif t == LOCAL_PREF:
            base.local_pref = struct.unpack("!I", v)[0]
        elif t == ATOMIC_AGGREGATE:
            base.atomic_aggregate = True
        elif t == AGGREGATOR:
            w = 4 if len(v) == 8 else 2
            base.aggregator = (int.from_bytes(v[:w], "big"), str(ipaddress.IPv4Address(v[w:w + 4])))
        elif t == COMMUNITIES:
            base.communities = ["%d:%d" % struct.unpack("!HH", v[k:k + 4]) for k in range(0, len(v), 4)]
        elif t == LARGE_COMMUNITIES:
            base.large_communities = ["%d:%d:%d" % struct.unpack("!III", v[k:k + 12])
                                      for k in range(0, len(v), 12)]
        elif t == EXT_COMMUNITIES:
            base.ext_communities = [decode_ext(v[k:k + 8]) for k in range(0, len(v), 8)]
        elif t == ORIGINATOR_ID:
            base.originator_id = str(ipaddress.IPv4Address(v))
        elif t == CLUSTER_LIST:
            base.cluster_list = [str(ipaddress.IPv4Address(v[k:k + 4])) for k in range(0, len(v), 4)]
        elif t == MP_REACH:
            mp_reach = v
        elif t == MP_UNREACH:
            mp_unreach = v
        else:
            base.unknown.append((flags, t, v))

    def clone(prefix, nh=None, nh_ll=None):
        r = Route.__new__(Route)
        for k in Route.__slots__:
            setattr(r, k, getattr(base, k))
        r.prefix = prefix
        if nh is not None:
            r.next_hop, r.next_hop_ll = nh, nh_ll
        return r

    eor = None
    v4 = decode_prefixes(nlri_raw, 1)
    if v4:
        announced["ipv4"] = [clone(p) for p in v4]
    if mp_reach is not None:
        afi, safi, nhl = struct.unpack("!HBB", mp_reach[:4])
        fam = FAMILY_BY_AFI.get((afi, safi), f"{afi}/{safi}")
        nhb = mp_reach[4:4 + nhl]
        nh = nh_ll = None
        if afi == 2 and nhl in (16, 32):
            nh = str(ipaddress.IPv6Address(nhb[:16]))
            if nhl == 32:
                nh_ll = str(ipaddress.IPv6Address(nhb[16:]))
        elif nhl == 4:
            nh = str(ipaddress.IPv4Address(nhb))
        nl = mp_reach[4 + nhl + 1:]
        announced.setdefault(fam, []).extend(clone(p, nh, nh_ll) for p in decode_prefixes(nl, afi))
    if mp_unreach is not None:
        afi, safi = struct.unpack("!HB", mp_unreach[:3])
        fam = FAMILY_BY_AFI.get((afi, safi), f"{afi}/{safi}")
        pfx = decode_prefixes(mp_unreach[3:], afi)
        withdrawn.setdefault(fam, []).extend(pfx)
        if not pfx and not announced and not withdrawn["ipv4"]:
            eor = fam
    if not withdrawn_raw and not attrs_raw and not nlri_raw:
        eor = "ipv4"
    return announced, withdrawn, eor


# --------------------------------------------------------------------------------------
# The speaker


class Speaker:
    def __init__(self, node, asn, router_id=None, families=("ipv4", "ipv6"), hold_time=90,
                 local_address=None, name=None, route_refresh=True, four_octet=True):
        self.node = node
        self.asn = asn
        self.router_id = router_id or node.v4
        self.families = tuple(families)
        self.hold_time = hold_time
        self.local_address = local_address
        self.name = name or f"speaker@{node.name}"
        self.route_refresh = route_refresh
        self.four_octet = four_octet
        self.sock = None
        self.state = "Idle"
        self.peer_open = None           # dict: asn, hold_time, router_id, caps
        self.negotiated_hold = None
        self.rib = {f: {} for f in FAMILIES}   # family -> prefix -> Route
        self.eor = {}                   # family -> time received
        self.updates_received = 0
        self.keepalives_received = 0
        self.keepalive_times = []
        self.refreshes_received = []
        self.notifications = []         # (code, subcode, data, time)
        self.messages_received = {}     # type name -> count
        self.announce_log = []          # (seq, family, prefix) for every announcement received
        self.withdraw_log = []          # (seq, family, prefix)
        self.announced = {}             # what we announce: prefix -> Route (for ROUTE-REFRESH)
        self.errors = []                # parse errors / exceptions in the reader
        self.closed_reason = None
        self._seq = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._listener = None

    # -- connection ------------------------------------------------------------------

    def _new_socket(self, family):
        with in_netns(self.node.ns):
            s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def connect(self, address, port=179, timeout=10):
        """Connect to `address` (from inside the node's namespace), retrying until the
        peer accepts, then send OPEN and start the reader."""
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        local = self.local_address or (self.node.v6 if fam == socket.AF_INET6 else self.node.v4)
        deadline = time.monotonic() + timeout
        while True:
            s = self._new_socket(fam)
            s.bind((local, 0))
            s.settimeout(2)
            try:
                s.connect((address, port))
                break
            except OSError as e:
                s.close()
                if time.monotonic() > deadline:
                    raise WaitTimeout(f"{self.name}: cannot connect to {address}:{port}: {e}")
                time.sleep(0.3)
        s.settimeout(None)
        self._start(s)
        log(f"{self.name}: connected {local} -> {address}:{port}")
        return self

    def listen(self, port=179, family="ipv4"):
        """Listen in the node's namespace (the peer connects to us)."""
        fam = socket.AF_INET6 if family == "ipv6" else socket.AF_INET
        s = self._new_socket(fam)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.node.v6 if family == "ipv6" else self.node.v4, port))
        s.listen(4)
        self._listener = s
        return self

    def accept(self, timeout=30):
        self._listener.settimeout(timeout)
        try:
            s, addr = self._listener.accept()
        except socket.timeout:
            raise WaitTimeout(f"{self.name}: nobody connected within {timeout}s")
        s.settimeout(None)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log(f"{self.name}: accepted connection from {addr[0]}")
        self._start(s)
        return self

    def _start(self, s):
        self.sock = s
        self.state = "OpenSent"
        self._send(self._open_message())
        t = threading.Thread(target=self._reader, name=f"{self.name}-rx", daemon=True)
        t.start()
        self._threads.append(t)

    def close(self, notify=True):
        """Send NOTIFICATION Cease/Administrative Shutdown (if established), close."""
        self._stop.set()
        if self.sock:
            if notify and self.state == "Established":
                try:
                    self.send_notification(6, 2)
                except OSError:
                    pass
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        if self._listener:
            self._listener.close()
        self.state = "Idle"
        for t in self._threads:
            t.join(timeout=2)

    # -- sending ---------------------------------------------------------------------

    def _send(self, data):
        with self._send_lock:
            self.sock.sendall(data)

    def _open_message(self):
        caps = b""
        for f in self.families:
            afi, safi = FAMILIES[f]
            caps += struct.pack("!BBHBB", 1, 4, afi, 0, safi)
        if self.route_refresh:
            caps += bytes([2, 0])
        if self.four_octet:
            caps += struct.pack("!BBI", 65, 4, self.asn)
        opt = bytes([2, len(caps)]) + caps
        my_as = self.asn if self.asn <= 0xFFFF else AS_TRANS
        body = struct.pack("!BHH", 4, my_as, self.hold_time) + \
            ipaddress.IPv4Address(self.router_id).packed + bytes([len(opt)]) + opt
        return message(OPEN, body)

    def send_keepalive(self):
        self._send(message(KEEPALIVE, b""))

    def send_notification(self, code, subcode, data=b""):
        self._send(message(NOTIFICATION, bytes([code, subcode]) + data))

    def send_route_refresh(self, family):
        afi, safi = FAMILIES[family]
        self._send(message(ROUTE_REFRESH, struct.pack("!HBB", afi, 0, safi)))

    def send_raw(self, data):
        """Send bytes as they are (a whole message, or anything)."""
        self._send(data)

    def send_update_raw(self, withdrawn=b"", attrs=b"", nlri=b""):
        """An UPDATE from raw fields (lengths computed): craft malformed attributes here."""
        self._send(update_message(withdrawn, attrs, nlri))

    def send_end_of_rib(self, family):
        self._send(end_of_rib(family))

    def announce(self, routes, default_path=True):
        """Announce routes, packed into as few UPDATEs as possible (one per distinct
        attribute set and family, split at 4096 bytes). A route without as_path gets
        [our AS] (eBGP style) when default_path is true."""
        groups = {}
        for r in routes:
            if r.as_path is None and default_path:
                r.as_path = [self.asn]
            self.announced[r.prefix] = r
            groups.setdefault((r.family, r.attr_key()), []).append(r)
        msgs = []
        for (fam, _), rs in groups.items():
            proto = rs[0]
            nlris = [encode_prefix(r.prefix) for r in rs]
            fixed = len(encode_path_attrs(proto, fam, b"", self.four_octet)) + 23 + 8
            while nlris:
                chunk, size = [], fixed
                while nlris and size + len(nlris[0]) <= MAX_MSG:
                    size += len(nlris[0])
                    chunk.append(nlris.pop(0))
                blob = b"".join(chunk)
                if fam == "ipv4":
                    msgs.append(update_message(attrs=encode_path_attrs(proto, fam, b"", self.four_octet),
                                               nlri=blob))
                else:
                    msgs.append(update_message(attrs=encode_path_attrs(proto, fam, blob, self.four_octet)))
        self._send(b"".join(msgs))
        return len(msgs)

    def withdraw(self, prefixes):
        v4 = [encode_prefix(p) for p in prefixes if family_of(p) == "ipv4"]
        v6 = [encode_prefix(p) for p in prefixes if family_of(p) == "ipv6"]
        for p in prefixes:
            self.announced.pop(str(ipaddress.ip_network(p)), None)
        msgs = []
        while v4:
            chunk, size = [], 23
            while v4 and size + len(v4[0]) <= MAX_MSG:
                size += len(v4[0])
                chunk.append(v4.pop(0))
            msgs.append(update_message(withdrawn=b"".join(chunk)))
        while v6:
            chunk, size = [], 23 + 10
            while v6 and size + len(v6[0]) <= MAX_MSG:
                size += len(v6[0])
                chunk.append(v6.pop(0))
            msgs.append(update_message(attrs=attr(F_OPTIONAL, MP_UNREACH,
                                                  struct.pack("!HB", 2, 1) + b"".join(chunk))))
        self._send(b"".join(msgs))

    # -- receiving -------------------------------------------------------------------

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by peer")
            buf += chunk
        return buf

    def _reader(self):
        try:
            while not self._stop.is_set():
                hdr = self._recv_exact(19)
                if hdr[:16] != MARKER:
                    raise ParseError("bad marker")
                ln, mtype = struct.unpack("!HB", hdr[16:])
                body = self._recv_exact(ln - 19)
                self._handle(mtype, body)
        except Exception as e:  # connection closed or garbage: record, stop
            if not self._stop.is_set():
                self.closed_reason = f"{type(e).__name__}: {e}"
                log(f"{self.name}: session ended: {self.closed_reason}")
            self.state = "Idle"

    def _handle(self, mtype, body):
        name = MSG_NAMES.get(mtype, str(mtype))
        with self._lock:
            self.messages_received[name] = self.messages_received.get(name, 0) + 1
        if mtype == OPEN:
            self.peer_open = self._parse_open(body)
            self.negotiated_hold = min(self.hold_time, self.peer_open["hold_time"])
            self.send_keepalive()
            self.state = "OpenConfirm"
        elif mtype == KEEPALIVE:
            with self._lock:
                self.keepalives_received += 1
                self.keepalive_times.append(time.monotonic())
            if self.state == "OpenConfirm":
                self.state = "Established"
                if self.negotiated_hold:
                    t = threading.Thread(target=self._keepalive_loop, name=f"{self.name}-ka", daemon=True)
                    t.start()
                    self._threads.append(t)
        elif mtype == UPDATE:
            try:
                ann, wd, eor = parse_update(body, self.four_octet)
            except Exception as e:
                self.errors.append(f"cannot parse UPDATE {body.hex()}: {e}")
                return
            with self._lock:
                self.updates_received += 1
                for fam, prefixes in wd.items():
                    for p in prefixes:
                        self._seq += 1
                        self.withdraw_log.append((self._seq, fam, p))
                        self.rib.setdefault(fam, {}).pop(p, None)
                for fam, routes in ann.items():
                    for r in routes:
                        self._seq += 1
                        self.announce_log.append((self._seq, fam, r))
                        self.rib.setdefault(fam, {})[r.prefix] = r
                if eor:
                    self.eor[eor] = time.monotonic()
        elif mtype == NOTIFICATION:
            code, sub = body[0], body[1]
            self.notifications.append((code, sub, body[2:], time.monotonic()))
            log(f"{self.name}: NOTIFICATION received: code {code} subcode {sub} data {body[2:].hex()}")
            self.state = "Idle"
        elif mtype == ROUTE_REFRESH:
            afi, _, safi = struct.unpack("!HBB", body[:4])
            fam = FAMILY_BY_AFI.get((afi, safi))
            self.refreshes_received.append((fam, time.monotonic()))
            routes = [r for r in self.announced.values() if r.family == fam]
            if routes:
                self.announce(routes, default_path=False)
            if fam:
                self.send_end_of_rib(fam)

    def _parse_open(self, body):
        version, asn, hold = struct.unpack("!BHH", body[:5])
        rid = str(ipaddress.IPv4Address(body[5:9]))
        optlen = body[9]
        opt = body[10:10 + optlen]
        caps = {"families": [], "route_refresh": False, "four_octet_as": None, "codes": []}
        i = 0
        while i < len(opt):
            ptype, plen = opt[i], opt[i + 1]
            pv = opt[i + 2:i + 2 + plen]
            i += 2 + plen
            if ptype != 2:
                continue
            j = 0
            while j < len(pv):
                code, clen = pv[j], pv[j + 1]
                cv = pv[j + 2:j + 2 + clen]
                j += 2 + clen
                caps["codes"].append(code)
                if code == 1 and clen == 4:
                    afi, _, safi = struct.unpack("!HBB", cv)
                    caps["families"].append(FAMILY_BY_AFI.get((afi, safi), f"{afi}/{safi}"))
                elif code in (2, 128):
                    caps["route_refresh"] = True
                elif code == 65 and clen == 4:
                    caps["four_octet_as"] = struct.unpack("!I", cv)[0]
        return {"version": version, "asn": caps["four_octet_as"] or asn, "my_as_field": asn,
                "hold_time": hold, "router_id": rid, "caps": caps}

    def _keepalive_loop(self):
        interval = max(self.negotiated_hold / 3.0, 0.5)
        while not self._stop.wait(interval):
            if self.state != "Established":
                return
            try:
                self.send_keepalive()
            except OSError:
                return

    # -- waiting / inspection ----------------------------------------------------------

    def wait_established(self, timeout=30):
        wait_until(lambda: self.state == "Established" or self.closed_reason or self.notifications,
                   timeout, f"{self.name} Established")
        if self.state != "Established":
            raise AssertionError(f"{self.name}: session failed: {self.closed_reason} {self.notifications}")
        return self

    def mark(self):
        """A point in the stream of received announcements (see announcements_since)."""
        with self._lock:
            return self._seq

    def announcements_since(self, mark, family=None):
        """{prefix: Route} of announcements received after `mark` (last one wins)."""
        with self._lock:
            return {r.prefix: r for seq, fam, r in self.announce_log
                    if seq > mark and (family is None or fam == family)}

    def rib_has(self, prefixes):
        with self._lock:
            return all(p in self.rib[family_of(p)] for p in prefixes)

    def rib_copy(self, family):
        with self._lock:
            return dict(self.rib[family])
