// Decoding MRT records from memory. Never throws or aborts on input: every fault is an
// MrtError with the record's offset and a reason.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bgpd/mrt/constants.hpp"
#include "bgpd/mrt/error.hpp"
#include "bgpd/mrt/records.hpp"

namespace tandem::mrt {

struct RecordHeader {
  uint32_t timestamp = 0;
  uint16_t type = 0;
  uint16_t subtype = 0;
  uint32_t length = 0;  // body length, after the 12-byte header
};

// `bytes` must hold at least kHeaderLen bytes. Fails (fatally) when length > max_len.
Result<RecordHeader> decode_header(std::span<const uint8_t> bytes, uint64_t offset,
                                   size_t max_len = kMaxRecordLen);

// Decodes record bodies. Keeps what later records depend on: the size of the last
// PEER_INDEX_TABLE, against which RIB entries' peer indexes are checked.
class RecordDecoder {
 public:
  // body: the header.length bytes after the header.
  Result<Record> decode(const RecordHeader& header, std::span<const uint8_t> body,
                        uint64_t offset);
  std::optional<size_t> peer_count() const { return peer_count_; }

 private:
  std::optional<size_t> peer_count_;
};

// Iterates the records of an in-memory MRT stream (already decompressed).
class MemoryReader {
 public:
  explicit MemoryReader(std::span<const uint8_t> bytes, size_t max_len = kMaxRecordLen)
      : bytes_(bytes), max_len_(max_len) {}
  // nullopt at the end (or after a fatal error); a non-fatal error is returned for one
  // record and the next call continues after it.
  std::optional<Result<Record>> next();
  uint64_t offset() const { return pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t max_len_;
  size_t pos_ = 0;
  bool failed_ = false;
  RecordDecoder decoder_;
};

namespace detail {
// decode_bgp4mp.cpp / decode_table_dump.cpp. They fill rec.body or return a reason.
std::optional<std::string> decode_bgp4mp(std::span<const uint8_t> body, uint16_t subtype,
                                         Record& rec);
std::optional<std::string> decode_table_dump_v2(std::span<const uint8_t> body, uint16_t subtype,
                                                std::optional<size_t>& peer_count, Record& rec);
std::optional<std::string> decode_table_dump(std::span<const uint8_t> body, uint16_t subtype,
                                             Record& rec);
}  // namespace detail

}  // namespace tandem::mrt
