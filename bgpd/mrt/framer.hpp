// Splitting a TCP byte stream into whole BGP messages, for recording from a byte tap
// (session::SessionTap sees bytes in arbitrary chunks). One framer per connection and
// direction. Only the header is checked (marker, 19 <= length <= max); the FSM does the
// real validation, and a stream the framer rejects is one the FSM closes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tandem::mrt {

class MessageFramer {
 public:
  explicit MessageFramer(size_t max_len = 65535) : max_len_(max_len) {}

  // Calls fn(std::span<const uint8_t> message) per complete message (header included).
  // Returns false, and ignores everything from then on, once a header is invalid.
  template <class Fn>
  bool feed(std::span<const uint8_t> bytes, Fn&& fn) {
    if (broken_) return false;
    size_t pos = 0;
    // Complete a message begun in an earlier chunk.
    if (!pending_.empty()) {
      pos = top_up(bytes);
      if (broken_) return false;
      if (pending_.size() < kHeader || pending_.size() < want_) return true;
      fn(std::span<const uint8_t>(pending_));
      pending_.clear();
      want_ = 0;
    }
    // Whole messages straight from the chunk, without copying.
    while (bytes.size() - pos >= kHeader) {
      const size_t len = check(bytes.data() + pos);
      if (len == 0) return false;
      if (bytes.size() - pos < len) break;
      fn(bytes.subspan(pos, len));
      pos += len;
    }
    pending_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos), bytes.end());
    want_ = pending_.size() >= kHeader ? check(pending_.data()) : 0;
    return !broken_;
  }
  bool broken() const { return broken_; }
  size_t buffered() const { return pending_.size(); }

 private:
  static constexpr size_t kHeader = 19;
  // The message length from a header, 0 (and broken) when invalid.
  size_t check(const uint8_t* h) {
    for (size_t i = 0; i < 16; ++i)
      if (h[i] != 0xFF) return fail();
    const size_t len = (size_t{h[16]} << 8) | h[17];
    if (len < kHeader || len > max_len_) return fail();
    return len;
  }
  size_t fail() {
    broken_ = true;
    pending_.clear();
    return 0;
  }
  // Appends to pending_ up to the end of its message; returns the bytes consumed.
  size_t top_up(std::span<const uint8_t> bytes) {
    size_t used = 0;
    if (pending_.size() < kHeader) {
      used = std::min(kHeader - pending_.size(), bytes.size());
      pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(used));
      if (pending_.size() < kHeader) return used;
      want_ = check(pending_.data());
      if (broken_) return used;
    }
    const size_t more = std::min(want_ - pending_.size(), bytes.size() - used);
    pending_.insert(pending_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(used),
                    bytes.begin() + static_cast<std::ptrdiff_t>(used + more));
    return used + more;
  }

  size_t max_len_;
  std::vector<uint8_t> pending_;
  size_t want_ = 0;
  bool broken_ = false;
};

}  // namespace tandem::mrt
