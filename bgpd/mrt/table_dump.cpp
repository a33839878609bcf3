#include "bgpd/mrt/table_dump.hpp"

#include <algorithm>

#include "bgpd/mrt/bytes.hpp"
#include "bgpd/mrt/constants.hpp"
#include "bgpd/mrt/encode.hpp"

namespace tandem::mrt {

using namespace detail;

std::vector<uint8_t> encode_peer_index_table(Timestamp t, const PeerIndexTable& table) {
  std::vector<uint8_t> out;
  const size_t start = begin_record(out, t, type::kTableDumpV2, table_dump_v2::kPeerIndexTable);
  put_u32(out, table.collector_id);
  const size_t name_len = std::min<size_t>(table.view_name.size(), 0xFFFF);
  put_u16(out, static_cast<uint16_t>(name_len));
  out.insert(out.end(), table.view_name.begin(), table.view_name.begin() + static_cast<std::ptrdiff_t>(name_len));
  const size_t count = std::min<size_t>(table.peers.size(), 0xFFFF);
  put_u16(out, static_cast<uint16_t>(count));
  for (size_t i = 0; i < count; ++i) {
    const PeerEntry& p = table.peers[i];
    // Always 4-octet AS: one encoding for every peer keeps readers simple.
    uint8_t peer_type = table_dump_v2::kPeerTypeAs4;
    if (p.ip.is_v6()) peer_type |= table_dump_v2::kPeerTypeIpv6;
    put_u8(out, peer_type);
    put_u32(out, p.bgp_id);
    put_addr(out, p.ip);
    put_u32(out, p.asn);
  }
  end_record(out, start);
  return out;
}

std::vector<uint8_t> encode_rib_record(Timestamp t, uint32_t sequence, const wire::Prefix& prefix,
                                       std::span<const RibEntry> entries) {
  std::vector<uint8_t> out;
  const uint16_t subtype =
      prefix.addr.is_v4() ? table_dump_v2::kRibIpv4Unicast : table_dump_v2::kRibIpv6Unicast;
  const size_t start = begin_record(out, t, type::kTableDumpV2, subtype);
  put_u32(out, sequence);
  put_u8(out, prefix.len);
  const size_t nbytes = (static_cast<size_t>(prefix.len) + 7) / 8;
  out.insert(out.end(), prefix.addr.bytes.begin(), prefix.addr.bytes.begin() + static_cast<std::ptrdiff_t>(nbytes));
  const size_t count_at = out.size();
  put_u16(out, 0);
  uint16_t count = 0;
  for (const RibEntry& e : entries) {
    if (e.attributes.size() > 0xFFFF || count == 0xFFFF) continue;
    put_u16(out, e.peer_index);
    put_u32(out, e.originated);
    put_u16(out, static_cast<uint16_t>(e.attributes.size()));
    put_bytes(out, e.attributes);
    ++count;
  }
  out[count_at] = static_cast<uint8_t>(count >> 8);
  out[count_at + 1] = static_cast<uint8_t>(count);
  end_record(out, start);
  return out;
}

TableDumpWriter::TableDumpWriter(Timestamp t, PeerIndexTable table)
    : time_(t), table_(std::move(table)) {}

std::vector<uint8_t> TableDumpWriter::peer_index_table() const {
  return encode_peer_index_table(time_, table_);
}

std::vector<uint8_t> TableDumpWriter::rib(const wire::Prefix& prefix,
                                          std::span<const RibEntry> entries) {
  const size_t npeers = std::min<size_t>(table_.peers.size(), 0xFFFF);
  std::vector<RibEntry> kept;
  bool all_valid = true;
  for (const RibEntry& e : entries) all_valid = all_valid && e.peer_index < npeers;
  if (!all_valid) {
    for (const RibEntry& e : entries)
      if (e.peer_index < npeers) kept.push_back(e);
    if (kept.empty()) return {};
    return encode_rib_record(time_, sequence_++, prefix, kept);
  }
  if (entries.empty()) return {};
  return encode_rib_record(time_, sequence_++, prefix, entries);
}

}  // namespace tandem::mrt
