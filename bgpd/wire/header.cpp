// Message header framing (RFC 4271 §4.1, §6.1; RFC 8654 for the length limits).
#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::wire {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::Open: return "OPEN";
    case MessageType::Update: return "UPDATE";
    case MessageType::Notification: return "NOTIFICATION";
    case MessageType::Keepalive: return "KEEPALIVE";
    case MessageType::RouteRefresh: return "ROUTE-REFRESH";
  }
  return "UNKNOWN";
}

namespace {
WireError bad_length(uint16_t len, std::string reason) {
  return detail::session_reset(err::kHeader, err::kBadMessageLength, std::move(reason),
                               {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
}
}  // namespace

Result<Header> decode_header(std::span<const uint8_t> bytes, size_t max_len) {
  if (bytes.size() < kHeaderLen)
    return detail::session_reset(err::kHeader, err::kBadMessageLength,
                                 "header shorter than 19 octets");
  for (size_t i = 0; i < 16; ++i) {
    if (bytes[i] != 0xFF)
      return detail::session_reset(err::kHeader, err::kConnectionNotSynchronized,
                                   "marker is not all ones");
  }
  Header h;
  h.length = detail::load_u16(bytes.data() + 16);
  const uint8_t type = bytes[18];
  if (type < 1 || type > 5)
    return detail::session_reset(err::kHeader, err::kBadMessageType,
                                 "unknown message type " + std::to_string(type), {type});
  h.type = static_cast<MessageType>(type);
  if (h.length < kHeaderLen || h.length > max_len)
    return bad_length(h.length, "message length " + std::to_string(h.length) + " out of range");
  size_t min = kHeaderLen, max = max_len;
  switch (h.type) {
    case MessageType::Open: min = 29; max = std::min(max_len, kMaxMessageLen); break;  // RFC 8654 §4
    case MessageType::Update: min = 23; break;
    case MessageType::Notification: min = 21; break;
    case MessageType::Keepalive: max = kHeaderLen; break;
    // RFC 7313 §5: a ROUTE-REFRESH of the wrong length gets its own error
    // (decode_route_refresh), not a header error.
    case MessageType::RouteRefresh: break;
  }
  if (h.length < min || h.length > max)
    return bad_length(h.length, std::string("bad length ") + std::to_string(h.length) + " for " +
                                    to_string(h.type));
  return h;
}

std::vector<uint8_t> encode_keepalive() {
  std::vector<uint8_t> out;
  out.reserve(kHeaderLen);
  const size_t at = detail::begin_message(out, static_cast<uint8_t>(MessageType::Keepalive));
  detail::end_message(out, at);
  return out;
}

}  // namespace tandem::wire
