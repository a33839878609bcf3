// LoopWatch: a handler that holds the event loop for longer than kReportAfter is
// reported (counted, with its length), once.
#include "apps/tandemd/loop_watch.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace tandem::app {
namespace {

using namespace std::chrono_literals;

TEST(LoopWatch, ReportsAHandlerThatHeldTheLoop) {
  boost::asio::io_context io;
  LoopWatch watch(io);
  watch.start();
  boost::asio::steady_timer later(io);
  later.expires_after(50ms);
  later.async_wait([](const boost::system::error_code&) { std::this_thread::sleep_for(800ms); });
  io.run_for(1200ms);
  EXPECT_GE(watch.gaps(), 1u);
  EXPECT_GE(watch.longest_gap(), LoopWatch::kReportAfter);
  EXPECT_LE(watch.gaps(), 2u) << "one hold is one report (two only if the machine starved the test too)";
}

}  // namespace
}  // namespace tandem::app
