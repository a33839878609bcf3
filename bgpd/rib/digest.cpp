#include "bgpd/rib/digest.hpp"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bgpd/rib/hash.hpp"

namespace tandem::rib {
namespace {

// Every field of PathAttributes goes into the canonical bytes below. If this fires, a
// field was added: cover it in append_attrs (and then update the size).
#if defined(__GLIBCXX__) && defined(__x86_64__)
static_assert(sizeof(PathAttributes) == 240, "PathAttributes changed: update append_attrs");
#endif

// Fixed seeds (arbitrary constants): part of the digest's definition, never change.
constexpr uint64_t kRouteSeed = 0x7461'6e64'656d'5254ULL;   // "tandemRT"
constexpr uint64_t kLocRibSeed = 0x7461'6e64'656d'4c52ULL;  // "tandemLR"

// Big-endian, length-prefixed: distinct attribute sets give distinct byte strings.
class Bytes {
 public:
  void u8(uint8_t v) { b_.push_back(v); }
  void u32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b_.push_back(static_cast<uint8_t>(v >> s));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void addr(const wire::IpAddr& a) {
    u8(static_cast<uint8_t>(a.afi));
    b_.insert(b_.end(), a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
  }
  void opt_addr(const std::optional<wire::IpAddr>& a) {
    u8(a ? 1 : 0);
    if (a) addr(*a);
  }
  void opt_u32(const std::optional<uint32_t>& v) {
    u8(v ? 1 : 0);
    if (v) u32(*v);
  }
  void u32s(const std::vector<uint32_t>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (uint32_t x : v) u32(x);
  }
  void clear() { b_.clear(); }
  uint64_t hash(uint64_t seed) const { return hash_bytes64(b_.data(), b_.size(), seed); }

 private:
  std::vector<uint8_t> b_;
};

void append_prefix(Bytes& b, const wire::Prefix& p) {
  b.addr(p.addr);
  b.u8(p.len);
}

void append_attrs(Bytes& b, const PathAttributes& a) {
  b.u8(static_cast<uint8_t>(a.origin));
  b.u8(static_cast<uint8_t>((a.has_origin ? 1 : 0) | (a.has_as_path ? 2 : 0) | (a.atomic_aggregate ? 4 : 0)));
  b.u32(static_cast<uint32_t>(a.as_path.segments.size()));
  for (const auto& seg : a.as_path.segments) {
    b.u8(static_cast<uint8_t>(seg.type));
    b.u32s(seg.asns);
  }
  b.opt_addr(a.next_hop);
  b.opt_addr(a.next_hop_link_local);
  b.opt_u32(a.med);
  b.opt_u32(a.local_pref);
  b.u8(a.aggregator ? 1 : 0);
  if (a.aggregator) {
    b.u32(a.aggregator->asn);
    b.u32(a.aggregator->address);
  }
  b.u32s(a.communities);
  b.opt_u32(a.originator_id);
  b.u32s(a.cluster_list);
  b.u32(static_cast<uint32_t>(a.ext_communities.size()));
  for (uint64_t e : a.ext_communities) b.u64(e);
  b.u32(static_cast<uint32_t>(a.large_communities.size()));
  for (const auto& lc : a.large_communities) {
    b.u32(lc.global_admin);
    b.u32(lc.local1);
    b.u32(lc.local2);
  }
  b.u32(static_cast<uint32_t>(a.unknown.size()));
  for (const auto& u : a.unknown) {
    b.u8(u.flags);
    b.u8(u.type);
    b.u32(static_cast<uint32_t>(u.value.size()));
    for (uint8_t x : u.value) b.u8(x);
  }
}

// Reused across the routes of one digest (no allocation per route).
thread_local Bytes scratch;

}  // namespace

uint64_t route_hash(const wire::Prefix& prefix, const PathAttributes& attrs) {
  scratch.clear();
  append_prefix(scratch, prefix);
  append_attrs(scratch, attrs);
  return scratch.hash(kRouteSeed);
}

namespace {

uint64_t loc_rib_hash(const ListedRoute& r, const PeerAddressFn& peer_address) {
  std::optional<wire::IpAddr> a;  // looked up first: the callback may use route_hash
  if (r.peer != kLocalPeer && peer_address) a = peer_address(r.peer);
  scratch.clear();
  append_prefix(scratch, r.prefix);
  append_attrs(scratch, *r.attrs);
  // Marker 0: local route; 1: unknown peer; 2 + address: a peer.
  scratch.u8(r.peer == kLocalPeer ? 0 : a ? 2 : 1);
  if (a) scratch.addr(*a);
  return scratch.hash(kLocRibSeed);
}

// A whole table at once: the sliced digest with no limit per step.
TableDigest whole(SlicedDigest d, const Rib& rib, const PeerAddressFn& peer_address = {}) {
  while (!d.step(rib, SIZE_MAX, peer_address)) {
  }
  return d.digest();
}

}  // namespace

namespace {

ListQuery table_query(ListTable table, wire::Family family, std::optional<PeerId> peer) {
  ListQuery q;
  q.table = table;
  q.family = family;
  q.peer = peer;
  q.best_only = table == ListTable::LocRib;  // the Loc-RIB digest covers the best paths
  return q;
}

}  // namespace

SlicedDigest SlicedDigest::adj_in(PeerId peer, wire::Family family) {
  return SlicedDigest(table_query(ListTable::AdjRibIn, family, peer));
}

SlicedDigest SlicedDigest::adj_out(PeerId peer, wire::Family family) {
  return SlicedDigest(table_query(ListTable::AdjRibOut, family, peer));
}

SlicedDigest SlicedDigest::loc_rib(wire::Family family) {
  return SlicedDigest(table_query(ListTable::LocRib, family, std::nullopt));
}

bool SlicedDigest::step(const Rib& rib, size_t max_routes, const PeerAddressFn& peer_address) {
  if (cursor_.done) return true;
  std::vector<ListedRoute> batch;
  rib.list_routes(query_, cursor_, max_routes, batch);
  const bool loc = query_.table == ListTable::LocRib;
  for (const auto& r : batch) {
    digest_.hash += loc ? loc_rib_hash(r, peer_address) : route_hash(r.prefix, *r.attrs);
    ++digest_.routes;
  }
  return cursor_.done;
}

TableDigest digest_adj_in(const Rib& rib, PeerId peer, wire::Family family) {
  return whole(SlicedDigest::adj_in(peer, family), rib);
}

TableDigest digest_adj_out(const Rib& rib, PeerId peer, wire::Family family) {
  return whole(SlicedDigest::adj_out(peer, family), rib);
}

TableDigest digest_loc_rib(const Rib& rib, wire::Family family, const PeerAddressFn& peer_address) {
  return whole(SlicedDigest::loc_rib(family), rib, peer_address);
}

std::string to_hex(const TableDigest& d) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, d.hash);
  return buf;
}

}  // namespace tandem::rib
