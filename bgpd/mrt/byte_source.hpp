// Reading a file's bytes, decompressed: plain, gzip or bzip2, chosen by the file's
// magic bytes (not its name).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bgpd/mrt/error.hpp"

namespace tandem::mrt {

enum class Compression : uint8_t { None, Gzip, Bzip2 };
const char* to_string(Compression c);

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 at the end of the stream. An I/O error or a corrupt or
  // truncated compressed stream is a fatal MrtError (offset filled in by the reader).
  virtual Result<size_t> read(uint8_t* buf, size_t n) = 0;
  virtual Compression compression() const = 0;
};

// Opens `path` and detects its compression (gzip 1f 8b, bzip2 "BZh").
Result<std::unique_ptr<ByteSource>> open_source(const std::string& path);

}  // namespace tandem::mrt
