// MRT records as values: what the encoders take and the decoder returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::mrt {

// Seconds since the epoch; microseconds are written only in the _ET record types.
struct Timestamp {
  uint32_t seconds = 0;
  uint32_t microseconds = 0;
  static Timestamp from(std::chrono::system_clock::time_point t);
  bool operator==(const Timestamp&) const = default;
};

// RFC 6396 §4.4.1 FSM state numbers (the same as RFC 4271 §8.2.2 in order).
enum class FsmState : uint16_t { Idle = 1, Connect = 2, Active = 3, OpenSent = 4,
                                 OpenConfirm = 5, Established = 6 };

// Who a BGP4MP record is about. peer_ip and local_ip share one family on the wire: a
// local_ip of the other family is written as the unspecified address of peer_ip's.
struct Bgp4mpPeer {
  uint32_t peer_as = 0;
  uint32_t local_as = 0;
  uint16_t ifindex = 0;
  wire::IpAddr peer_ip;
  wire::IpAddr local_ip;
  bool operator==(const Bgp4mpPeer&) const = default;
};

// BGP4MP_MESSAGE* : the whole BGP message, header (marker) included.
struct Bgp4mpMessage {
  Bgp4mpPeer peer;
  bool as4 = true;       // the message's AS numbers (AS_PATH...) are 4-octet
  bool local = false;    // *_LOCAL subtypes: a message sent by the local speaker
  bool add_path = false; // RFC 8050 *_ADDPATH subtypes (NLRI carry path ids)
  std::vector<uint8_t> message;
  bool operator==(const Bgp4mpMessage&) const = default;
};

struct Bgp4mpStateChange {
  Bgp4mpPeer peer;
  bool as4 = true;
  uint16_t old_state = 0;
  uint16_t new_state = 0;
  bool operator==(const Bgp4mpStateChange&) const = default;
};

// TABLE_DUMP_V2 PEER_INDEX_TABLE (§4.3.1).
struct PeerEntry {
  uint32_t bgp_id = 0;  // host order
  wire::IpAddr ip;
  uint32_t asn = 0;
  bool operator==(const PeerEntry&) const = default;
};
struct PeerIndexTable {
  uint32_t collector_id = 0;  // host order
  std::string view_name;
  std::vector<PeerEntry> peers;
  bool operator==(const PeerIndexTable&) const = default;
};

// One RIB entry (§4.3.4): path attributes as on the wire with 4-octet AS numbers;
// MP_REACH_NLRI holds only next-hop length + next hop (see rib_attributes.hpp).
struct RibEntry {
  uint16_t peer_index = 0;
  uint32_t originated = 0;  // seconds since the epoch
  std::vector<uint8_t> attributes;
  bool operator==(const RibEntry&) const = default;
};
// RIB_IPV4_UNICAST / RIB_IPV6_UNICAST (§4.3.2).
struct RibRecord {
  uint32_t sequence = 0;
  wire::Prefix prefix;
  std::vector<RibEntry> entries;
  bool operator==(const RibRecord&) const = default;
};

// Legacy TABLE_DUMP (type 12, §4.2): one entry per record, 2-octet AS numbers.
struct TableDumpEntry {
  uint16_t view = 0;
  uint16_t sequence = 0;
  wire::Prefix prefix;
  uint8_t status = 0;
  uint32_t originated = 0;
  wire::IpAddr peer_ip;
  uint16_t peer_as = 0;
  std::vector<uint8_t> attributes;
  bool operator==(const TableDumpEntry&) const = default;
};

// A record of a type/subtype this library does not decode; the body is kept.
struct OtherRecord {
  std::vector<uint8_t> body;
  bool operator==(const OtherRecord&) const = default;
};

struct Record {
  uint64_t offset = 0;  // of the header in the (decompressed) stream
  Timestamp time;       // microseconds only from the _ET types
  uint16_t type = 0;
  uint16_t subtype = 0;
  std::variant<OtherRecord, Bgp4mpMessage, Bgp4mpStateChange, PeerIndexTable, RibRecord,
               TableDumpEntry>
      body;
};

}  // namespace tandem::mrt
