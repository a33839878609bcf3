// Fuzz decode_notification (input = body); encode must give the same bytes back.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <span>
#include <string_view>

#include "bgpd/wire/message.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> body(data, size);
  auto r = decode_notification(body);
  if (!r.ok()) {
    FUZZ_CHECK(size < 2);
    return 0;
  }
  (void)r->describe();
  (void)describe_error_code(r->code, r->subcode);
  if (size + kHeaderLen <= kMaxExtendedMessageLen) {
    auto bytes = encode_notification(r.value());
    FUZZ_CHECK(bytes.size() == size + kHeaderLen);
    for (size_t i = 0; i < size; ++i) FUZZ_CHECK(bytes[kHeaderLen + i] == data[i]);
  }
  if (size > 2) {
    std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
    auto n = make_shutdown_notification(data[1], text);
    FUZZ_CHECK(n.data.size() <= 256);
    FUZZ_CHECK(n.data.size() >= std::min<size_t>(text.size(), 252) + 1);
    FUZZ_CHECK(n.data[0] + size_t{1} == n.data.size());
    (void)n.describe();
  }
  return 0;
}
