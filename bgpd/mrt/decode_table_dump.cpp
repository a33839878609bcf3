// TABLE_DUMP_V2 (RFC 6396 §4.3) and legacy TABLE_DUMP (§4.2) bodies.
#include <algorithm>

#include "bgpd/mrt/bytes.hpp"
#include "bgpd/mrt/decode.hpp"

namespace tandem::mrt::detail {

namespace {

std::optional<std::string> decode_peer_index(Reader& r, std::optional<size_t>& peer_count,
                                             Record& rec) {
  PeerIndexTable t;
  uint16_t name_len = 0, count = 0;
  std::span<const uint8_t> name;
  if (!r.u32(t.collector_id) || !r.u16(name_len)) return "PEER_INDEX_TABLE: truncated header";
  if (!r.take(name_len, name)) return "PEER_INDEX_TABLE: view name overruns the record";
  t.view_name.assign(name.begin(), name.end());
  if (!r.u16(count)) return "PEER_INDEX_TABLE: truncated peer count";
  t.peers.reserve(std::min<size_t>(count, r.remaining() / 9));  // 9: smallest entry
  for (uint16_t i = 0; i < count; ++i) {
    uint8_t peer_type = 0;
    PeerEntry p;
    if (!r.u8(peer_type) || !r.u32(p.bgp_id))
      return "PEER_INDEX_TABLE: peer " + std::to_string(i) + " truncated";
    const auto afi = (peer_type & table_dump_v2::kPeerTypeIpv6) ? wire::Afi::Ipv6 : wire::Afi::Ipv4;
    if (!r.addr(afi, p.ip)) return "PEER_INDEX_TABLE: peer " + std::to_string(i) + " truncated";
    if (peer_type & table_dump_v2::kPeerTypeAs4) {
      if (!r.u32(p.asn)) return "PEER_INDEX_TABLE: peer " + std::to_string(i) + " truncated";
    } else {
      uint16_t as2 = 0;
      if (!r.u16(as2)) return "PEER_INDEX_TABLE: peer " + std::to_string(i) + " truncated";
      p.asn = as2;
    }
    t.peers.push_back(p);
  }
  peer_count = t.peers.size();
  rec.body = std::move(t);
  return std::nullopt;
}

// Prefix length then the significant bytes; host bits are masked by wire::Prefix.
std::optional<std::string> read_prefix(Reader& r, wire::Afi afi, wire::Prefix& out) {
  uint8_t len = 0;
  if (!r.u8(len)) return "truncated prefix length";
  const unsigned max = afi == wire::Afi::Ipv4 ? 32 : 128;
  if (len > max) return "prefix length " + std::to_string(len) + " exceeds " + std::to_string(max);
  std::span<const uint8_t> bytes;
  if (!r.take((len + 7u) / 8u, bytes)) return "prefix overruns the record";
  wire::IpAddr a;
  a.afi = afi;
  for (size_t i = 0; i < bytes.size(); ++i) a.bytes[i] = bytes[i];
  out = wire::Prefix(a, len);
  return std::nullopt;
}

std::optional<std::string> decode_rib(Reader& r, wire::Afi afi,
                                      const std::optional<size_t>& peer_count, Record& rec) {
  RibRecord rib;
  if (!r.u32(rib.sequence)) return "RIB: truncated sequence number";
  if (auto e = read_prefix(r, afi, rib.prefix)) return "RIB: " + *e;
  uint16_t count = 0;
  if (!r.u16(count)) return "RIB: truncated entry count";
  if (!peer_count) return "RIB: record before any PEER_INDEX_TABLE";
  rib.entries.reserve(std::min<size_t>(count, r.remaining() / 8));  // 8: smallest entry
  for (uint16_t i = 0; i < count; ++i) {
    RibEntry e;
    uint16_t alen = 0;
    std::span<const uint8_t> attrs;
    if (!r.u16(e.peer_index) || !r.u32(e.originated) || !r.u16(alen))
      return "RIB: entry " + std::to_string(i) + " truncated";
    if (e.peer_index >= *peer_count)
      return "RIB: entry " + std::to_string(i) + " peer index " + std::to_string(e.peer_index) +
             " outside the peer table (" + std::to_string(*peer_count) + " peers)";
    if (!r.take(alen, attrs))
      return "RIB: entry " + std::to_string(i) + " attributes overrun the record";
    e.attributes.assign(attrs.begin(), attrs.end());
    rib.entries.push_back(std::move(e));
  }
  if (r.remaining() != 0)
    return "RIB: " + std::to_string(r.remaining()) + " trailing bytes after the entries";
  rec.body = std::move(rib);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_table_dump_v2(std::span<const uint8_t> body, uint16_t subtype,
                                                std::optional<size_t>& peer_count, Record& rec) {
  Reader r(body);
  switch (subtype) {
    case table_dump_v2::kPeerIndexTable: return decode_peer_index(r, peer_count, rec);
    case table_dump_v2::kRibIpv4Unicast: return decode_rib(r, wire::Afi::Ipv4, peer_count, rec);
    case table_dump_v2::kRibIpv6Unicast: return decode_rib(r, wire::Afi::Ipv6, peer_count, rec);
    default:
      rec.body = OtherRecord{{body.begin(), body.end()}};
      return std::nullopt;
  }
}

std::optional<std::string> decode_table_dump(std::span<const uint8_t> body, uint16_t subtype,
                                             Record& rec) {
  if (subtype != table_dump::kAfiIpv4 && subtype != table_dump::kAfiIpv6) {
    rec.body = OtherRecord{{body.begin(), body.end()}};
    return std::nullopt;
  }
  const auto afi = static_cast<wire::Afi>(subtype);
  Reader r(body);
  TableDumpEntry e;
  wire::IpAddr addr;
  uint8_t len = 0;
  uint16_t alen = 0;
  std::span<const uint8_t> attrs;
  if (!r.u16(e.view) || !r.u16(e.sequence) || !r.addr(afi, addr) || !r.u8(len))
    return "TABLE_DUMP: truncated prefix";
  if (len > (afi == wire::Afi::Ipv4 ? 32 : 128))
    return "TABLE_DUMP: prefix length " + std::to_string(len) + " out of range";
  e.prefix = wire::Prefix(addr, len);
  if (!r.u8(e.status) || !r.u32(e.originated) || !r.addr(afi, e.peer_ip) || !r.u16(e.peer_as) ||
      !r.u16(alen))
    return "TABLE_DUMP: truncated entry";
  if (!r.take(alen, attrs)) return "TABLE_DUMP: attributes overrun the record";
  e.attributes.assign(attrs.begin(), attrs.end());
  rec.body = std::move(e);
  return std::nullopt;
}

}  // namespace tandem::mrt::detail
