// Whole BGP messages, each with the stream offset of its first byte, out of one
// direction of a tapped connection (session::SessionTap hands bytes over in arbitrary
// chunks). Framing may start mid-connection at a known message boundary. The header
// checks are mrt::MessageFramer's; a gap in the offsets or a bad header stops it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "bgpd/mrt/framer.hpp"

namespace tandem::capture {

class StreamFramer {
 public:
  // Start at `boundary` (a message boundary); `pending`: bytes already past it that are
  // not a whole message yet (they are framed with what follows).
  void start(uint64_t boundary, std::span<const uint8_t> pending = {}) {
    framer_ = mrt::MessageFramer();
    next_ = boundary;
    end_ = boundary;
    running_ = true;
    feed(boundary, pending, [](uint64_t, std::span<const uint8_t>) {});
  }
  void stop() { running_ = false; }
  bool running() const { return running_; }
  uint64_t end() const { return end_; }  // stream position after everything fed

  // `bytes` at stream offset `offset`; calls fn(uint64_t offset, span message) per
  // whole message. False (and stopped) on a gap or an invalid header.
  template <class Fn>
  bool feed(uint64_t offset, std::span<const uint8_t> bytes, Fn&& fn) {
    if (!running_) return false;
    if (offset != end_) return fail();
    end_ += bytes.size();
    bool ok = framer_.feed(bytes, [&](std::span<const uint8_t> msg) {
      fn(next_, msg);
      next_ += msg.size();
    });
    return ok ? true : fail();
  }

 private:
  bool fail() {
    running_ = false;
    return false;
  }
  mrt::MessageFramer framer_;
  uint64_t next_ = 0;  // offset of the next message's first byte
  uint64_t end_ = 0;
  bool running_ = false;
};

}  // namespace tandem::capture
