#include "bgpd/mrt/rib_attributes.hpp"

#include "bgpd/mrt/bytes.hpp"

namespace tandem::mrt {

using namespace detail;

namespace {

constexpr uint8_t kMpReach = wire::attr::kMpReach;
constexpr uint8_t kFlagOptional = wire::attr::kFlagOptional;
constexpr uint8_t kFlagExtended = wire::attr::kFlagExtendedLength;

void put_attr_header(std::vector<uint8_t>& out, uint8_t flags, uint8_t attr_type, size_t len) {
  if (len > 255) flags |= kFlagExtended;
  put_u8(out, flags);
  put_u8(out, attr_type);
  if (len > 255) {
    put_u16(out, static_cast<uint16_t>(len));
  } else {
    put_u8(out, static_cast<uint8_t>(len));
  }
}

// Calls fn(type, flags, whole attribute span) per attribute; false when malformed.
template <class Fn>
bool for_each_attribute(std::span<const uint8_t> attrs, Fn&& fn) {
  size_t pos = 0;
  while (pos < attrs.size()) {
    if (attrs.size() - pos < 3) return false;
    const uint8_t flags = attrs[pos];
    const uint8_t t = attrs[pos + 1];
    size_t hdr = 3, len = attrs[pos + 2];
    if (flags & kFlagExtended) {
      if (attrs.size() - pos < 4) return false;
      hdr = 4;
      len = load_u16(&attrs[pos + 2]);
    }
    if (attrs.size() - pos - hdr < len) return false;
    fn(t, flags, attrs.subspan(pos, hdr + len), attrs.subspan(pos + hdr, len));
    pos += hdr + len;
  }
  return true;
}

}  // namespace

std::vector<uint8_t> encode_rib_attributes(const wire::PathAttributes& attrs, wire::Afi afi) {
  wire::CodecOptions opts;
  opts.four_octet_as = true;
  opts.ebgp = false;  // keep LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST
  wire::PathAttributes a = attrs;
  std::optional<wire::IpAddr> nh;
  std::optional<wire::IpAddr> ll;
  if (afi == wire::Afi::Ipv6) {
    nh = a.next_hop;
    ll = a.next_hop_link_local;
    a.next_hop.reset();  // no classic NEXT_HOP for IPv6 routes
  }
  std::vector<uint8_t> encoded;
  wire::encode_attributes(a, opts, encoded);
  if (afi != wire::Afi::Ipv6 || !nh || !nh->is_v6()) return encoded;

  // Insert the abbreviated MP_REACH_NLRI in type order.
  std::vector<uint8_t> mp;
  const bool with_ll = ll && ll->is_v6();
  const uint8_t nh_len = with_ll ? 32 : 16;
  put_attr_header(mp, kFlagOptional, kMpReach, 1u + nh_len);
  put_u8(mp, nh_len);
  put_addr(mp, *nh);
  if (with_ll) put_addr(mp, *ll);

  std::vector<uint8_t> out;
  out.reserve(encoded.size() + mp.size());
  bool inserted = false;
  for_each_attribute(encoded, [&](uint8_t t, uint8_t, std::span<const uint8_t> whole,
                                  std::span<const uint8_t>) {
    if (!inserted && t > kMpReach) {
      put_bytes(out, mp);
      inserted = true;
    }
    put_bytes(out, whole);
  });
  if (!inserted) put_bytes(out, mp);
  return out;
}

std::vector<uint8_t> expand_rib_attributes(std::span<const uint8_t> attrs, wire::Afi afi) {
  std::vector<uint8_t> out;
  out.reserve(attrs.size() + 8);
  const bool ok = for_each_attribute(attrs, [&](uint8_t t, uint8_t flags,
                                                std::span<const uint8_t> whole,
                                                std::span<const uint8_t> value) {
    // Abbreviated: the first octet is the next-hop length and covers the rest.
    if (t != kMpReach || value.empty() || size_t{value[0]} + 1 != value.size()) {
      put_bytes(out, whole);
      return;
    }
    const size_t len = value.size() + 4;  // AFI (2), SAFI (1), reserved (1)
    put_attr_header(out, static_cast<uint8_t>(flags & ~kFlagExtended), kMpReach, len);
    put_u16(out, static_cast<uint16_t>(afi));
    put_u8(out, 1);  // unicast
    put_bytes(out, value);
    put_u8(out, 0);  // reserved
  });
  if (!ok) return {attrs.begin(), attrs.end()};  // let the codec report the fault
  return out;
}

wire::Result<wire::PathAttributes> decode_rib_attributes(std::span<const uint8_t> attrs,
                                                         wire::Afi afi) {
  const std::vector<uint8_t> full = expand_rib_attributes(attrs, afi);
  wire::CodecOptions opts;
  opts.four_octet_as = true;
  opts.ebgp = false;
  auto r = wire::decode_attributes(full, opts, afi == wire::Afi::Ipv4);
  if (!r) return r.error();
  wire::PathAttributes a = std::move(r->attrs);
  if (afi == wire::Afi::Ipv6) {
    a.next_hop = r->mp_next_hop;
    a.next_hop_link_local = r->mp_next_hop_link_local;
  }
  return a;
}

}  // namespace tandem::mrt
