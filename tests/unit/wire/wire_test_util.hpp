// Helpers for the wire unit tests: build byte vectors by hand.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <vector>

#include "bgpd/wire/message.hpp"

namespace tandem::wire {
// Readable gtest output.
inline void PrintTo(const Prefix& p, std::ostream* os) { *os << p.to_string(); }
inline void PrintTo(const IpAddr& a, std::ostream* os) { *os << a.to_string(); }
inline void PrintTo(const AsPath& p, std::ostream* os) { *os << "AsPath(" << p.to_string() << ")"; }
}  // namespace tandem::wire

namespace tandem::wire::test {

using Bytes = std::vector<uint8_t>;

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes u16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
inline Bytes u32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}

// One path attribute; uses a 2-octet length when the Extended Length flag is given.
inline Bytes mkattr(uint8_t flags, uint8_t type, const Bytes& value) {
  Bytes out{flags, type};
  if (flags & attr::kFlagExtendedLength) {
    Bytes l = u16(static_cast<uint16_t>(value.size()));
    out.insert(out.end(), l.begin(), l.end());
  } else {
    out.push_back(static_cast<uint8_t>(value.size()));
  }
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

// Well-formed mandatory attributes (ORIGIN IGP, AS_PATH 65001 (4-octet), NEXT_HOP 192.0.2.1).
inline Bytes origin_attr(uint8_t v = 0) { return mkattr(0x40, attr::kOrigin, {v}); }
inline Bytes as_path_attr4(std::initializer_list<uint32_t> seq) {
  Bytes v{2, static_cast<uint8_t>(seq.size())};
  for (uint32_t a : seq) {
    Bytes b = u32(a);
    v.insert(v.end(), b.begin(), b.end());
  }
  return mkattr(0x40, attr::kAsPath, v);
}
inline Bytes as_path_attr2(std::initializer_list<uint16_t> seq) {
  Bytes v{2, static_cast<uint8_t>(seq.size())};
  for (uint16_t a : seq) {
    Bytes b = u16(a);
    v.insert(v.end(), b.begin(), b.end());
  }
  return mkattr(0x40, attr::kAsPath, v);
}
inline Bytes next_hop_attr(uint32_t a = 0xC0000201) { return mkattr(0x40, attr::kNextHop, u32(a)); }
inline Bytes mandatory4() { return cat({origin_attr(), as_path_attr4({65001}), next_hop_attr()}); }

// UPDATE body from its three fields.
inline Bytes update_body(const Bytes& withdrawn, const Bytes& attrs, const Bytes& nlri) {
  return cat({u16(static_cast<uint16_t>(withdrawn.size())), withdrawn,
              u16(static_cast<uint16_t>(attrs.size())), attrs, nlri});
}

// A whole message's body (drops the 19-octet header).
inline std::span<const uint8_t> body_of(const Bytes& msg) {
  return std::span<const uint8_t>(msg).subspan(kHeaderLen);
}

inline Prefix pfx(const char* text) { return *Prefix::parse(text); }
inline IpAddr ip(const char* text) { return *IpAddr::parse(text); }

inline CodecOptions ibgp4() {
  CodecOptions o;
  o.ebgp = false;
  return o;
}

}  // namespace tandem::wire::test
