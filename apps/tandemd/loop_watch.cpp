#include "apps/tandemd/loop_watch.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace tandem::app {

LoopWatch::LoopWatch(boost::asio::io_context& io) : timer_(io) {}

LoopWatch::~LoopWatch() { *alive_ = false; }

void LoopWatch::start() { arm(); }

void LoopWatch::arm() {
  due_ = std::chrono::steady_clock::now() + kTick;
  timer_.expires_at(due_);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    const auto late = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - due_);
    if (late >= kReportAfter) {
      ++gaps_;
      longest_ = std::max(longest_, late);
      spdlog::warn("event loop: nothing ran for {} ms (one handler took that long, or the process was stopped or "
                   "starved): sessions, the replication channel and timers waited meanwhile",
                   late.count() + kTick.count());
    }
    arm();
  });
}

}  // namespace tandem::app
