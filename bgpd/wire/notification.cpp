// NOTIFICATION message (RFC 4271 §4.5) and shutdown communication (RFC 8203/9003).
#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::wire {

namespace {
bool is_shutdown(uint8_t code, uint8_t subcode) {
  return code == err::kCease && (subcode == err::kAdminShutdown || subcode == err::kAdminReset);
}

// Cut `text` to at most `max` bytes without splitting a UTF-8 sequence (a sequence is
// at most 4 octets: never back up more than 3; invalid UTF-8 is cut at `max`).
std::string_view utf8_prefix(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && max - n < 3 && (static_cast<uint8_t>(text[n]) & 0xC0) == 0x80) --n;
  if ((static_cast<uint8_t>(text[n]) & 0xC0) == 0x80) n = max;
  return text.substr(0, n);
}
}  // namespace

std::string Notification::describe() const {
  std::string out = detail::describe_error_code_sep(code, subcode, "/");
  if (data.empty()) return out;
  if (code == err::kCease && subcode == err::kHardReset && data.size() >= 2 &&
      !(data[0] == err::kCease && data[1] == err::kHardReset)) {
    // RFC 8538 §3.1: the data is the NOTIFICATION the Hard Reset wraps (ErrCode, Subcode,
    // Data).
    Notification inner{data[0], data[1], std::vector<uint8_t>(data.begin() + 2, data.end())};
    return out + " (" + inner.describe() + ")";
  }
  if (is_shutdown(code, subcode) && data[0] + size_t{1} <= data.size()) {
    if (data[0] > 0) {
      out += ": ";
      for (size_t i = 1; i <= data[0]; ++i) {
        const char c = static_cast<char>(data[i]);
        out += (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) ? '?' : c;
      }
    }
    return out;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += " (data";
  const size_t n = std::min<size_t>(data.size(), 32);
  for (size_t i = 0; i < n; ++i) {
    out += i == 0 ? ' ' : ':';
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  if (n < data.size()) out += "...";
  out += ')';
  return out;
}

Result<Notification> decode_notification(std::span<const uint8_t> body) {
  if (body.size() < 2) {
    const size_t len = body.size() + kHeaderLen;
    return detail::session_reset(err::kHeader, err::kBadMessageLength,
                                 "NOTIFICATION shorter than 2 octets",
                                 {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
  }
  Notification n;
  n.code = body[0];
  n.subcode = body[1];
  n.data.assign(body.begin() + 2, body.end());
  return n;
}

std::vector<uint8_t> encode_notification(const Notification& n) {
  std::vector<uint8_t> out;
  const size_t data_len = std::min<size_t>(n.data.size(), kMaxExtendedMessageLen - kHeaderLen - 2);
  out.reserve(kHeaderLen + 2 + data_len);
  const size_t at = detail::begin_message(out, static_cast<uint8_t>(MessageType::Notification));
  detail::put_u8(out, n.code);
  detail::put_u8(out, n.subcode);
  detail::put_bytes(out, n.data.data(), data_len);
  detail::end_message(out, at);
  return out;
}

Notification make_shutdown_notification(uint8_t subcode, std::string_view text) {
  Notification n;
  n.code = err::kCease;
  n.subcode = subcode;
  const std::string_view t = utf8_prefix(text, 255);  // RFC 9003 §2: up to 255 octets
  if (!t.empty() || is_shutdown(err::kCease, subcode)) {
    n.data.reserve(1 + t.size());
    n.data.push_back(static_cast<uint8_t>(t.size()));
    n.data.insert(n.data.end(), t.begin(), t.end());
  }
  return n;
}

}  // namespace tandem::wire
