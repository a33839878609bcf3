// Small, fast, non-cryptographic hashing for the RIB's own tables (prefix tables,
// the attribute store, the raw-attribute cache). Deterministic across runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tandem::rib {

// splitmix64 finalizer: a full-avalanche 64-bit mixer.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Hash a byte string: 8 bytes per round (xxhash-style round), full mix at the end.
inline uint64_t hash_bytes64(const void* data, size_t len, uint64_t seed = 0) {
  constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL, kP2 = 0xC2B2AE3D27D4EB4FULL;
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ (static_cast<uint64_t>(len) * kP1);
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = rotl64(h ^ (v * kP2), 31) * kP1;
    p += 8;
    len -= 8;
  }
  if (len > 0) {
    uint64_t v = 0;
    std::memcpy(&v, p, len);
    h = rotl64(h ^ (v * kP2), 27) * kP1;
  }
  return mix64(h);
}

// Incremental combination of 64-bit values (order-sensitive).
inline uint64_t hash_combine(uint64_t h, uint64_t v) {
  return rotl64(h ^ (v * 0xC2B2AE3D27D4EB4FULL), 31) * 0x9E3779B185EBCA87ULL;
}

}  // namespace tandem::rib
