// Fuzz decode_capabilities (byte 0 bit 0: RFC 9072 extended parameter lengths); decoded
// capabilities must survive encode -> decode unchanged.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/wire/capabilities.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool extended = (data[0] & 1) != 0;
  auto r = decode_capabilities(std::span<const uint8_t>(data + 1, size - 1), extended);
  if (!r.ok()) {
    FUZZ_CHECK(r.error().action == ErrorAction::SessionReset);
    FUZZ_CHECK(r.error().code == tandem::wire::err::kOpen);
    FUZZ_CHECK(!r.error().reason.empty());
    return 0;
  }
  auto bytes = encode_capabilities(r.value());
  auto again = decode_capabilities(bytes, false);
  FUZZ_CHECK(again.ok());
  // A capability of more than 253 value octets does not fit a classic (1-octet length)
  // optional parameter and is left out by encode_capabilities.
  bool fits = true;
  for (const auto& u : r->unknown) fits = fits && u.value.size() <= 253;
  if (fits) FUZZ_CHECK(again.value() == r.value());
  return 0;
}
