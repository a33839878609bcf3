// The end of a connection's outbound byte stream that the peer may not have
// acknowledged yet: what a standby must hold to resend it after a takeover. The
// kernel's send queue holds these bytes too, but it can only be read in repair mode,
// which disturbs a live socket; so the connection keeps its own copy of every byte it
// hands on, and drops the front as the peer acknowledges it (SIOCOUTQ).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace tandem::session {

class SentTail {
 public:
  // At most `limit` bytes are kept: beyond it the oldest are dropped (start() moves
  // on), and a takeover that needs them falls back to graceful restart.
  explicit SentTail(size_t limit = kDefaultLimit) : limit_(limit) {}

  // Bytes at stream offset `offset`. A jump (offset != end()) starts the tail afresh.
  void append(uint64_t offset, std::span<const uint8_t> bytes);
  // The peer acknowledged everything before `acked`.
  void trim(uint64_t acked);
  void clear() { chunks_.clear(), front_used_ = size_ = 0, start_ = end_ = 0; }

  uint64_t start() const { return start_; }
  uint64_t end() const { return end_; }
  size_t size() const { return size_; }
  // The bytes [max(from, start()), end()).
  std::vector<uint8_t> from(uint64_t from) const;

  static constexpr size_t kDefaultLimit = 8u << 20;  // well under the channel's 16 MiB frame

 private:
  void drop_front(size_t n);

  size_t limit_;
  std::deque<std::vector<uint8_t>> chunks_;
  size_t front_used_ = 0;  // bytes of chunks_.front() already dropped
  size_t size_ = 0;
  uint64_t start_ = 0, end_ = 0;
};

}  // namespace tandem::session
