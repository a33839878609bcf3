#include "bgpd/session/sent_tail.hpp"

#include <algorithm>

namespace tandem::session {

void SentTail::append(uint64_t offset, std::span<const uint8_t> bytes) {
  if (offset != end_ || size_ == 0) {
    chunks_.clear();
    front_used_ = size_ = 0;
    start_ = end_ = offset;
  }
  if (bytes.empty()) return;
  chunks_.emplace_back(bytes.begin(), bytes.end());
  size_ += bytes.size();
  end_ += bytes.size();
  if (size_ > limit_) drop_front(size_ - limit_);
}

void SentTail::trim(uint64_t acked) {
  if (acked <= start_) return;
  drop_front(static_cast<size_t>(std::min<uint64_t>(acked, end_) - start_));
  if (acked > end_) start_ = end_ = acked;  // nothing held: the next append starts there
}

void SentTail::drop_front(size_t n) {
  start_ += n;
  size_ -= n;
  while (n > 0) {
    const size_t left = chunks_.front().size() - front_used_;
    if (n < left) {
      front_used_ += n;
      return;
    }
    n -= left;
    chunks_.pop_front();
    front_used_ = 0;
  }
}

std::vector<uint8_t> SentTail::from(uint64_t from) const {
  std::vector<uint8_t> out;
  if (from >= end_) return out;
  size_t skip = from > start_ ? static_cast<size_t>(from - start_) : 0;
  out.reserve(size_ - skip);
  size_t used = front_used_;
  for (const auto& c : chunks_) {
    size_t avail = c.size() - used;
    if (skip >= avail) {
      skip -= avail;
    } else {
      out.insert(out.end(), c.begin() + static_cast<std::ptrdiff_t>(used + skip), c.end());
      skip = 0;
    }
    used = 0;
  }
  return out;
}

}  // namespace tandem::session
