// Basic value types shared by every part of tandem: address families, IP addresses
// and prefixes. Pure values, no I/O, no Asio (the wire layer must stay I/O-free).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::wire {

enum class Afi : uint16_t { Ipv4 = 1, Ipv6 = 2 };
enum class Safi : uint8_t { Unicast = 1 };

struct Family {
  Afi afi = Afi::Ipv4;
  Safi safi = Safi::Unicast;
  auto operator<=>(const Family&) const = default;
  // "ipv4-unicast" / "ipv6-unicast" (also used in config and logs).
  std::string to_string() const;
  static std::optional<Family> parse(std::string_view text);
};
inline constexpr Family kIpv4Unicast{Afi::Ipv4, Safi::Unicast};
inline constexpr Family kIpv6Unicast{Afi::Ipv6, Safi::Unicast};

// An IPv4 or IPv6 address in network byte order. IPv4 uses the first 4 bytes.
struct IpAddr {
  Afi afi = Afi::Ipv4;
  std::array<uint8_t, 16> bytes{};

  static IpAddr v4(uint32_t host_order);
  static IpAddr v6(const uint8_t* sixteen_bytes);
  static std::optional<IpAddr> parse(std::string_view text);

  bool is_v4() const { return afi == Afi::Ipv4; }
  bool is_v6() const { return afi == Afi::Ipv6; }
  uint32_t v4_host_order() const;  // only meaningful when is_v4()
  size_t size() const { return is_v4() ? 4 : 16; }
  bool is_unspecified() const;
  bool is_link_local() const;  // fe80::/10 for v6, 169.254/16 for v4
  std::string to_string() const;

  auto operator<=>(const IpAddr&) const = default;
};

// A prefix whose host bits are always zero (constructors mask them).
struct Prefix {
  IpAddr addr;
  uint8_t len = 0;

  Prefix() = default;
  Prefix(const IpAddr& a, uint8_t l);  // masks host bits; l is clamped to the family max
  static std::optional<Prefix> parse(std::string_view text);  // "10.0.0.0/8", "2001:db8::/32"

  Afi afi() const { return addr.afi; }
  Family family() const { return Family{addr.afi, Safi::Unicast}; }
  uint8_t max_len() const { return addr.is_v4() ? 32 : 128; }
  bool contains(const Prefix& other) const;  // other is equal or more specific
  std::string to_string() const;

  auto operator<=>(const Prefix&) const = default;
};

size_t hash_bytes(const void* data, size_t len, size_t seed = 0);

}  // namespace tandem::wire

template <>
struct std::hash<tandem::wire::IpAddr> {
  size_t operator()(const tandem::wire::IpAddr& a) const noexcept {
    return tandem::wire::hash_bytes(a.bytes.data(), a.size(), static_cast<size_t>(a.afi));
  }
};
template <>
struct std::hash<tandem::wire::Prefix> {
  size_t operator()(const tandem::wire::Prefix& p) const noexcept {
    return tandem::wire::hash_bytes(p.addr.bytes.data(), p.addr.size(),
                                     (static_cast<size_t>(p.addr.afi) << 8) | p.len);
  }
};
template <>
struct std::hash<tandem::wire::Family> {
  size_t operator()(const tandem::wire::Family& f) const noexcept {
    return (static_cast<size_t>(f.afi) << 8) | static_cast<size_t>(f.safi);
  }
};
