// After an unplanned takeover: the sessions carried on at the end of the inbound bytes
// this node held although the peer had sent more (the probe saw its snd_nxt ahead).
// Those bytes were either still in flight, never acknowledged (the peer sends them
// again, to this node now: the session is whole), or acknowledged by the failed
// primary's kernel before it stopped (the peer never sends them again: the session
// cannot go on). The first byte this node's socket receives in order tells the two
// apart; a session that shows none within the wait is reset from its own socket (RST)
// and takes the graceful-restart path. No byte past the hole is ever delivered before
// the hole is filled, so nothing corrupt reaches the session meanwhile.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "bgpd/session/speaker.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::replicator {

struct ResendWait {
  wire::IpAddr peer;
  uint32_t missing = 0;  // bytes the peer had sent beyond what this node held
};

class ResendWatch : public std::enable_shared_from_this<ResendWatch> {
 public:
  // Watches `sessions` (live, just promoted) every 10 ms for up to `wait`; keeps itself
  // alive until each is decided. The speaker must outlive it (the daemon's does).
  static void start(session::Speaker& speaker, std::vector<ResendWait> sessions, std::chrono::milliseconds wait);

  struct Private {};
  ResendWatch(Private, session::Speaker& speaker, std::vector<ResendWait> sessions, std::chrono::milliseconds wait);

 private:
  void tick();
  bool decided(const ResendWait& s, std::chrono::steady_clock::time_point now);  // true: done with it

  session::Speaker& speaker_;
  std::vector<ResendWait> waiting_;
  std::chrono::milliseconds wait_;
  std::chrono::steady_clock::time_point started_;
  boost::asio::steady_timer timer_;
};

}  // namespace tandem::replicator
