// TABLE_DUMP_V2 (RFC 6396 §4.3) encoding, independent of the RIB: the caller feeds a
// peer index table, then for each prefix the list of (peer index, originated time,
// attribute bytes). One dump = the PEER_INDEX_TABLE record followed by RIB records
// whose sequence numbers count from 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bgpd/mrt/records.hpp"

namespace tandem::mrt {

std::vector<uint8_t> encode_peer_index_table(Timestamp t, const PeerIndexTable& table);
// RIB_IPV4_UNICAST or RIB_IPV6_UNICAST by the prefix's family. Entries whose attributes
// exceed 65535 bytes cannot be represented and are left out.
std::vector<uint8_t> encode_rib_record(Timestamp t, uint32_t sequence, const wire::Prefix& prefix,
                                       std::span<const RibEntry> entries);

class TableDumpWriter {
 public:
  // All records of one dump carry the same timestamp (the dump's start).
  TableDumpWriter(Timestamp t, PeerIndexTable table);

  const PeerIndexTable& table() const { return table_; }
  // The PEER_INDEX_TABLE record; write it first.
  std::vector<uint8_t> peer_index_table() const;
  // The RIB record of one prefix (next sequence number). Entries with a peer index
  // outside the table are left out; returns an empty vector when no entry is left.
  std::vector<uint8_t> rib(const wire::Prefix& prefix, std::span<const RibEntry> entries);
  uint32_t records() const { return sequence_; }

 private:
  Timestamp time_;
  PeerIndexTable table_;
  uint32_t sequence_ = 0;
};

}  // namespace tandem::mrt
