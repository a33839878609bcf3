// Fuzz decode_route_refresh (input = body); a decoded message encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/wire/message.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = decode_route_refresh(std::span<const uint8_t>(data, size));
  if (!r.ok()) {
    FUZZ_CHECK(size != 4);
    FUZZ_CHECK(r.error().code == tandem::wire::err::kRouteRefresh);
    return 0;
  }
  auto bytes = encode_route_refresh(r.value());
  FUZZ_CHECK(bytes.size() == kHeaderLen + 4);
  for (size_t i = 0; i < 4; ++i) FUZZ_CHECK(bytes[kHeaderLen + i] == data[i]);
  return 0;
}
