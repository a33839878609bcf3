#include "apps/tandemd/memory_watch.hpp"

#include <spdlog/spdlog.h>

#include "bgpd/session/memory_usage.hpp"

namespace tandem::app {

MemoryWatch::MemoryWatch(boost::asio::io_context& io, const session::Speaker& speaker)
    : timer_(io), speaker_(speaker) {}

MemoryWatch::~MemoryWatch() { *alive_ = false; }

void MemoryWatch::start() {
  if (speaker_.config().memory_budget_mb == 0) return;
  spdlog::info("memory: budget {} MiB; {}", speaker_.config().memory_budget_mb,
               session::measure_memory(speaker_).describe());
  arm();
}

void MemoryWatch::arm() {
  timer_.expires_after(std::chrono::seconds(10));
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    check();
    arm();
  });
}

void MemoryWatch::check() {
  const auto m = session::measure_memory(speaker_);
  const auto now = std::chrono::steady_clock::now();
  if (m.over_budget()) {
    if (!over_ || now - last_warning_ >= std::chrono::minutes(1)) {
      spdlog::warn("memory: over the budget: {}", m.describe());
      last_warning_ = now;
    }
    over_ = true;
  } else if (over_ && m.budget_bytes != 0) {
    spdlog::info("memory: back within the budget: {}", m.describe());
    over_ = false;
  }
}

}  // namespace tandem::app
