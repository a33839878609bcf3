// Errors of the MRT reader are values: a reason and the byte offset of the record (in
// the decompressed stream) it concerns. Nothing in bgpd/mrt throws on input.
#pragma once

#include <cstdint>
#include <string>

#include "bgpd/wire/result.hpp"

namespace tandem::mrt {

struct MrtError {
  uint64_t offset = 0;  // of the record's header in the (decompressed) stream
  std::string reason;
  // The framing is lost (truncated/oversized record, I/O or decompression error): the
  // reader cannot go on. A non-fatal error concerns one record; the next one follows.
  bool fatal = false;
  std::string to_string() const { return "offset " + std::to_string(offset) + ": " + reason; }
};

template <class T>
using Result = wire::Result<T, MrtError>;

}  // namespace tandem::mrt
