// Value types: families, addresses, prefixes, hashing.
#include "bgpd/wire/types.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace tandem::wire {

std::string Family::to_string() const {
  if (safi == Safi::Unicast) {
    if (afi == Afi::Ipv4) return "ipv4-unicast";
    if (afi == Afi::Ipv6) return "ipv6-unicast";
  }
  return "afi" + std::to_string(static_cast<unsigned>(afi)) + "-safi" +
         std::to_string(static_cast<unsigned>(safi));
}

std::optional<Family> Family::parse(std::string_view text) {
  if (text == "ipv4-unicast" || text == "ipv4") return kIpv4Unicast;
  if (text == "ipv6-unicast" || text == "ipv6") return kIpv6Unicast;
  return std::nullopt;
}

IpAddr IpAddr::v4(uint32_t host_order) {
  IpAddr a;
  a.afi = Afi::Ipv4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddr IpAddr::v6(const uint8_t* sixteen_bytes) {
  IpAddr a;
  a.afi = Afi::Ipv6;
  std::memcpy(a.bytes.data(), sixteen_bytes, 16);
  return a;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (text.find(':') != std::string_view::npos) {
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
    a.afi = Afi::Ipv6;
    return a;
  }
  if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
  a.afi = Afi::Ipv4;
  return a;
}

uint32_t IpAddr::v4_host_order() const {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

bool IpAddr::is_unspecified() const {
  for (size_t i = 0; i < size(); ++i)
    if (bytes[i] != 0) return false;
  return true;
}

bool IpAddr::is_link_local() const {
  if (is_v4()) return bytes[0] == 169 && bytes[1] == 254;
  return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf)) == nullptr)
    return "?";
  return buf;
}

Prefix::Prefix(const IpAddr& a, uint8_t l) : addr(a), len(l) {
  if (addr.afi != Afi::Ipv4 && addr.afi != Afi::Ipv6) addr.afi = Afi::Ipv4;
  const uint8_t maxl = max_len();
  if (len > maxl) len = maxl;
  // Zero host bits, and everything past the family's address size.
  const size_t full = len / 8;
  const unsigned rem = len % 8;
  size_t i = full;
  if (rem != 0 && i < 16) {
    addr.bytes[i] &= static_cast<uint8_t>(0xFF00u >> rem);
    ++i;
  }
  for (; i < 16; ++i) addr.bytes[i] = 0;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto a = IpAddr::parse(text.substr(0, slash));
  if (!a) return std::nullopt;
  unsigned l = a->is_v4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view num = text.substr(slash + 1);
    if (num.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), l);
    if (ec != std::errc() || ptr != num.data() + num.size()) return std::nullopt;
    if (l > (a->is_v4() ? 32u : 128u)) return std::nullopt;
  }
  return Prefix(*a, static_cast<uint8_t>(l));
}

bool Prefix::contains(const Prefix& other) const {
  if (other.addr.afi != addr.afi || other.len < len) return false;
  return Prefix(other.addr, len).addr == addr;
}

std::string Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

namespace {
inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
}  // namespace

size_t hash_bytes(const void* data, size_t len, size_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = (static_cast<uint64_t>(seed) + 0x9e3779b97f4a7c15ULL) ^ (len * 0x100000001b3ULL);
  while (len >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ (w * 0x87c37b91114253d5ULL)) * 0x4cf5ad432745937fULL;
    h = (h << 31) | (h >> 33);
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  if (len > 0) {
    std::memcpy(&tail, p, len);
    h ^= tail * 0x87c37b91114253d5ULL;
  }
  return static_cast<size_t>(mix(h));
}

}  // namespace tandem::wire
