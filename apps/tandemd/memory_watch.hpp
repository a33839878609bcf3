// Checks the memory budget ([global] memory_budget_mb) every 10 s: a warning with the
// breakdown when the resident set goes over it (and every minute while it stays over),
// a note when it is back under. Reporting only: nothing is dropped to get back under.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <memory>

#include "bgpd/session/speaker.hpp"

namespace tandem::app {

class MemoryWatch {
 public:
  MemoryWatch(boost::asio::io_context& io, const session::Speaker& speaker);
  ~MemoryWatch();
  void start();
  void check();  // one check now (also what the timer runs)

 private:
  void arm();
  boost::asio::steady_timer timer_;
  const session::Speaker& speaker_;
  bool over_ = false;
  std::chrono::steady_clock::time_point last_warning_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::app
