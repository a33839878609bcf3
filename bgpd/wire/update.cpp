// UPDATE message: splitting, decoding, and packing many prefixes into few messages.
#include <algorithm>

#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/internal.hpp"

namespace tandem::wire {

namespace {
constexpr uint8_t kUpdateType = static_cast<uint8_t>(MessageType::Update);

WireError malformed_list(std::string reason) {
  return detail::session_reset(err::kUpdate, err::kMalformedAttributeList, std::move(reason));
}

// Decodes a classic (IPv4) prefix field into the family's set of `sets`.
std::optional<WireError> decode_classic(std::span<const uint8_t> field, bool add_path,
                                        std::vector<NlriSet>& sets, const char* what) {
  if (field.empty()) return std::nullopt;
  NlriSet& set = sets.emplace_back();
  set.family = kIpv4Unicast;
  auto r = decode_prefixes(field, Afi::Ipv4, add_path, set.prefixes);
  if (!r) {
    WireError e = r.error();
    e.reason = std::string(what) + ": " + e.reason;
    return e;
  }
  return std::nullopt;
}

size_t prefix_wire_size(const Prefix& p) { return 1 + (static_cast<size_t>(p.len) + 7) / 8; }

}  // namespace

Result<UpdateSections> split_update(std::span<const uint8_t> body) {
  detail::Reader r(body);
  uint16_t wlen = 0, alen = 0;
  UpdateSections s;
  if (!r.u16(wlen)) return malformed_list("UPDATE shorter than 4 octets");
  if (!r.take(wlen, s.withdrawn))
    return malformed_list("withdrawn routes length " + std::to_string(wlen) + " overruns the UPDATE");
  if (!r.u16(alen)) return malformed_list("UPDATE truncated before the total path attribute length");
  if (!r.take(alen, s.attributes))
    return malformed_list("total path attribute length " + std::to_string(alen) +
                          " overruns the UPDATE");
  s.nlri = r.rest();
  return s;
}

Result<Update> decode_update(std::span<const uint8_t> body, const CodecOptions& opts) {
  auto split = split_update(body);
  if (!split) return split.error();
  const UpdateSections& s = split.value();

  Update u;
  // RFC 7606 §5.3: a syntactically wrong prefix field cannot be isolated: session reset.
  if (auto e = decode_classic(s.withdrawn, opts.add_path_rx_ipv4, u.withdrawn, "withdrawn routes"))
    return std::move(*e);
  if (auto e = decode_classic(s.nlri, opts.add_path_rx_ipv4, u.announced, "NLRI"))
    return std::move(*e);

  detail::AttributeContext ctx;
  ctx.ipv4_nlri_present = !s.nlri.empty();
  ctx.classic_fields_empty = s.withdrawn.empty() && s.nlri.empty();
  if (!s.attributes.empty()) {
    if (auto e = detail::decode_attribute_section(s.attributes, opts, ctx, u)) return std::move(*e);
  } else if (ctx.ipv4_nlri_present) {
    // No attributes at all: the mandatory ones are missing.
    u.treat_as_withdraw = true;
    u.treat_as_withdraw_subcode = err::kMissingWellKnownAttribute;
    u.treat_as_withdraw_reason = "missing well-known attribute ORIGIN (no path attributes)";
  }
  if (ctx.classic_fields_empty && s.attributes.empty()) u.end_of_rib = kIpv4Unicast;
  return u;
}

Result<Update> decode_attributes(std::span<const uint8_t> attributes, const CodecOptions& opts,
                                 bool ipv4_nlri_present) {
  Update u;
  detail::AttributeContext ctx;
  ctx.ipv4_nlri_present = ipv4_nlri_present;
  ctx.classic_fields_empty = !ipv4_nlri_present;
  if (auto e = detail::decode_attribute_section(attributes, opts, ctx, u)) return std::move(*e);
  if (ipv4_nlri_present && attributes.empty()) {
    u.treat_as_withdraw = true;
    u.treat_as_withdraw_subcode = err::kMissingWellKnownAttribute;
    u.treat_as_withdraw_reason = "missing well-known attribute ORIGIN (no path attributes)";
  }
  return u;
}

Result<Update> decode_attributes(std::span<const uint8_t> attributes, const CodecOptions& opts) {
  return decode_attributes(attributes, opts, false);
}

// ---- encoding ----

namespace {

// Writes the UPDATE header fields up to (and including) an empty withdrawn routes length
// and a placeholder total path attribute length; returns the message start.
size_t begin_update(std::vector<uint8_t>& m) {
  const size_t at = detail::begin_message(m, kUpdateType);
  detail::put_u16(m, 0);  // withdrawn routes length
  detail::put_u16(m, 0);  // total path attribute length (patched)
  return at;
}

// MP attribute header with a 2-octet length placeholder; returns where its value starts.
size_t begin_mp_attr(std::vector<uint8_t>& m, uint8_t type) {
  m.push_back(attr::kFlagOptional | attr::kFlagExtendedLength);
  m.push_back(type);
  detail::put_u16(m, 0);
  return m.size();
}

// Patches the MP attribute length, shrinking to a 1-octet length when it fits.
void end_mp_attr(std::vector<uint8_t>& m, size_t value_at) {
  const size_t len = m.size() - value_at;
  if (len <= 255) {
    m[value_at - 4] = attr::kFlagOptional;
    m[value_at - 2] = static_cast<uint8_t>(len);
    m.erase(m.begin() + static_cast<std::ptrdiff_t>(value_at - 1));
  } else {
    detail::store_u16(m.data() + value_at - 2, static_cast<uint16_t>(len));
  }
}

void put_ipv6(std::vector<uint8_t>& m, const IpAddr& a) {
  if (a.is_v6()) {
    detail::put_bytes(m, a.bytes.data(), 16);
    return;
  }
  // An IPv4 next hop for IPv6 NLRI: IPv4-mapped IPv6 address.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  detail::put_bytes(m, kMapped, 12);
  detail::put_bytes(m, a.bytes.data(), 4);
}

size_t reserve_for(size_t max, size_t fixed, size_t remaining, size_t per_prefix) {
  return std::min(max, fixed + remaining * per_prefix);
}

}  // namespace

std::vector<std::vector<uint8_t>> encode_announcements(const PathAttributes& attrs, Family family,
                                                       std::span<const Prefix> prefixes,
                                                       const CodecOptions& opts) {
  std::vector<std::vector<uint8_t>> msgs;
  const size_t max = opts.max_message_size();
  const bool classic = family == kIpv4Unicast;
  std::vector<uint8_t> attr_bytes;
  attr_bytes.reserve(128);
  detail::encode_attributes_impl(attrs, opts, classic, attr_bytes);

  // MP_REACH_NLRI next hop (global, + link-local for IPv6 when known).
  std::vector<uint8_t> mp_fixed;
  if (!classic) {
    detail::put_u16(mp_fixed, static_cast<uint16_t>(family.afi));
    detail::put_u8(mp_fixed, static_cast<uint8_t>(family.safi));
    if (family.afi == Afi::Ipv4) {
      detail::put_u8(mp_fixed, 4);
      const IpAddr nh = attrs.next_hop && attrs.next_hop->is_v4() ? *attrs.next_hop : IpAddr{};
      detail::put_bytes(mp_fixed, nh.bytes.data(), 4);
    } else {
      const bool ll = attrs.next_hop_link_local.has_value() && attrs.next_hop_link_local->is_v6();
      detail::put_u8(mp_fixed, ll ? 32 : 16);
      put_ipv6(mp_fixed, attrs.next_hop ? *attrs.next_hop : IpAddr{Afi::Ipv6, {}});
      if (ll) put_ipv6(mp_fixed, *attrs.next_hop_link_local);
    }
    detail::put_u8(mp_fixed, 0);  // reserved
  }
  // Octets of a message before the first prefix.
  const size_t fixed = kHeaderLen + 4 + attr_bytes.size() + (classic ? 0 : 4 + mp_fixed.size());
  const size_t per_prefix = family.afi == Afi::Ipv4 ? 5 : 17;
  if (fixed + per_prefix > max) return msgs;  // attributes alone do not fit a message

  size_t i = 0;
  const size_t n = prefixes.size();
  while (i < n) {
    std::vector<uint8_t> m;
    m.reserve(reserve_for(max, fixed, n - i, per_prefix));
    const size_t at = begin_update(m);
    const size_t attrs_at = m.size();
    size_t mp_value_at = 0;
    if (classic) {
      detail::put_bytes(m, attr_bytes.data(), attr_bytes.size());
    } else {
      // MP_REACH_NLRI first (RFC 7606 §5.1), then the other attributes.
      mp_value_at = begin_mp_attr(m, attr::kMpReach);
      detail::put_bytes(m, mp_fixed.data(), mp_fixed.size());
    }
    // Room for prefixes: the attributes that follow MP_REACH still have to fit.
    const size_t limit = classic ? max : max - attr_bytes.size();
    size_t emitted = 0;
    for (; i < n; ++i) {
      const Prefix& p = prefixes[i];
      if (p.afi() != family.afi) continue;  // not of this family: skipped
      if (m.size() + prefix_wire_size(p) > limit) break;
      encode_prefix(p, m);
      ++emitted;
    }
    if (emitted == 0) break;  // only foreign prefixes were left
    if (!classic) {
      end_mp_attr(m, mp_value_at);
      detail::put_bytes(m, attr_bytes.data(), attr_bytes.size());
    }
    const size_t attr_len = classic ? attr_bytes.size() : m.size() - attrs_at;
    detail::store_u16(m.data() + attrs_at - 2, static_cast<uint16_t>(attr_len));
    detail::end_message(m, at);
    msgs.push_back(std::move(m));
  }
  return msgs;
}

std::vector<std::vector<uint8_t>> encode_withdrawals(Family family,
                                                     std::span<const Prefix> prefixes,
                                                     const CodecOptions& opts) {
  std::vector<std::vector<uint8_t>> msgs;
  const size_t max = opts.max_message_size();
  const bool classic = family == kIpv4Unicast;
  const size_t per_prefix = family.afi == Afi::Ipv4 ? 5 : 17;
  const size_t fixed = kHeaderLen + 4 + (classic ? 0 : 4 + 3);
  size_t i = 0;
  const size_t n = prefixes.size();
  while (i < n) {
    std::vector<uint8_t> m;
    m.reserve(reserve_for(max, fixed, n - i, per_prefix));
    const size_t at = detail::begin_message(m, kUpdateType);
    size_t emitted = 0;
    if (classic) {
      detail::put_u16(m, 0);  // withdrawn routes length (patched)
      const size_t wd_at = m.size();
      for (; i < n; ++i) {
        const Prefix& p = prefixes[i];
        if (p.afi() != family.afi) continue;
        if (m.size() + prefix_wire_size(p) + 2 > max) break;  // + total attribute length
        encode_prefix(p, m);
        ++emitted;
      }
      detail::store_u16(m.data() + wd_at - 2, static_cast<uint16_t>(m.size() - wd_at));
      detail::put_u16(m, 0);
    } else {
      detail::put_u16(m, 0);
      detail::put_u16(m, 0);  // total path attribute length (patched)
      const size_t attrs_at = m.size();
      const size_t value_at = begin_mp_attr(m, attr::kMpUnreach);
      detail::put_u16(m, static_cast<uint16_t>(family.afi));
      detail::put_u8(m, static_cast<uint8_t>(family.safi));
      for (; i < n; ++i) {
        const Prefix& p = prefixes[i];
        if (p.afi() != family.afi) continue;
        if (m.size() + prefix_wire_size(p) > max) break;
        encode_prefix(p, m);
        ++emitted;
      }
      end_mp_attr(m, value_at);
      detail::store_u16(m.data() + attrs_at - 2, static_cast<uint16_t>(m.size() - attrs_at));
    }
    if (emitted == 0) break;  // only foreign prefixes were left
    detail::end_message(m, at);
    msgs.push_back(std::move(m));
  }
  return msgs;
}

std::vector<uint8_t> encode_end_of_rib(Family family) {
  std::vector<uint8_t> m;
  m.reserve(kHeaderLen + 10);
  const size_t at = detail::begin_message(m, kUpdateType);
  detail::put_u16(m, 0);
  if (family == kIpv4Unicast) {
    detail::put_u16(m, 0);
  } else {
    detail::put_u16(m, 6);
    detail::put_u8(m, attr::kFlagOptional);
    detail::put_u8(m, attr::kMpUnreach);
    detail::put_u8(m, 3);
    detail::put_u16(m, static_cast<uint16_t>(family.afi));
    detail::put_u8(m, static_cast<uint8_t>(family.safi));
  }
  detail::end_message(m, at);
  return m;
}

}  // namespace tandem::wire
