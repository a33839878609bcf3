// Walking a run of encoded prefixes (RFC 4271 §4.3 "length, then the significant
// bytes"; RFC 7911 path identifiers skipped) without allocating. Shared by the
// decoder (decode_prefixes) and the RIB's ingest fast path, which builds its compact
// keys straight from the bytes.
#pragma once

#include <cstdint>
#include <span>

namespace tandem::wire {

enum class NlriFault : uint8_t { None, PathIdOverrun, LengthTooLong, PrefixOverrun };

struct NlriWalk {
  NlriFault fault = NlriFault::None;
  unsigned bad_length = 0;  // the offending prefix length for LengthTooLong
  bool ok() const { return fault == NlriFault::None; }
};

// Calls fn(const uint8_t* bytes, unsigned nbytes, unsigned prefix_len) for every prefix;
// stops at the first fault. Bytes past prefix_len are passed as they are (the caller
// masks host bits).
template <class Fn>
NlriWalk for_each_encoded_prefix(std::span<const uint8_t> run, unsigned max_len, bool add_path, Fn&& fn) {
  const uint8_t* p = run.data();
  const size_t n = run.size();
  for (size_t pos = 0; pos < n;) {
    if (add_path) {
      if (n - pos < 5) return {NlriFault::PathIdOverrun, 0};
      pos += 4;
    }
    const unsigned len = p[pos++];
    if (len > max_len) return {NlriFault::LengthTooLong, len};
    const unsigned nb = (len + 7) / 8;
    if (n - pos < nb) return {NlriFault::PrefixOverrun, 0};
    fn(p + pos, nb, len);
    pos += nb;
  }
  return {};
}

}  // namespace tandem::wire
