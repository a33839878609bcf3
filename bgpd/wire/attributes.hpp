// Path attributes (RFC 4271 §5, RFC 1997, RFC 4360, RFC 4456, RFC 4760, RFC 6793,
// RFC 8092) as a value type, with RFC 7606 error classification on decode.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgpd/wire/result.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::wire {

namespace attr {
inline constexpr uint8_t kOrigin = 1, kAsPath = 2, kNextHop = 3, kMed = 4, kLocalPref = 5,
                         kAtomicAggregate = 6, kAggregator = 7, kCommunities = 8,
                         kOriginatorId = 9, kClusterList = 10, kMpReach = 14, kMpUnreach = 15,
                         kExtCommunities = 16, kAs4Path = 17, kAs4Aggregator = 18,
                         kLargeCommunities = 32;
// Flag bits.
inline constexpr uint8_t kFlagOptional = 0x80, kFlagTransitive = 0x40, kFlagPartial = 0x20,
                         kFlagExtendedLength = 0x10;
}  // namespace attr

// Well-known communities (RFC 1997, RFC 7999, RFC 8326, RFC 9494).
namespace community {
inline constexpr uint32_t kGracefulShutdown = 0xFFFF0000, kAcceptOwn = 0xFFFF0001,
                          kLlgrStale = 0xFFFF0006, kNoLlgr = 0xFFFF0007, kBlackhole = 0xFFFF029A,
                          kNoExport = 0xFFFFFF01, kNoAdvertise = 0xFFFFFF02,
                          kNoExportSubconfed = 0xFFFFFF03, kNoPeer = 0xFFFFFF04;
}

enum class Origin : uint8_t { Igp = 0, Egp = 1, Incomplete = 2 };

// AS numbers inside AS_PATH are always held as 4-octet values; the 2-octet encoding
// (with AS_TRANS and AS4_PATH) is chosen when encoding towards a 2-octet speaker.
inline constexpr uint32_t kAsTrans = 23456;

struct AsPathSegment {
  enum Type : uint8_t { Set = 1, Sequence = 2, ConfedSequence = 3, ConfedSet = 4 };
  Type type = Sequence;
  std::vector<uint32_t> asns;
  bool operator==(const AsPathSegment&) const = default;
};

struct AsPath {
  std::vector<AsPathSegment> segments;

  // Length for best-path selection (RFC 4271 §9.1.2.2: a set counts 1, confederation
  // segments count 0).
  size_t selection_length() const;
  // Every AS number of every segment (what a length limit counts: sets hold many).
  size_t asn_count() const;
  bool contains(uint32_t asn) const;  // loop detection
  // The AS the route was learned from (first AS of the first AS_SEQUENCE), 0 if none.
  uint32_t neighbor_as() const;
  uint32_t origin_as() const;  // last AS of the last segment, 0 if empty
  bool empty() const { return segments.empty(); }
  void prepend(uint32_t asn, unsigned count = 1);  // merges into a leading AS_SEQUENCE
  std::string to_string() const;  // "65001 65002 {65003,65004}"
  bool operator==(const AsPath&) const = default;
};

struct Aggregator {
  uint32_t asn = 0;
  uint32_t address = 0;  // IPv4, host order
  bool operator==(const Aggregator&) const = default;
};

struct LargeCommunity {
  uint32_t global_admin = 0, local1 = 0, local2 = 0;
  auto operator<=>(const LargeCommunity&) const = default;
};

// An attribute tandem does not interpret. Optional transitive ones are passed on
// byte-exact (with the Partial bit set when re-advertised); others are dropped.
struct RawAttribute {
  uint8_t flags = 0;
  uint8_t type = 0;
  std::vector<uint8_t> value;
  bool operator==(const RawAttribute&) const = default;
};

// Everything about a route except its NLRI. `next_hop` is the route's effective next
// hop: from NEXT_HOP for IPv4 NLRI, from MP_REACH_NLRI for other families (the update
// decoder fills it per family). For IPv6 a link-local next hop may accompany it.
struct PathAttributes {
  Origin origin = Origin::Incomplete;
  bool has_origin = false;
  AsPath as_path;
  bool has_as_path = false;
  std::optional<IpAddr> next_hop;
  std::optional<IpAddr> next_hop_link_local;
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<Aggregator> aggregator;
  std::vector<uint32_t> communities;
  std::optional<uint32_t> originator_id;  // host order
  std::vector<uint32_t> cluster_list;     // host order
  std::vector<uint64_t> ext_communities;  // each 8 octets, big-endian packed into a uint64
  std::vector<LargeCommunity> large_communities;
  std::vector<RawAttribute> unknown;  // sorted by type

  bool operator==(const PathAttributes&) const = default;
  size_t hash() const;
  bool has_community(uint32_t c) const;
};

// Options that change how attributes are decoded/encoded for one session.
struct CodecOptions {
  bool four_octet_as = true;     // both sides advertised the 4-octet AS capability
  bool extended_message = false; // RFC 8654 negotiated: max message 65535
  bool ebgp = true;              // some RFC 7606 rules differ for eBGP (LOCAL_PREF etc.)
  bool add_path_rx_ipv4 = false; // RFC 7911: NLRI carry a path id (receive direction)
  bool add_path_rx_ipv6 = false;
  size_t max_message_size() const { return extended_message ? 65535 : 4096; }
};

// One attribute that RFC 7606 says to discard: what and why (for logs).
struct DiscardedAttribute {
  uint8_t type = 0;
  std::string reason;
  uint8_t subcode = 0;  // the UPDATE error subcode that describes the problem (0 if none)
};

}  // namespace tandem::wire
