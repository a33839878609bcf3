#include "bgpd/session/refusal_log.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tandem::session {

RefusalLog::RefusalLog(Sink sink, RefusalLimits limits) : sink_(std::move(sink)), limits_(limits) {}

const char* RefusalLog::reason_text(Reason why) {
  switch (why) {
    case Reason::NotConfigured: return "not a configured peer";
    case Reason::ShuttingDown: return "shutting down";
  }
  return "?";
}

void RefusalLog::emit(Level level, const std::string& line) const {
  if (sink_) sink_(level, line);
  else if (level == Level::Warn) spdlog::warn("{}", line);
  else spdlog::info("{}", line);
}

void RefusalLog::record(const wire::IpAddr& from, Reason why, Clock::time_point now) {
  expire(now);
  ++total_;
  if (!window_start_) {
    window_start_ = now;
    logged_ = 0;
  }
  if (logged_ < limits_.burst) {
    ++logged_;
    // The words of the line before rate limiting: operators' greps still match. A
    // refusal while shutting down was (and stays) only informational.
    emit(why == Reason::NotConfigured ? Level::Warn : Level::Info,
         fmt::format("connection from {} refused: {}", from.to_string(), reason_text(why)));
    return;
  }
  ++held_;
  ++held_by_reason_[static_cast<size_t>(why)];
  latest_ = from;
  if (addresses_.size() < limits_.max_addresses) addresses_.insert(from);
  else if (!addresses_.contains(from)) addresses_capped_ = true;
}

void RefusalLog::expire(Clock::time_point now) {
  if (window_start_ && now - *window_start_ >= limits_.window) flush(now);
}

void RefusalLog::flush(Clock::time_point now) {
  if (held_ > 0) summarise(now);
  window_start_.reset();
  logged_ = 0;
  held_ = 0;
  held_by_reason_ = {};
  addresses_ = std::unordered_set<wire::IpAddr>();  // not clear(): give the buckets back too
  addresses_capped_ = false;
}

std::optional<RefusalLog::Clock::time_point> RefusalLog::summary_due() const {
  if (held_ == 0 || !window_start_) return std::nullopt;
  return *window_start_ + limits_.window;
}

void RefusalLog::summarise(Clock::time_point now) {
  const uint64_t not_configured = held_by_reason_[static_cast<size_t>(Reason::NotConfigured)];
  const uint64_t shutting_down = held_by_reason_[static_cast<size_t>(Reason::ShuttingDown)];
  std::string why;
  if (shutting_down == 0) why = reason_text(Reason::NotConfigured);
  else if (not_configured == 0) why = reason_text(Reason::ShuttingDown);
  else
    why = fmt::format("{}: {}, {}: {}", reason_text(Reason::NotConfigured), not_configured,
                      reason_text(Reason::ShuttingDown), shutting_down);
  // Past the cap an address was left out: at least one more than the set holds.
  const size_t n = addresses_.size();
  std::string from = addresses_capped_ ? fmt::format("more than {} addresses", n)
                                       : fmt::format("{} address{}", n, n == 1 ? "" : "es");
  const std::chrono::duration<double> span = now - *window_start_;
  emit(not_configured > 0 ? Level::Warn : Level::Info,
       fmt::format("connection refusals: {} more in the last {:.1f} s from {} ({}), latest from {}; not logged one "
                   "by one",
                   held_, span.count(), from, why, latest_.to_string()));
}

}  // namespace tandem::session
