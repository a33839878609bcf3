// The routes of an MRT file, for `tandemctl mrt inject`: prefixes with their path
// attributes, read with tandem's MRT reader (bgpd/mrt: plain, gzip, bzip2) and BGP
// decoder, then made into InjectRoutesRequest batches (routes grouped by attribute set).
//
// What is taken: TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST records (the first path of each
// prefix), legacy TABLE_DUMP entries (the first per prefix), BGP4MP(_ET) UPDATE
// announcements (withdrawals are skipped, counted). Everything else is skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgpd/mrt/file_reader.hpp"
#include "bgpd/wire/attributes.hpp"
#include "tandem/v1/rib.pb.h"

namespace tandemctl {

struct MrtRoute {
  tandem::wire::Prefix prefix;
  tandem::wire::PathAttributes attrs;
};

struct MrtRouteStats {
  std::uint64_t records = 0;          // read (malformed ones included)
  std::uint64_t routes = 0;           // taken
  std::uint64_t other_paths = 0;      // further paths of a prefix (not the first), skipped
  std::uint64_t withdrawals = 0;      // BGP4MP withdrawals, skipped
  std::uint64_t skipped_records = 0;  // records of other types (state changes, OPENs...)
  std::uint64_t malformed = 0;        // records that did not decode
  std::uint64_t attributes_dropped = 0;  // attributes the daemon would refuse (see sanitize)
  std::optional<tandem::mrt::MrtError> first_error;
  bool fatal = false;                 // reading stopped at first_error... or a later fatal one
  std::optional<tandem::mrt::MrtError> fatal_error;
};

// The routes of one decoded record (appended to `out`). `last_prefix`: the prefix of the
// previous legacy TABLE_DUMP entry (its further paths are skipped); updated. Returns why
// the record's content does not decode, or nullopt.
std::optional<std::string> routes_of(const tandem::mrt::Record& record, std::vector<MrtRoute>& out,
                                     MrtRouteStats& stats, std::optional<tandem::wire::Prefix>& last_prefix);

// What tandemd accepts for an originated route (api/validate.cpp): a next hop of the
// route's family (another is dropped: the daemon then uses its own address), no empty
// AS path segment, unknown attributes only optional and transitive (the only ones it
// would pass on). Returns how many attributes were dropped.
std::size_t sanitize(tandem::wire::PathAttributes& attrs, tandem::wire::Afi afi);

// --nexthop: per family, a new next hop, or "self" (none: the daemon's own address).
struct NextHopRewrite {
  std::optional<tandem::wire::IpAddr> v4, v6;
  bool self_v4 = false, self_v6 = false;
  void apply(MrtRoute& route) const;
};

// Appends the routes to the request, one group per distinct attribute set.
void add_routes(std::span<const MrtRoute> routes, tandem::v1::InjectRoutesRequest& out);

class MrtRouteReader {
 public:
  // nullopt + error when the file cannot be opened or is not MRT at all.
  static std::optional<MrtRouteReader> open(const std::string& path, std::string& error);
  // Appends up to `max` routes to `out`; false once the file is done (or reading
  // stopped at a fatal error: stats().fatal).
  bool next(std::vector<MrtRoute>& out, std::size_t max);
  const MrtRouteStats& stats() const { return stats_; }

 private:
  explicit MrtRouteReader(tandem::mrt::FileReader r) : reader_(std::move(r)) {}
  tandem::mrt::FileReader reader_;
  MrtRouteStats stats_;
  std::vector<MrtRoute> carry_;  // routes of a record beyond `max`, for the next call
  std::optional<tandem::wire::Prefix> last_prefix_;
  bool done_ = false;
};

}  // namespace tandemctl
