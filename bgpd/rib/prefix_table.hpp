// Compact per-family prefix tables.
//
// Keys are compact (IPv4: host-order uint32 + length; IPv6: 16 bytes + length), not
// 20-byte wire::Prefix objects. A DenseTable keeps its entries in one dense array
// (entries never move, so an entry index is a stable handle until the entry is
// erased) and finds them through an open-addressing index of 32-bit slots (24-bit
// entry index + 8-bit hash tag, linear probing, backward-shift deletion). At 1M IPv4
// routes that is 16 bytes per Loc-RIB entry plus ~8 bytes of index.
//
// Two erase modes: erase_stable() leaves a hole that a later insert reuses (entry
// indices of the others stay valid: Loc-RIB, Adj-RIB-Out); erase_swap() moves the last
// entry into the hole (dense, for sets that are drained: the dirty sets).
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "bgpd/rib/hash.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::rib {

inline constexpr uint8_t kFreeLen = 0xFF;  // marks a hole in a dense entry array

// Allocator for the big arrays of the tables: blocks of 2 MiB and more are 2 MiB
// aligned and marked for transparent huge pages (random access into a table of a
// million entries is otherwise dominated by TLB misses). Every page of these arrays
// is touched anyway, so huge pages do not add resident memory beyond the rounding.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT(implicit)
  T* allocate(size_t n);
  void deallocate(T* p, size_t n);
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
};
void* huge_page_alloc(size_t bytes);
void huge_page_free(void* p, size_t bytes);
template <class T>
T* HugePageAllocator<T>::allocate(size_t n) {
  return static_cast<T*>(huge_page_alloc(n * sizeof(T)));
}
template <class T>
void HugePageAllocator<T>::deallocate(T* p, size_t n) {
  huge_page_free(p, n * sizeof(T));
}

// ---- families ----

struct V4 {
  using Addr = uint32_t;  // host order
  struct Key {
    Addr addr = 0;
    uint8_t len = 0;
  };
  static constexpr wire::Afi kAfi = wire::Afi::Ipv4;
  static constexpr uint8_t kMaxLen = 32;
  static constexpr wire::Family family() { return wire::kIpv4Unicast; }

  static uint64_t hash(Addr a, uint8_t len) {
    return mix64((static_cast<uint64_t>(a) << 8) | len);
  }
  static bool eq(Addr a, Addr b) { return a == b; }
  static Addr mask(Addr a, uint8_t len) {
    return len == 0 ? 0 : (len >= 32 ? a : a & ~(0xFFFFFFFFu >> len));
  }
  static wire::Prefix to_prefix(Addr a, uint8_t len) {
    wire::Prefix p;
    p.addr.afi = wire::Afi::Ipv4;
    p.addr.bytes[0] = static_cast<uint8_t>(a >> 24);
    p.addr.bytes[1] = static_cast<uint8_t>(a >> 16);
    p.addr.bytes[2] = static_cast<uint8_t>(a >> 8);
    p.addr.bytes[3] = static_cast<uint8_t>(a);
    p.len = len;
    return p;
  }
  static Key from_prefix(const wire::Prefix& p) {
    const auto& b = p.addr.bytes;
    uint8_t len = p.len > 32 ? 32 : p.len;
    Addr a = (static_cast<uint32_t>(b[0]) << 24) | (static_cast<uint32_t>(b[1]) << 16) |
             (static_cast<uint32_t>(b[2]) << 8) | b[3];
    return Key{mask(a, len), len};
  }
};

struct V6 {
  using Addr = std::array<uint8_t, 16>;
  struct Key {
    Addr addr{};
    uint8_t len = 0;
  };
  static constexpr wire::Afi kAfi = wire::Afi::Ipv6;
  static constexpr uint8_t kMaxLen = 128;
  static constexpr wire::Family family() { return wire::kIpv6Unicast; }

  static uint64_t hash(const Addr& a, uint8_t len) {
    uint64_t hi, lo;
    std::memcpy(&hi, a.data(), 8);
    std::memcpy(&lo, a.data() + 8, 8);
    return mix64(hash_combine(hash_combine(len, hi), lo));
  }
  static bool eq(const Addr& a, const Addr& b) { return std::memcmp(a.data(), b.data(), 16) == 0; }
  static Addr mask(Addr a, uint8_t len) {
    for (unsigned i = 0; i < 16; ++i) {
      unsigned bit = i * 8;
      if (bit >= len) {
        a[i] = 0;
      } else if (bit + 8 > len) {
        a[i] &= static_cast<uint8_t>(0xFF00u >> (len - bit));
      }
    }
    return a;
  }
  static wire::Prefix to_prefix(const Addr& a, uint8_t len) {
    wire::Prefix p;
    p.addr.afi = wire::Afi::Ipv6;
    std::memcpy(p.addr.bytes.data(), a.data(), 16);
    p.len = len;
    return p;
  }
  static Key from_prefix(const wire::Prefix& p) {
    Key k;
    k.len = p.len > 128 ? 128 : p.len;
    std::memcpy(k.addr.data(), p.addr.bytes.data(), 16);
    k.addr = mask(k.addr, k.len);
    return k;
  }
};

// ---- entry types (kept small: see the sizes asserted below) ----

// One path of a prefix: 8 bytes.
struct PathRec {
  uint32_t attr;   // AttrStore id (holds one reference)
  uint16_t peer;   // internal peer slot
  uint8_t flags;   // kPathEligible, kPathStale
  uint8_t spare;
};
inline constexpr uint8_t kPathEligible = 0x01;  // passed inbound policy
inline constexpr uint8_t kPathStale = 0x02;     // graceful-restart stale (loses ties)

// A Loc-RIB entry: the prefix and its paths (inline when one, else a heap array of
// capacity bit_ceil(npaths)). When flags & kEntryHasBest, paths()[0] is the best.
template <class F>
struct LocEntry {
  typename F::Addr addr;
  uint8_t len;
  uint8_t flags;
  uint16_t npaths;
  union {
    PathRec one;
    PathRec* many;
  };
  PathRec* paths() { return npaths <= 1 ? &one : many; }
  const PathRec* paths() const { return npaths <= 1 ? &one : many; }
  bool has_best() const;
};
inline constexpr uint8_t kEntryHasBest = 0x01;
template <class F>
bool LocEntry<F>::has_best() const {
  return (flags & kEntryHasBest) != 0;
}

// Adj-RIB-Out entry: the export attribute set last advertised for the prefix.
template <class F>
struct AdjOutEntry {
  typename F::Addr addr;
  uint8_t len;
  uint8_t pad[3];
  uint32_t attr;
};

// Member of a key set (dirty sets).
template <class F>
struct KeyEntry {
  typename F::Addr addr;
  uint8_t len;
};

static_assert(sizeof(LocEntry<V4>) == 16);
static_assert(sizeof(LocEntry<V6>) == 32);
static_assert(sizeof(AdjOutEntry<V4>) == 12);
static_assert(sizeof(KeyEntry<V4>) == 8);

// ---- the table ----

template <class F, class E>
class DenseTable {
 public:
  using Addr = typename F::Addr;
  static constexpr uint32_t npos = 0xFFFFFFFFu;
  static constexpr uint32_t kMaxEntries = (1u << 24) - 2;
  using EntryVector = std::vector<E, HugePageAllocator<E>>;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Number of entry slots (live + holes): iterate 0..slots() and test live().
  uint32_t slots() const { return static_cast<uint32_t>(e_.size()); }
  size_t index_capacity() const { return idx_.size(); }
  bool live(uint32_t i) const { return e_[i].len != kFreeLen; }
  E& at(uint32_t i) { return e_[i]; }
  const E& at(uint32_t i) const { return e_[i]; }

  uint32_t find(const Addr& a, uint8_t len) const {
    if (size_ == 0) return npos;
    uint64_t h = F::hash(a, len);
    uint32_t tag = static_cast<uint32_t>(h & 0xFF) << 24;
    for (uint32_t s = home(h);; s = (s + 1) & mask_) {
      uint32_t v = idx_[s];
      if (v == 0) return npos;
      if ((v & 0xFF000000u) == tag) {
        uint32_t i = (v & 0x00FFFFFFu) - 1;
        const E& e = e_[i];
        if (e.len == len && F::eq(e.addr, a)) return i;
      }
    }
  }

  void prefetch_entry(uint32_t i) const {
    if (i < e_.size()) __builtin_prefetch(&e_[i]);
  }
  void prefetch(const Addr& a, uint8_t len) const {
    if (!idx_.empty()) __builtin_prefetch(&idx_[home(F::hash(a, len))]);
  }

  // Returns {entry index, inserted}. A new entry is zero-initialised with its key set.
  // Returns {npos, false} only if the table is full (kMaxEntries).
  std::pair<uint32_t, bool> insert(const Addr& a, uint8_t len) {
    if ((size_ + 1) * 4 > idx_.size() * 3) grow();
    uint64_t h = F::hash(a, len);
    uint32_t tag = static_cast<uint32_t>(h & 0xFF) << 24;
    uint32_t s = home(h);
    for (;; s = (s + 1) & mask_) {
      uint32_t v = idx_[s];
      if (v == 0) break;
      if ((v & 0xFF000000u) == tag) {
        uint32_t i = (v & 0x00FFFFFFu) - 1;
        const E& e = e_[i];
        if (e.len == len && F::eq(e.addr, a)) return {i, false};
      }
    }
    if (size_ >= kMaxEntries) return {npos, false};
    uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<uint32_t>(e_.size());
      e_.emplace_back();
    }
    E& e = e_[i];
    std::memset(static_cast<void*>(&e), 0, sizeof(E));
    e.addr = a;
    e.len = len;
    idx_[s] = tag | (i + 1);
    ++size_;
    return {i, true};
  }

  // Erase, leaving a hole (other entry indices stay valid).
  void erase_stable(uint32_t i) {
    unlink(i);
    e_[i].len = kFreeLen;
    if (i + 1 == e_.size()) {
      e_.pop_back();
    } else {
      free_.push_back(i);
    }
    --size_;
  }

  // Erase by moving the last entry into the hole (only for tables that never use
  // erase_stable, i.e. have no holes).
  void erase_swap(uint32_t i) {
    assert(free_.empty());
    unlink(i);
    uint32_t last = static_cast<uint32_t>(e_.size()) - 1;
    if (i != last) {
      uint32_t s = slot_of(last);
      idx_[s] = (idx_[s] & 0xFF000000u) | (i + 1);
      e_[i] = e_[last];
    }
    e_.pop_back();
    --size_;
  }

  // Move all entries out (only for tables without holes) and empty the table.
  void take_all(EntryVector& out) {
    assert(free_.empty());
    out = std::move(e_);
    e_ = EntryVector{};
    if (idx_.size() > 4096) {
      idx_ = decltype(idx_){};
      mask_ = 0;
    } else {
      std::fill(idx_.begin(), idx_.end(), 0u);
    }
    size_ = 0;
  }

  void clear() {
    e_.clear();
    e_.shrink_to_fit();
    free_.clear();
    free_.shrink_to_fit();
    idx_.clear();
    idx_.shrink_to_fit();
    mask_ = 0;
    size_ = 0;
  }

  void reserve(size_t n) {
    e_.reserve(n);
    while (n * 4 > idx_.size() * 3) grow();
  }

 private:
  uint32_t home(uint64_t h) const { return static_cast<uint32_t>(h >> 32) & mask_; }

  // Index slot that points at entry i (which must be live and indexed).
  uint32_t slot_of(uint32_t i) const {
    const E& e = e_[i];
    for (uint32_t s = home(F::hash(e.addr, e.len));; s = (s + 1) & mask_) {
      if ((idx_[s] & 0x00FFFFFFu) == i + 1) return s;
    }
  }

  void unlink(uint32_t i) {
    uint32_t s = slot_of(i);
    // Backward-shift deletion for linear probing.
    uint32_t hole = s;
    for (uint32_t j = (s + 1) & mask_;; j = (j + 1) & mask_) {
      uint32_t v = idx_[j];
      if (v == 0) break;
      const E& e = e_[(v & 0x00FFFFFFu) - 1];
      uint32_t k = home(F::hash(e.addr, e.len));
      // Move v into the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (!stays) {
        idx_[hole] = v;
        hole = j;
      }
    }
    idx_[hole] = 0;
  }

  void grow() {
    size_t cap = idx_.empty() ? 16 : idx_.size() * 2;
    idx_.assign(cap, 0);
    mask_ = static_cast<uint32_t>(cap - 1);
    // Re-insert every live entry; the target slots are random, so their cache misses
    // are started kAhead entries in advance.
    constexpr uint32_t kAhead = 16;
    const uint32_t n = static_cast<uint32_t>(e_.size());
    for (uint32_t i = 0; i < n; ++i) {
      if (i + kAhead < n) {
        const E& ahead = e_[i + kAhead];
        if (ahead.len != kFreeLen) __builtin_prefetch(&idx_[home(F::hash(ahead.addr, ahead.len))], 1);
      }
      const E& e = e_[i];
      if (e.len == kFreeLen) continue;
      uint64_t h = F::hash(e.addr, e.len);
      uint32_t s = home(h);
      while (idx_[s] != 0) s = (s + 1) & mask_;
      idx_[s] = (static_cast<uint32_t>(h & 0xFF) << 24) | (i + 1);
    }
  }

  std::vector<E, HugePageAllocator<E>> e_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t, HugePageAllocator<uint32_t>> idx_;
  uint32_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tandem::rib
