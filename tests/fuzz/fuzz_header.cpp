// Fuzz message framing: decode_header, then the body decoder its type selects.
// Byte 0 selects the maximum message length (4096 or 65535).
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/wire/message.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max_len = (data[0] & 1) ? kMaxExtendedMessageLen : kMaxMessageLen;
  std::span<const uint8_t> msg(data + 1, size - 1);
  auto h = decode_header(msg, max_len);
  if (!h.ok()) {
    FUZZ_CHECK(h.error().action == ErrorAction::SessionReset);
    FUZZ_CHECK(!h.error().reason.empty());
    return 0;
  }
  FUZZ_CHECK(h->length >= kHeaderLen && h->length <= max_len);
  if (msg.size() < h->length) return 0;
  const auto body = msg.subspan(kHeaderLen, h->length - kHeaderLen);
  CodecOptions opts;
  opts.extended_message = max_len == kMaxExtendedMessageLen;
  switch (h->type) {
    case MessageType::Open: (void)decode_open(body); break;
    case MessageType::Update: (void)decode_update(body, opts); break;
    case MessageType::Notification: {
      auto n = decode_notification(body);
      if (n.ok()) (void)n->describe();
      break;
    }
    case MessageType::Keepalive: FUZZ_CHECK(body.empty()); break;
    case MessageType::RouteRefresh: (void)decode_route_refresh(body); break;
  }
  return 0;
}
