// OPEN optional parameters and capabilities (RFC 5492, RFC 9072) decode/encode.
#include "bgpd/wire/capabilities.hpp"

#include <algorithm>

#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/internal.hpp"

namespace tandem::wire {

using detail::Reader;

bool Capabilities::has_family(Family f) const {
  return std::find(multiprotocol.begin(), multiprotocol.end(), f) != multiprotocol.end();
}

namespace {

inline constexpr uint8_t kParamCapabilities = 2;

// Families tandem understands; others are ignored where the RFCs say so.
std::optional<Family> known_family(uint16_t afi, uint8_t safi) {
  if (safi != static_cast<uint8_t>(Safi::Unicast)) return std::nullopt;
  if (afi == static_cast<uint16_t>(Afi::Ipv4)) return kIpv4Unicast;
  if (afi == static_cast<uint16_t>(Afi::Ipv6)) return kIpv6Unicast;
  return std::nullopt;
}

WireError malformed(std::string what) {
  // RFC 5492 leaves the subcode for a malformed capability open; use 0 (unspecific).
  return detail::session_reset(err::kOpen, 0, "malformed capability: " + what);
}

std::optional<WireError> decode_one(uint8_t code, std::span<const uint8_t> value,
                                    Capabilities& caps) {
  Reader r(value);
  switch (code) {
    case cap::kMultiprotocol: {
      uint16_t afi = 0;
      uint8_t reserved = 0, safi = 0;
      if (value.size() != 4 || !r.u16(afi) || !r.u8(reserved) || !r.u8(safi))
        return malformed("multiprotocol capability length " + std::to_string(value.size()));
      if (auto f = known_family(afi, safi)) {
        if (!caps.has_family(*f)) caps.multiprotocol.push_back(*f);
      } else {
        caps.unknown.push_back(RawCapability{code, detail::to_vec(value)});
      }
      return std::nullopt;
    }
    case cap::kRouteRefresh:
    case cap::kRouteRefreshCisco:
      caps.route_refresh = true;
      return std::nullopt;
    case cap::kEnhancedRouteRefresh:
      caps.enhanced_route_refresh = true;
      return std::nullopt;
    case cap::kExtendedMessage:
      caps.extended_message = true;
      return std::nullopt;
    case cap::kFourOctetAs: {
      uint32_t asn = 0;
      if (value.size() != 4 || !r.u32(asn))
        return malformed("4-octet AS capability length " + std::to_string(value.size()));
      caps.four_octet_as = asn;
      return std::nullopt;
    }
    case cap::kGracefulRestart: {
      uint16_t flags_time = 0;
      if (value.size() < 2 || (value.size() - 2) % 4 != 0 || !r.u16(flags_time))
        return malformed("graceful restart capability length " + std::to_string(value.size()));
      GracefulRestartCap gr;
      gr.restart_state = (flags_time & 0x8000) != 0;
      gr.notification = (flags_time & 0x4000) != 0;
      gr.restart_time = flags_time & 0x0FFF;
      while (!r.empty()) {
        uint16_t afi = 0;
        uint8_t safi = 0, f = 0;
        (void)r.u16(afi);
        (void)r.u8(safi);
        (void)r.u8(f);
        if (auto fam = known_family(afi, safi))
          gr.families.push_back(GracefulRestartCap::Af{*fam, (f & 0x80) != 0});
      }
      caps.graceful_restart = std::move(gr);
      return std::nullopt;
    }
    case cap::kLongLivedGr: {
      if (value.size() % 7 != 0)
        return malformed("long-lived graceful restart capability length " +
                         std::to_string(value.size()));
      LlgrCap llgr;
      while (!r.empty()) {
        uint16_t afi = 0;
        uint8_t safi = 0, f = 0;
        uint32_t stale = 0;
        (void)r.u16(afi);
        (void)r.u8(safi);
        (void)r.u8(f);
        (void)r.u24(stale);
        if (auto fam = known_family(afi, safi))
          llgr.families.push_back(LlgrCap::Af{*fam, (f & 0x80) != 0, stale});
      }
      caps.llgr = std::move(llgr);
      return std::nullopt;
    }
    case cap::kAddPath: {
      if (value.size() % 4 != 0)
        return malformed("ADD-PATH capability length " + std::to_string(value.size()));
      AddPathCap ap;
      while (!r.empty()) {
        uint16_t afi = 0;
        uint8_t safi = 0, mode = 0;
        (void)r.u16(afi);
        (void)r.u8(safi);
        (void)r.u8(mode);
        auto fam = known_family(afi, safi);
        // RFC 7911 §4: an unknown Send/Receive value makes the tuple ignored.
        if (!fam || mode < 1 || mode > 3) continue;
        ap.families.push_back(AddPathCap::Af{*fam, static_cast<AddPathCap::Mode>(mode)});
      }
      caps.add_path = std::move(ap);
      return std::nullopt;
    }
    default:
      caps.unknown.push_back(RawCapability{code, detail::to_vec(value)});
      return std::nullopt;
  }
}

std::optional<WireError> decode_capability_list(std::span<const uint8_t> bytes,
                                                Capabilities& caps) {
  Reader r(bytes);
  while (!r.empty()) {
    uint8_t code = 0, len = 0;
    std::span<const uint8_t> value;
    if (!r.u8(code) || !r.u8(len) || !r.take(len, value))
      return malformed("capability overruns its optional parameter");
    if (auto e = decode_one(code, value, caps)) return e;
  }
  return std::nullopt;
}

void put_family(std::vector<uint8_t>& out, Family f) {
  detail::put_u16(out, static_cast<uint16_t>(f.afi));
  detail::put_u8(out, static_cast<uint8_t>(f.safi));
}

// One capability TLV; the value is written by `body` into `out`.
template <class F>
void put_cap(std::vector<uint8_t>& out, uint8_t code, F&& body) {
  out.push_back(code);
  const size_t len_at = out.size();
  out.push_back(0);
  body();
  const size_t len = out.size() - len_at - 1;
  out[len_at] = static_cast<uint8_t>(len > 255 ? 255 : len);
}

}  // namespace

Result<Capabilities> decode_capabilities(std::span<const uint8_t> optional_parameters,
                                         bool extended_parameters_length) {
  Capabilities caps;
  Reader r(optional_parameters);
  while (!r.empty()) {
    uint8_t type = 0;
    uint16_t len = 0;
    bool ok = r.u8(type);
    if (extended_parameters_length) {
      ok = ok && r.u16(len);
    } else {
      uint8_t l8 = 0;
      ok = ok && r.u8(l8);
      len = l8;
    }
    std::span<const uint8_t> value;
    if (!ok || !r.take(len, value))
      return detail::session_reset(err::kOpen, 0, "optional parameter overruns the OPEN message");
    if (type != kParamCapabilities)
      return detail::session_reset(err::kOpen, err::kUnsupportedOptionalParameter,
                                   "unsupported optional parameter type " + std::to_string(type));
    if (auto e = decode_capability_list(value, caps)) return std::move(*e);
  }
  return caps;
}

namespace detail {

// All capability TLVs back to back (no optional parameter header). Capabilities whose
// value would exceed 255 octets are truncated to what a TLV can carry (cannot happen
// for the ones tandem builds; only for oversized raw ones).
void encode_capability_list(const Capabilities& caps, std::vector<uint8_t>& out) {
  for (const Family& f : caps.multiprotocol) {
    put_cap(out, cap::kMultiprotocol, [&] {
      put_u16(out, static_cast<uint16_t>(f.afi));
      put_u8(out, 0);
      put_u8(out, static_cast<uint8_t>(f.safi));
    });
  }
  if (caps.route_refresh) put_cap(out, cap::kRouteRefresh, [] {});
  if (caps.extended_message) put_cap(out, cap::kExtendedMessage, [] {});
  if (caps.graceful_restart) {
    const auto& gr = *caps.graceful_restart;
    put_cap(out, cap::kGracefulRestart, [&] {
      uint16_t ft = static_cast<uint16_t>(gr.restart_time & 0x0FFF);
      if (gr.restart_state) ft |= 0x8000;
      if (gr.notification) ft |= 0x4000;
      put_u16(out, ft);
      size_t n = 0;
      for (const auto& af : gr.families) {
        if (++n > 63) break;  // (255 - 2) / 4 tuples fit one capability
        put_family(out, af.family);
        put_u8(out, af.forwarding_state ? 0x80 : 0);
      }
    });
  }
  if (caps.four_octet_as) put_cap(out, cap::kFourOctetAs, [&] { put_u32(out, *caps.four_octet_as); });
  if (caps.add_path) {
    put_cap(out, cap::kAddPath, [&] {
      size_t n = 0;
      for (const auto& af : caps.add_path->families) {
        if (++n > 63) break;
        put_family(out, af.family);
        put_u8(out, static_cast<uint8_t>(af.mode));
      }
    });
  }
  if (caps.enhanced_route_refresh) put_cap(out, cap::kEnhancedRouteRefresh, [] {});
  if (caps.llgr) {
    put_cap(out, cap::kLongLivedGr, [&] {
      size_t n = 0;
      for (const auto& af : caps.llgr->families) {
        if (++n > 36) break;  // 255 / 7
        put_family(out, af.family);
        put_u8(out, af.forwarding_state ? 0x80 : 0);
        put_u24(out, af.stale_time & 0xFFFFFF);
      }
    });
  }
  for (const auto& raw : caps.unknown) {
    const size_t n = std::min<size_t>(raw.value.size(), 255);
    out.push_back(raw.code);
    out.push_back(static_cast<uint8_t>(n));
    put_bytes(out, raw.value.data(), n);
  }
}

// Splits a capability list into type-2 optional parameters of at most 255 octets each,
// never splitting a capability. Returns false when a capability is too large for a
// 1-octet parameter length (it is then left out; RFC 9072 form can carry it).
bool wrap_capability_params(std::span<const uint8_t> list, bool extended,
                            std::vector<uint8_t>& out) {
  if (extended) {
    // RFC 9072: one parameter with a 2-octet length is enough.
    const size_t n = std::min<size_t>(list.size(), 0xFFFF);
    put_u8(out, kParamCapabilities);
    put_u16(out, static_cast<uint16_t>(n));
    put_bytes(out, list.data(), n);
    return n == list.size();
  }
  bool all = true;
  size_t pos = 0;
  while (pos + 1 < list.size()) {
    size_t end = pos;
    while (end + 1 < list.size()) {
      const size_t tlv = 2 + static_cast<size_t>(list[end + 1]);
      if (end + tlv > list.size() || end + tlv - pos > 255) break;
      end += tlv;
    }
    if (end == pos) {
      // This capability alone exceeds 255 octets: skip it.
      all = false;
      pos += 2 + static_cast<size_t>(list[pos + 1]);
      continue;
    }
    put_u8(out, kParamCapabilities);
    put_u8(out, static_cast<uint8_t>(end - pos));
    put_bytes(out, list.data() + pos, end - pos);
    pos = end;
  }
  return all;
}

}  // namespace detail

std::vector<uint8_t> encode_capabilities(const Capabilities& caps) {
  std::vector<uint8_t> list;
  detail::encode_capability_list(caps, list);
  std::vector<uint8_t> out;
  detail::wrap_capability_params(list, false, out);
  return out;
}

}  // namespace tandem::wire
