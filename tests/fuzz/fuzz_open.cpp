// Fuzz decode_open (input = OPEN body); a decoded OPEN must survive encode -> decode.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/wire/message.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = decode_open(std::span<const uint8_t>(data, size));
  if (!r.ok()) {
    FUZZ_CHECK(r.error().action == ErrorAction::SessionReset);
    FUZZ_CHECK(!r.error().reason.empty());
    return 0;
  }
  const Open& o = r.value();
  auto bytes = encode_open(o);
  auto h = decode_header(bytes, kMaxExtendedMessageLen);
  FUZZ_CHECK(h.ok() || bytes.size() > kMaxMessageLen);
  auto again = decode_open(std::span<const uint8_t>(bytes).subspan(kHeaderLen));
  FUZZ_CHECK(again.ok());
  Open expected = o;
  if (o.caps.four_octet_as && *o.caps.four_octet_as > 0xFFFF) expected.my_as = static_cast<uint16_t>(kAsTrans);
  FUZZ_CHECK(again.value() == expected);
  return 0;
}
