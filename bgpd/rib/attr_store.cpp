#include "bgpd/rib/attr_store.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "bgpd/rib/hash.hpp"

namespace tandem::rib {

namespace {

uint64_t hash_ip(uint64_t h, const wire::IpAddr& a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return hash_combine(hash_combine(hash_combine(h, static_cast<uint64_t>(a.afi)), hi), lo);
}

template <class T>
uint64_t hash_u32s(uint64_t h, const std::vector<T>& v) {
  h = hash_combine(h, v.size());
  if (!v.empty()) h = hash_combine(h, hash_bytes64(v.data(), v.size() * sizeof(T)));
  return h;
}

template <class T>
void shrink(std::vector<T>& v) {
  if (v.capacity() != v.size()) v.shrink_to_fit();
}

constexpr uint8_t kLlgrStale = 1, kNoExport = 2, kNoAdvertise = 4, kNoLlgr = 8;

}  // namespace

uint64_t hash_attributes(const PathAttributes& a) {
  uint64_t h = 0x5bd1e9955bd1e995ULL;
  h = hash_combine(h, (static_cast<uint64_t>(a.origin) << 8) | (a.has_origin ? 1 : 0) |
                          (a.has_as_path ? 2 : 0) | (a.atomic_aggregate ? 4 : 0));
  h = hash_combine(h, a.as_path.segments.size());
  for (const auto& seg : a.as_path.segments) {
    h = hash_combine(h, seg.type);
    h = hash_u32s(h, seg.asns);
  }
  h = a.next_hop ? hash_ip(h, *a.next_hop) : hash_combine(h, 1);
  h = a.next_hop_link_local ? hash_ip(h, *a.next_hop_link_local) : hash_combine(h, 2);
  h = hash_combine(h, a.med ? (static_cast<uint64_t>(*a.med) << 1 | 1) : 0);
  h = hash_combine(h, a.local_pref ? (static_cast<uint64_t>(*a.local_pref) << 1 | 1) : 0);
  h = hash_combine(h, a.aggregator ? ((static_cast<uint64_t>(a.aggregator->asn) << 32) |
                                      a.aggregator->address) ^ 0x17
                                   : 0);
  h = hash_u32s(h, a.communities);
  h = hash_combine(h, a.originator_id ? (static_cast<uint64_t>(*a.originator_id) << 1 | 1) : 0);
  h = hash_u32s(h, a.cluster_list);
  h = hash_u32s(h, a.ext_communities);
  h = hash_combine(h, a.large_communities.size());
  for (const auto& lc : a.large_communities) {
    h = hash_combine(h, (static_cast<uint64_t>(lc.global_admin) << 32) | lc.local1);
    h = hash_combine(h, lc.local2);
  }
  h = hash_combine(h, a.unknown.size());
  for (const auto& u : a.unknown) {
    h = hash_combine(h, (static_cast<uint64_t>(u.flags) << 8) | u.type);
    h = hash_combine(h, hash_bytes64(u.value.data(), u.value.size()));
  }
  return mix64(h);
}

// ---- Index ----

void AttrStore::Index::insert(uint64_t hash, AttrId id) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  if (id >= hash_hi_.size()) hash_hi_.resize(id + 1);
  hash_hi_[id] = static_cast<uint32_t>(hash >> 32);
  uint32_t s = static_cast<uint32_t>(hash >> 32) & mask_;
  while (slots_[s] != 0) s = (s + 1) & mask_;
  slots_[s] = tag(hash) | (id + 1);
  ++size_;
}

void AttrStore::Index::erase(uint64_t hash, AttrId id) {
  const uint32_t want = tag(hash) | (id + 1);
  uint32_t s = static_cast<uint32_t>(hash >> 32) & mask_;
  while (slots_[s] != want) {
    if (slots_[s] == 0) return;  // not indexed
    s = (s + 1) & mask_;
  }
  uint32_t hole = s;
  for (uint32_t j = (s + 1) & mask_;; j = (j + 1) & mask_) {
    uint32_t v = slots_[j];
    if (v == 0) break;
    uint32_t k = hash_hi_[(v & kIdMask) - 1] & mask_;
    bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (!stays) {
      slots_[hole] = v;
      hole = j;
    }
  }
  slots_[hole] = 0;
  --size_;
}

void AttrStore::Index::grow() {
  auto old = std::move(slots_);
  size_t cap = old.empty() ? 64 : old.size() * 2;
  slots_.assign(cap, 0);
  mask_ = static_cast<uint32_t>(cap - 1);
  for (uint32_t v : old) {
    if (v == 0) continue;
    uint32_t s = hash_hi_[(v & kIdMask) - 1] & mask_;
    while (slots_[s] != 0) s = (s + 1) & mask_;
    slots_[s] = v;
  }
}

// ---- AttrStore ----

AttrStore::AttrStore() = default;

AttrStore::~AttrStore() {
  for (Node* n : nodes_) {
    if (n == nullptr) continue;
    n->~Node();
    ::operator delete(n);
  }
}

AttrInfo AttrStore::info(AttrId id) const {
  const Node* n = nodes_[id];
  const PathAttributes& a = n->attrs;
  AttrInfo i;
  i.local_pref = a.local_pref.value_or(100);
  i.med = a.med.value_or(0);
  i.neighbor_as = n->neighbor_as;
  i.as_path_len = n->as_path_len;
  size_t cl = a.cluster_list.size();
  i.cluster_len = static_cast<uint16_t>(cl > 0xFFFF ? 0xFFFF : cl);
  i.origin = static_cast<uint8_t>(a.origin);
  i.has_originator_id = a.originator_id.has_value();
  i.originator_id = a.originator_id.value_or(0);
  i.llgr_stale = (n->flags & kLlgrStale) != 0;
  i.no_export = (n->flags & kNoExport) != 0;
  i.no_advertise = (n->flags & kNoAdvertise) != 0;
  i.no_llgr = (n->flags & kNoLlgr) != 0;
  return i;
}

AttrId AttrStore::find_existing(const PathAttributes& a, uint64_t h) const {
  return by_value_.find(h, [&](AttrId id) {
    const Node* n = nodes_[id];
    return n->hash == h && n->attrs == a;
  });
}

AttrId AttrStore::create(PathAttributes&& a, uint64_t h, std::span<const uint8_t> raw_key) {
  shrink(a.as_path.segments);
  for (auto& seg : a.as_path.segments) shrink(seg.asns);
  shrink(a.communities);
  shrink(a.cluster_list);
  shrink(a.ext_communities);
  shrink(a.large_communities);
  shrink(a.unknown);

  void* mem = ::operator new(sizeof(Node) + raw_key.size());
  Node* n = new (mem) Node{std::move(a), h, 0, 1, 0, 0, 0, 0};
  n->neighbor_as = n->attrs.as_path.neighbor_as();
  size_t len = n->attrs.as_path.selection_length();
  n->as_path_len = static_cast<uint16_t>(len > 0xFFFF ? 0xFFFF : len);
  for (uint32_t c : n->attrs.communities) {
    if (c == wire::community::kLlgrStale) n->flags |= kLlgrStale;
    if (c == wire::community::kNoExport) n->flags |= kNoExport;
    if (c == wire::community::kNoAdvertise) n->flags |= kNoAdvertise;
    if (c == wire::community::kNoLlgr) n->flags |= kNoLlgr;
  }
  assert(nodes_.size() < Index::kIdMask);
  AttrId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    nodes_[id] = n;
  } else {
    id = static_cast<AttrId>(nodes_.size());
    nodes_.push_back(n);
  }
  by_value_.insert(h, id);
  if (!raw_key.empty()) {
    n->raw_len = static_cast<uint32_t>(raw_key.size());
    std::memcpy(n->raw(), raw_key.data(), raw_key.size());
    n->raw_hash = raw_hash(raw_key);
    by_raw_.insert(n->raw_hash, id);
    ++raw_count_;
  }
  ++live_;
  return id;
}

AttrId AttrStore::intern(const PathAttributes& a) {
  uint64_t h = hash_attributes(a);
  AttrId id = find_existing(a, h);
  if (id != kNoAttr) {
    ++nodes_[id]->refs;
    return id;
  }
  PathAttributes copy = a;
  return create(std::move(copy), h, {});
}

AttrId AttrStore::intern(PathAttributes&& a) {
  uint64_t h = hash_attributes(a);
  AttrId id = find_existing(a, h);
  if (id != kNoAttr) {
    ++nodes_[id]->refs;
    return id;
  }
  return create(std::move(a), h, {});
}

AttrId AttrStore::intern_with_key(PathAttributes&& a, std::span<const uint8_t> raw_key) {
  uint64_t h = hash_attributes(a);
  AttrId id = find_existing(a, h);
  if (id != kNoAttr) {
    ++nodes_[id]->refs;
    return id;
  }
  return create(std::move(a), h, raw_key);
}

AttrId AttrStore::intern_with_key(const PathAttributes& a, std::span<const uint8_t> raw_key) {
  uint64_t h = hash_attributes(a);
  AttrId id = find_existing(a, h);
  if (id != kNoAttr) {
    ++nodes_[id]->refs;
    return id;
  }
  PathAttributes copy = a;
  return create(std::move(copy), h, raw_key);
}

uint64_t AttrStore::raw_hash(std::span<const uint8_t> raw_key) {
  return hash_bytes64(raw_key.data(), raw_key.size(), 0x7261772d6b6579ULL);
}

AttrId AttrStore::find_raw(std::span<const uint8_t> raw_key) const {
  return find_raw(raw_key, raw_hash(raw_key));
}

AttrId AttrStore::find_raw(std::span<const uint8_t> raw_key, uint64_t rh) const {
  return by_raw_.find(rh, [&](AttrId id) {
    const Node* n = nodes_[id];
    return n->raw_hash == rh && n->raw_len == raw_key.size() &&
           std::memcmp(n->raw(), raw_key.data(), raw_key.size()) == 0;
  });
}

void AttrStore::ref(AttrId id, uint32_t n) { nodes_[id]->refs += n; }

void AttrStore::unref(AttrId id, uint32_t n) {
  Node* node = nodes_[id];
  node->refs -= n;
  if (node->refs == 0) destroy(id);
}

void AttrStore::destroy(AttrId id) {
  Node* n = nodes_[id];
  by_value_.erase(n->hash, id);
  if (n->raw_len != 0) {
    by_raw_.erase(n->raw_hash, id);
    --raw_count_;
  }
  n->~Node();
  ::operator delete(n);
  nodes_[id] = nullptr;
  free_ids_.push_back(id);
  --live_;
}

}  // namespace tandem::rib
