// What a stream of outbound BGP messages has told the peer: prefix -> hash of the path
// (rib::route_hash). The standby keeps two per session: one from the primary's
// replicated outbound stream (what the peer was really sent) and one from its shadow
// session's output (what it would have sent); comparing them checks the shadow.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "bgpd/mrt/framer.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::replicator {

class AdvertisedTable {
 public:
  explicit AdvertisedTable(wire::CodecOptions codec = {}) : codec_(codec), framer_(65535) {}
  void set_codec(const wire::CodecOptions& codec) { codec_ = codec; }
  // Bytes of the stream, any chunking. False + why once the stream cannot be framed or
  // an UPDATE cannot be decoded (the table stops changing from then on).
  bool feed(std::span<const uint8_t> bytes, std::string& why);
  // One UPDATE body (without the header).
  bool apply_update(std::span<const uint8_t> body, std::string& why);
  void clear() { routes_.clear(); ++version_; }
  size_t size() const { return routes_.size(); }
  uint64_t version() const { return version_; }  // bumped on every change
  bool broken() const { return broken_; }

  // Prefixes present in one table only, or with a different path; up to `max_examples`
  // of them described in `examples`.
  static size_t diff(const AdvertisedTable& a, const AdvertisedTable& b, std::vector<std::string>& examples,
                     size_t max_examples);
  // All the prefixes `diff` counts.
  static std::vector<wire::Prefix> differing(const AdvertisedTable& a, const AdvertisedTable& b);

 private:
  // Calls fn(prefix, what) for each prefix present in one table only or with a different path.
  template <class Fn>
  static void for_each_difference(const AdvertisedTable& a, const AdvertisedTable& b, Fn&& fn);

  wire::CodecOptions codec_;
  mrt::MessageFramer framer_;
  std::map<wire::Prefix, uint64_t> routes_;
  uint64_t version_ = 0;
  bool broken_ = false;
};

}  // namespace tandem::replicator
