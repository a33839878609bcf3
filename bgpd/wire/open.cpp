// OPEN message (RFC 4271 §4.2, RFC 9072 extended optional parameters length).
#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/internal.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::wire {

Result<Open> decode_open(std::span<const uint8_t> body) {
  detail::Reader r(body);
  Open o;
  uint8_t opt_len = 0;
  if (!r.u8(o.version) || !r.u16(o.my_as) || !r.u16(o.hold_time) || !r.u32(o.bgp_id) ||
      !r.u8(opt_len))
    return detail::session_reset(err::kHeader, err::kBadMessageLength, "OPEN shorter than 10 octets",
                                 {static_cast<uint8_t>((body.size() + kHeaderLen) >> 8),
                                  static_cast<uint8_t>(body.size() + kHeaderLen)});
  if (o.version != 4)
    return detail::session_reset(err::kOpen, err::kUnsupportedVersion,
                                 "unsupported BGP version " + std::to_string(o.version), {0, 4});
  bool extended = false;
  size_t params_len = opt_len;
  // RFC 9072 §2: length 255 followed by parameter type 255 announces the extended form.
  if (opt_len == 255 && r.remaining() >= 3 && r.data()[0] == 255) {
    uint8_t marker = 0;
    uint16_t ext_len = 0;
    (void)r.u8(marker);
    (void)r.u16(ext_len);
    extended = true;
    params_len = ext_len;
  }
  if (params_len != r.remaining())
    return detail::session_reset(err::kOpen, 0,
                                 "optional parameters length " + std::to_string(params_len) +
                                     " does not match the OPEN body (" +
                                     std::to_string(r.remaining()) + " octets left)");
  auto caps = decode_capabilities(r.rest(), extended);
  if (!caps) return caps.error();
  o.caps = std::move(caps.value());
  if (o.hold_time == 1 || o.hold_time == 2)
    return detail::session_reset(err::kOpen, err::kUnacceptableHoldTime,
                                 "hold time " + std::to_string(o.hold_time) + " is below 3 seconds");
  if (o.bgp_id == 0)
    return detail::session_reset(err::kOpen, err::kBadBgpIdentifier, "BGP identifier is 0");
  // RFC 7607: AS 0 is never a valid peer AS.
  if (o.my_as == 0 || (o.caps.four_octet_as && *o.caps.four_octet_as == 0))
    return detail::session_reset(err::kOpen, err::kBadPeerAs, "peer AS is 0");
  return o;
}

std::vector<uint8_t> encode_open(const Open& open) {
  uint16_t my_as = open.my_as;
  if (open.caps.four_octet_as) {
    const uint32_t asn = *open.caps.four_octet_as;
    if (asn > 0xFFFF)
      my_as = static_cast<uint16_t>(kAsTrans);
    else if (my_as == 0)
      my_as = static_cast<uint16_t>(asn);
  }
  std::vector<uint8_t> caps;
  detail::encode_capability_list(open.caps, caps);
  std::vector<uint8_t> params;
  const bool all_fit = detail::wrap_capability_params(caps, false, params);
  const bool extended = !all_fit || params.size() > 255;
  if (extended) {
    params.clear();
    detail::wrap_capability_params(caps, true, params);
  }

  std::vector<uint8_t> out;
  out.reserve(kHeaderLen + 10 + 3 + params.size());
  const size_t at = detail::begin_message(out, static_cast<uint8_t>(MessageType::Open));
  detail::put_u8(out, open.version);
  detail::put_u16(out, my_as);
  detail::put_u16(out, open.hold_time);
  detail::put_u32(out, open.bgp_id);
  if (extended) {
    detail::put_u8(out, 255);
    detail::put_u8(out, 255);
    detail::put_u16(out, static_cast<uint16_t>(params.size()));
  } else {
    detail::put_u8(out, static_cast<uint8_t>(params.size()));
  }
  detail::put_bytes(out, params.data(), params.size());
  detail::end_message(out, at);
  return out;
}

}  // namespace tandem::wire
