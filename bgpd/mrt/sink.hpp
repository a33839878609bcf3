// An output file, optionally compressed. Opened in append mode: reopening the same
// name (a pattern without the rotation's time fields, or a restart) appends a new
// gzip member / bzip2 stream instead of truncating what is there.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "bgpd/mrt/byte_source.hpp"

namespace tandem::mrt {

class Sink {
 public:
  virtual ~Sink() = default;
  // false on error (see error()).
  virtual bool write(std::span<const uint8_t> bytes) = 0;
  // Pushes buffered bytes to the OS (gzip: a sync flush; bzip2 cannot flush a block).
  virtual bool flush() = 0;
  // Finishes the stream and closes the file; false on error.
  virtual bool close() = 0;
  const std::string& error() const { return error_; }

 protected:
  std::string error_;
};

// nullptr with `error` set when the file cannot be opened.
std::unique_ptr<Sink> open_sink(const std::string& path, Compression c, std::string& error);

}  // namespace tandem::mrt
