// Rate-limited logging of refused TCP connections (docs/security.md, "Hostile peers").
//
// A storm of connection attempts from unknown addresses must not flood the log without
// bound, yet no refusal may go unaccounted for. Per window (10 s from the first refusal
// after a quiet spell) the first `burst` refusals are logged one by one, in the same
// words as always (log greps keep matching them); the rest are only counted, and one
// summary line says how many there were, from how many addresses, why, and the latest
// address. The class has no clock and no timer of its own: the caller passes the time
// and asks summary_due() when to call expire() (Speaker drives it with a steady_timer),
// so that tests run on a made-up clock.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>

#include "bgpd/wire/types.hpp"

namespace tandem::session {

// At namespace scope, not nested: a nested struct's default member initialisers cannot
// serve as a default argument inside its enclosing class.
struct RefusalLimits {
  std::chrono::steady_clock::duration window = std::chrono::seconds(10);
  size_t burst = 10;             // logged one by one per window
  size_t max_addresses = 1024;   // distinct addresses remembered per window (memory bound)
};

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Reason : uint8_t { NotConfigured, ShuttingDown };
  enum class Level : uint8_t { Info, Warn };
  // Where the lines go; empty: spdlog's default logger.
  using Sink = std::function<void(Level, const std::string&)>;

  explicit RefusalLog(Sink sink = {}, RefusalLimits limits = {});

  // One refused connection at `now`. Ends an expired window first (its summary).
  void record(const wire::IpAddr& from, Reason why, Clock::time_point now);
  // If the current window has ended by `now`: log its summary (if any) and close it.
  void expire(Clock::time_point now);
  // Log the pending summary now, whatever the window (shutdown, destruction).
  void flush(Clock::time_point now);
  // When expire() has a summary to log: the window's end; nullopt when nothing is held.
  std::optional<Clock::time_point> summary_due() const;

  uint64_t total() const { return total_; }  // refusals since construction
  size_t addresses_held() const { return addresses_.size(); }  // for tests: memory bound

  static const char* reason_text(Reason why);

 private:
  void emit(Level level, const std::string& line) const;
  void summarise(Clock::time_point now);

  Sink sink_;
  RefusalLimits limits_;
  uint64_t total_ = 0;
  // The current window; none while window_start_ is empty.
  std::optional<Clock::time_point> window_start_;
  size_t logged_ = 0;                    // one by one, this window
  uint64_t held_ = 0;                    // counted only, this window
  std::array<uint64_t, 2> held_by_reason_{};
  std::unordered_set<wire::IpAddr> addresses_;  // distinct among the held, up to the cap
  bool addresses_capped_ = false;        // an address may have been left out
  wire::IpAddr latest_;
};

}  // namespace tandem::session
