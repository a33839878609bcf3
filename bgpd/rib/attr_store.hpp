// Interned path attributes: one immutable, shared copy per distinct attribute set.
// A full table has ~1M prefixes but only a few hundred thousand attribute sets.
//
// Every holder of an AttrId owns one reference (paths in the RIB, Adj-RIB-Out entries,
// export caches); the set is freed when the last reference goes. The pointer returned
// by get()/ptr() is stable for as long as the set is alive.
//
// The store also serves as the receive-side decode cache: a set created from an
// UPDATE's raw attribute bytes can remember those bytes ("raw key", including a
// prefix byte for the codec options that influence decoding), so that the next UPDATE
// carrying the same bytes is not decoded again (find_raw).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "bgpd/rib/prefix_table.hpp"
#include "bgpd/wire/attributes.hpp"

namespace tandem::rib {

using wire::PathAttributes;

using AttrId = uint32_t;
inline constexpr AttrId kNoAttr = 0xFFFFFFFFu;

// Keys of the decision process and export rules, computed once per attribute set.
struct AttrInfo {
  uint32_t local_pref = 100;   // LOCAL_PREF, or 100 when absent
  uint32_t med = 0;            // MED, or 0 when absent
  uint32_t neighbor_as = 0;    // first AS of the AS_PATH (0 when none)
  uint32_t originator_id = 0;  // ORIGINATOR_ID when has_originator_id
  uint16_t as_path_len = 0;    // AsPath::selection_length()
  uint16_t cluster_len = 0;    // CLUSTER_LIST length
  uint8_t origin = 0;          // 0 IGP, 1 EGP, 2 INCOMPLETE
  bool has_originator_id = false;
  bool llgr_stale = false;     // LLGR_STALE community
  bool no_export = false;      // NO_EXPORT community
  bool no_advertise = false;   // NO_ADVERTISE community
  bool no_llgr = false;        // NO_LLGR community
};

// A hash of every field of the attribute set (used for interning).
uint64_t hash_attributes(const PathAttributes& a);

class AttrStore {
 public:
  AttrStore();
  ~AttrStore();
  AttrStore(const AttrStore&) = delete;
  AttrStore& operator=(const AttrStore&) = delete;

  // The id of the shared copy of `a`, with one reference added for the caller.
  AttrId intern(const PathAttributes& a);
  AttrId intern(PathAttributes&& a);
  // Same, and if the set is created now, remember `raw_key` for find_raw().
  AttrId intern_with_key(PathAttributes&& a, std::span<const uint8_t> raw_key);
  AttrId intern_with_key(const PathAttributes& a, std::span<const uint8_t> raw_key);
  // The set created with this raw key, or kNoAttr. Adds no reference.
  AttrId find_raw(std::span<const uint8_t> raw_key) const;
  // The same in two steps, to start the cache miss early: hash, prefetch, find.
  static uint64_t raw_hash(std::span<const uint8_t> raw_key);
  void prefetch_raw(uint64_t raw_hash) const { by_raw_.prefetch(raw_hash); }
  AttrId find_raw(std::span<const uint8_t> raw_key, uint64_t raw_hash) const;

  void ref(AttrId id, uint32_t n = 1);
  void unref(AttrId id, uint32_t n = 1);

  const PathAttributes& get(AttrId id) const { return nodes_[id]->attrs; }
  const PathAttributes* ptr(AttrId id) const { return &nodes_[id]->attrs; }
  AttrInfo info(AttrId id) const;
  uint32_t refcount(AttrId id) const { return nodes_[id]->refs; }
  bool alive(AttrId id) const { return id < nodes_.size() && nodes_[id] != nullptr; }

  size_t size() const { return live_; }         // distinct attribute sets alive
  size_t id_limit() const { return nodes_.size(); }  // every id is < id_limit()
  size_t raw_keys() const { return raw_count_; }

 private:
  struct Node {
    PathAttributes attrs;
    uint64_t hash = 0;
    uint64_t raw_hash = 0;
    uint32_t refs = 0;
    uint32_t raw_len = 0;  // raw key bytes follow the node (0: no raw key)
    // The AttrInfo fields that are not O(1) reads of attrs.
    uint32_t neighbor_as = 0;
    uint16_t as_path_len = 0;
    uint8_t flags = 0;  // kLlgrStale | kNoExport | kNoAdvertise | kNoLlgr
    const uint8_t* raw() const { return reinterpret_cast<const uint8_t*>(this + 1); }
    uint8_t* raw() { return reinterpret_cast<uint8_t*>(this + 1); }
  };

  // Open-addressing index of ids: 32-bit slots = (5-bit hash tag << 27) | (id + 1),
  // linear probing on the high half of the 64-bit hash.
  class Index {
   public:
    static constexpr uint32_t kIdBits = 27;
    static constexpr uint32_t kIdMask = (1u << kIdBits) - 1;
    static uint32_t tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 59) << kIdBits; }
    template <class Eq>
    AttrId find(uint64_t hash, Eq&& eq) const {
      if (slots_.empty()) return kNoAttr;
      const uint32_t t = tag(hash);
      for (uint32_t s = static_cast<uint32_t>(hash >> 32) & mask_;; s = (s + 1) & mask_) {
        uint32_t v = slots_[s];
        if (v == 0) return kNoAttr;
        if ((v & ~kIdMask) == t) {
          AttrId id = (v & kIdMask) - 1;
          if (eq(id)) return id;
        }
      }
    }
    void insert(uint64_t hash, AttrId id);
    void erase(uint64_t hash, AttrId id);
    void prefetch(uint64_t hash) const {
      if (!slots_.empty()) __builtin_prefetch(&slots_[static_cast<uint32_t>(hash >> 32) & mask_]);
    }
    size_t size() const { return size_; }

   private:
    void grow();
    std::vector<uint32_t, HugePageAllocator<uint32_t>> slots_;
    std::vector<uint32_t> hash_hi_;  // by id: hash >> 32 (rehash without touching nodes)
    uint32_t mask_ = 0;
    size_t size_ = 0;
  };

  AttrId find_existing(const PathAttributes& a, uint64_t h) const;
  AttrId create(PathAttributes&& a, uint64_t h, std::span<const uint8_t> raw_key);
  void destroy(AttrId id);

  std::vector<Node*> nodes_;
  std::vector<AttrId> free_ids_;
  Index by_value_;
  Index by_raw_;
  size_t live_ = 0;
  size_t raw_count_ = 0;
};

}  // namespace tandem::rib
