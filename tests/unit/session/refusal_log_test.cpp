// RefusalLog on a made-up clock: the burst logged one by one in the old words, the rest
// counted and summed up in one line when the window ends, a new window after that,
// the distinct addresses bounded, and nothing lost (total, flush).
#include "bgpd/session/refusal_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::test {

using session::RefusalLimits;
using session::RefusalLog;
using namespace std::chrono_literals;

// Collects the lines RefusalLog would have logged.
struct Lines {
  std::vector<std::pair<RefusalLog::Level, std::string>> got;
  RefusalLog::Sink sink() {
    return [this](RefusalLog::Level l, const std::string& s) { got.emplace_back(l, s); };
  }
  size_t count(const std::string& part) const {
    size_t n = 0;
    for (const auto& [l, s] : got) n += s.find(part) != std::string::npos;
    return n;
  }
};

wire::IpAddr addr(int i) {
  return wire::IpAddr::v4(0x0aff0000u + static_cast<uint32_t>(i));  // 10.255.x.y
}

const RefusalLog::Clock::time_point t0{std::chrono::hours(1000)};
constexpr auto kNotConfigured = RefusalLog::Reason::NotConfigured;
constexpr auto kShuttingDown = RefusalLog::Reason::ShuttingDown;

TEST(RefusalLog, FirstTenAreLoggedOneByOneInTheOldWords) {
  Lines lines;
  RefusalLog log(lines.sink());
  for (int i = 1; i <= 10; i++) log.record(addr(i), kNotConfigured, t0 + i * 1ms);
  ASSERT_EQ(lines.got.size(), 10u);
  EXPECT_EQ(lines.got[0].second, "connection from 10.255.0.1 refused: not a configured peer");
  EXPECT_EQ(lines.got[0].first, RefusalLog::Level::Warn);
  EXPECT_EQ(lines.got[9].second, "connection from 10.255.0.10 refused: not a configured peer");
  EXPECT_EQ(log.total(), 10u);
  EXPECT_FALSE(log.summary_due());  // nothing held: no summary, no timer
  log.expire(t0 + 1h);
  EXPECT_EQ(lines.got.size(), 10u);
}

TEST(RefusalLog, ShuttingDownKeepsItsWordsAndLevel) {
  Lines lines;
  RefusalLog log(lines.sink());
  log.record(*wire::IpAddr::parse("2001:db8:bad::1"), kShuttingDown, t0);
  ASSERT_EQ(lines.got.size(), 1u);
  EXPECT_EQ(lines.got[0].first, RefusalLog::Level::Info);
  EXPECT_EQ(lines.got[0].second, "connection from 2001:db8:bad::1 refused: shutting down");
}

TEST(RefusalLog, TheRestAreCountedAndSummedUpWhenTheWindowEnds) {
  Lines lines;
  RefusalLog log(lines.sink());
  for (int i = 0; i < 1000; i++) log.record(addr(i), kNotConfigured, t0 + i * 5ms);  // 5 s
  EXPECT_EQ(lines.got.size(), 10u);
  EXPECT_EQ(log.total(), 1000u);
  ASSERT_TRUE(log.summary_due());
  EXPECT_EQ(*log.summary_due(), t0 + 10s);
  log.expire(t0 + 9999ms);  // not yet
  EXPECT_EQ(lines.got.size(), 10u);
  log.expire(t0 + 10s);
  ASSERT_EQ(lines.got.size(), 11u);
  EXPECT_EQ(lines.got[10].first, RefusalLog::Level::Warn);
  EXPECT_EQ(lines.got[10].second,
            "connection refusals: 990 more in the last 10.0 s from 990 addresses (not a configured peer), latest "
            "from 10.255.3.231; not logged one by one");
  EXPECT_FALSE(log.summary_due());
  EXPECT_EQ(log.addresses_held(), 0u);
  log.expire(t0 + 1h);  // once only
  EXPECT_EQ(lines.got.size(), 11u);
}

TEST(RefusalLog, SummaryCountsDistinctAddressesAndSaysOneInTheSingular) {
  Lines lines;
  RefusalLog log(lines.sink());
  for (int i = 0; i < 10; i++) log.record(addr(i), kNotConfigured, t0);
  log.record(addr(7), kNotConfigured, t0 + 1s);
  log.flush(t0 + 2500ms);
  ASSERT_EQ(lines.got.size(), 11u);
  EXPECT_EQ(lines.got[10].second,
            "connection refusals: 1 more in the last 2.5 s from 1 address (not a configured peer), latest from "
            "10.255.0.7; not logged one by one");

  lines.got.clear();
  for (int i = 0; i < 10; i++) log.record(addr(i), kNotConfigured, t0 + 1h);
  for (int i = 0; i < 30; i++) log.record(addr(i % 3), kNotConfigured, t0 + 1h);
  log.expire(t0 + 1h + 10s);
  ASSERT_EQ(lines.got.size(), 11u);
  EXPECT_NE(lines.got[10].second.find(" 30 more in the last 10.0 s from 3 addresses "), std::string::npos)
      << lines.got[10].second;
}

TEST(RefusalLog, MixedReasonsAreCountedApart) {
  Lines lines;
  RefusalLog log(lines.sink());
  for (int i = 0; i < 12; i++) log.record(addr(i), kNotConfigured, t0);
  for (int i = 0; i < 3; i++) log.record(addr(100 + i), kShuttingDown, t0 + 1s);
  log.flush(t0 + 1s);
  ASSERT_EQ(lines.got.size(), 11u);
  EXPECT_EQ(lines.got[10].second,
            "connection refusals: 5 more in the last 1.0 s from 5 addresses (not a configured peer: 2, shutting "
            "down: 3), latest from 10.255.0.102; not logged one by one");
  EXPECT_EQ(lines.got[10].first, RefusalLog::Level::Warn);

  // Only refusals while shutting down: an informational summary, as their lines are.
  lines.got.clear();
  for (int i = 0; i < 11; i++) log.record(addr(i), kShuttingDown, t0 + 1h);
  log.flush(t0 + 1h);
  ASSERT_EQ(lines.got.size(), 11u);
  EXPECT_EQ(lines.got[10].first, RefusalLog::Level::Info);
  EXPECT_NE(lines.got[10].second.find("(shutting down), latest from 10.255.0.10;"), std::string::npos)
      << lines.got[10].second;
}

TEST(RefusalLog, ANewWindowStartsWithTheFirstRefusalAfterTheLastEnded) {
  Lines lines;
  RefusalLog log(lines.sink());
  for (int i = 0; i < 15; i++) log.record(addr(i), kNotConfigured, t0);
  // 12 s later, no timer fired in between: the next refusal ends the old window (its
  // summary first), then opens a new one and is logged one by one.
  log.record(addr(99), kNotConfigured, t0 + 12s);
  ASSERT_EQ(lines.got.size(), 12u);
  EXPECT_NE(lines.got[10].second.find("5 more in the last 12.0 s"), std::string::npos) << lines.got[10].second;
  EXPECT_EQ(lines.got[11].second, "connection from 10.255.0.99 refused: not a configured peer");
  for (int i = 0; i < 9; i++) log.record(addr(i), kNotConfigured, t0 + 13s);
  EXPECT_EQ(lines.got.size(), 21u);  // the new window's 10
  EXPECT_FALSE(log.summary_due());
  log.record(addr(1), kNotConfigured, t0 + 14s);
  EXPECT_EQ(lines.got.size(), 21u);
  ASSERT_TRUE(log.summary_due());
  EXPECT_EQ(*log.summary_due(), t0 + 22s);  // 10 s after the window's first refusal
  EXPECT_EQ(log.total(), 26u);
}

// However long the storm, at most burst + 1 lines per window, and individual lines plus
// the summaries' counts add up to every refusal.
TEST(RefusalLog, SustainedStormIsBoundedAndNothingIsLost) {
  Lines lines;
  RefusalLog log(lines.sink());
  const int n = 60000;
  for (int i = 0; i < n; i++) {
    auto now = t0 + i * 1ms;  // 60 s, 1,000 a second
    if (auto due = log.summary_due(); due && now >= *due) log.expire(now);  // the timer
    log.record(addr(i % 5000), kNotConfigured, now);
  }
  log.flush(t0 + 60s);
  EXPECT_EQ(log.total(), static_cast<uint64_t>(n));
  EXPECT_EQ(lines.count("refused: not a configured peer"), 60u);  // 10 in each of 6 windows
  EXPECT_EQ(lines.count("connection refusals: "), 6u);
  uint64_t sum = lines.count("refused: not a configured peer");
  for (const auto& [l, s] : lines.got)
    if (s.starts_with("connection refusals: ")) sum += std::stoull(s.substr(21));
  EXPECT_EQ(sum, static_cast<uint64_t>(n));
}

TEST(RefusalLog, DistinctAddressesAreCapped) {
  Lines lines;
  RefusalLimits limits;
  limits.max_addresses = 100;
  RefusalLog log(lines.sink(), limits);
  for (int i = 0; i < 10; i++) log.record(addr(i), kNotConfigured, t0);
  for (int i = 0; i < 100; i++) log.record(addr(1000 + i), kNotConfigured, t0);
  EXPECT_EQ(log.addresses_held(), 100u);
  log.record(addr(1000), kNotConfigured, t0);  // already held: still exactly 100
  log.flush(t0);
  EXPECT_NE(lines.got.back().second.find(" 101 more in the last 0.0 s from 100 addresses "), std::string::npos)
      << lines.got.back().second;

  for (int i = 0; i < 10; i++) log.record(addr(i), kNotConfigured, t0 + 1h);
  for (int i = 0; i < 50000; i++) log.record(addr(2000 + i), kNotConfigured, t0 + 1h);
  EXPECT_EQ(log.addresses_held(), 100u);  // memory stays bounded
  log.flush(t0 + 1h);
  EXPECT_NE(lines.got.back().second.find(" 50000 more in the last 0.0 s from more than 100 addresses "),
            std::string::npos)
      << lines.got.back().second;
  EXPECT_NE(lines.got.back().second.find("latest from 10.255.203.31;"), std::string::npos)  // 2000 + 49999
      << lines.got.back().second;
  EXPECT_EQ(log.addresses_held(), 0u);
}

TEST(RefusalLog, OtherLimits) {
  Lines lines;
  RefusalLimits limits;
  limits.window = 500ms;
  limits.burst = 2;
  RefusalLog log(lines.sink(), limits);
  for (int i = 0; i < 5; i++) log.record(addr(i), kNotConfigured, t0);
  EXPECT_EQ(lines.got.size(), 2u);
  ASSERT_TRUE(log.summary_due());
  EXPECT_EQ(*log.summary_due(), t0 + 500ms);
  log.expire(t0 + 500ms);
  ASSERT_EQ(lines.got.size(), 3u);
  EXPECT_NE(lines.got[2].second.find("3 more in the last 0.5 s from 3 addresses"), std::string::npos)
      << lines.got[2].second;
}

TEST(RefusalLog, FlushWithNothingHeldLogsNothing) {
  Lines lines;
  RefusalLog log(lines.sink());
  log.flush(t0);
  log.record(addr(1), kNotConfigured, t0);
  log.flush(t0 + 1s);
  EXPECT_EQ(lines.got.size(), 1u);
  EXPECT_EQ(log.total(), 1u);
}

}  // namespace tandem::test
