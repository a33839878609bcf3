// Order-independent digests of RIB tables, to compare two nodes' tables (the HA
// standby mirrors the primary's RIB). Each route hashes to a deterministic 64-bit value
// (fixed hash, canonical bytes of the prefix and of every attribute field; no pointers
// or per-process seeds); a table's digest is the sum of its routes' hashes mod 2^64, so
// the order in which routes were learned does not matter. PeerIds are local to a node,
// so the Loc-RIB digest identifies the best path's peer by its address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bgpd/rib/rib.hpp"

namespace tandem::rib {

struct TableDigest {
  uint64_t hash = 0;
  size_t routes = 0;
  bool operator==(const TableDigest&) const = default;
};

using PeerAddressFn = std::function<std::optional<wire::IpAddr>(PeerId)>;

// One peer's Adj-RIB-In (every path received, eligible or not) / Adj-RIB-Out of a family.
TableDigest digest_adj_in(const Rib& rib, PeerId peer, wire::Family family);
TableDigest digest_adj_out(const Rib& rib, PeerId peer, wire::Family family);
// The best paths of a family; each route also covers its peer's address
// (kLocalPeer: a fixed marker; a peer `peer_address` does not know: another marker).
TableDigest digest_loc_rib(const Rib& rib, wire::Family family, const PeerAddressFn& peer_address);

// One of the digests above computed in slices of Rib::list_routes batches, so that a
// large table never holds the RIB's thread for long (the API's GetTableDigests): step()
// once per visit until it returns true. Between steps the table may change: the result
// is then no snapshot, so compare tables that are quiet.
class SlicedDigest {
 public:
  static SlicedDigest adj_in(PeerId peer, wire::Family family);
  static SlicedDigest adj_out(PeerId peer, wire::Family family);
  static SlicedDigest loc_rib(wire::Family family);

  // Adds up to `max_routes` routes; true once the table is exhausted (an unknown peer:
  // at once). `peer_address` is used by the Loc-RIB digest only.
  bool step(const Rib& rib, size_t max_routes, const PeerAddressFn& peer_address = {});
  bool done() const { return cursor_.done; }
  const TableDigest& digest() const { return digest_; }

 private:
  explicit SlicedDigest(const ListQuery& q) : query_(q) {}
  ListQuery query_;
  ListCursor cursor_;
  TableDigest digest_;
};

// 16 lower-case hex digits of the hash.
std::string to_hex(const TableDigest& d);

// The hash of one route (exposed for tests and for incremental use).
uint64_t route_hash(const wire::Prefix& prefix, const PathAttributes& attrs);

}  // namespace tandem::rib
