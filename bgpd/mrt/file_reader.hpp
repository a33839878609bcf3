// Iterating the records of an MRT file (plain, .gz or .bz2, detected by magic),
// streaming: memory use is one record, whatever the file size.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgpd/mrt/byte_source.hpp"
#include "bgpd/mrt/decode.hpp"

namespace tandem::mrt {

class FileReader {
 public:
  static Result<FileReader> open(const std::string& path, size_t max_len = kMaxRecordLen);

  // The next record; nullopt at the end of the file or after a fatal error. A
  // non-fatal error (one malformed record) is returned and the next call goes on.
  std::optional<Result<Record>> next();
  // Offset of the next record in the decompressed stream.
  uint64_t offset() const { return offset_; }
  Compression compression() const { return source_->compression(); }

 private:
  FileReader(std::unique_ptr<ByteSource> s, size_t max_len)
      : source_(std::move(s)), max_len_(max_len) {}
  // Reads exactly n bytes into buf_ (from `at`); returns how many were read.
  Result<size_t> fill(size_t at, size_t n);

  std::unique_ptr<ByteSource> source_;
  size_t max_len_;
  uint64_t offset_ = 0;
  bool done_ = false;
  std::vector<uint8_t> buf_;
  RecordDecoder decoder_;
};

}  // namespace tandem::mrt
