// Reports when the event loop did not run for a while: a timer due every kTick that
// fires more than kReportAfter late means no handler could run meanwhile (one handler
// ran that long, or the process was stopped or starved of CPU). Everything waits then:
// BGP keepalives, the replication channel (its other end declares this node dead after
// [ha] channel_dead_ms of silence) and the takeover's timers. Logged so that such a gap is
// never a mystery in the logs.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace tandem::app {

class LoopWatch {
 public:
  static constexpr std::chrono::milliseconds kTick{100};
  static constexpr std::chrono::milliseconds kReportAfter{500};

  explicit LoopWatch(boost::asio::io_context& io);
  ~LoopWatch();
  void start();

  uint64_t gaps() const { return gaps_; }
  std::chrono::milliseconds longest_gap() const { return longest_; }

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point due_{};
  uint64_t gaps_ = 0;
  std::chrono::milliseconds longest_{0};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::app
