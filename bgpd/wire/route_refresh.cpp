// ROUTE-REFRESH message (RFC 2918, enhanced route refresh RFC 7313).
#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::wire {

Result<RouteRefresh> decode_route_refresh(std::span<const uint8_t> body) {
  if (body.size() != 4) {
    // RFC 7313 §5: the data field carries the complete ROUTE-REFRESH message.
    std::vector<uint8_t> msg;
    const size_t len = std::min<size_t>(body.size() + kHeaderLen, kMaxExtendedMessageLen);
    msg.reserve(len);
    const size_t at = detail::begin_message(msg, static_cast<uint8_t>(MessageType::RouteRefresh));
    detail::put_bytes(msg, body.data(), len - kHeaderLen);
    detail::end_message(msg, at);
    return detail::session_reset(err::kRouteRefresh, err::kInvalidMessageLength,
                                 "ROUTE-REFRESH body of " + std::to_string(body.size()) +
                                     " octets (expected 4)",
                                 std::move(msg));
  }
  RouteRefresh rr;
  rr.family.afi = static_cast<Afi>(detail::load_u16(body.data()));
  rr.subtype = static_cast<RouteRefresh::Subtype>(body[2]);
  rr.family.safi = static_cast<Safi>(body[3]);
  return rr;
}

std::vector<uint8_t> encode_route_refresh(const RouteRefresh& rr) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderLen + 4);
  const size_t at = detail::begin_message(out, static_cast<uint8_t>(MessageType::RouteRefresh));
  detail::put_u16(out, static_cast<uint16_t>(rr.family.afi));
  detail::put_u8(out, static_cast<uint8_t>(rr.subtype));
  detail::put_u8(out, static_cast<uint8_t>(rr.family.safi));
  detail::end_message(out, at);
  return out;
}

}  // namespace tandem::wire
