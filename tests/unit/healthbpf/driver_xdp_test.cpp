// The daemon's BFD driver with kernel replies, over a real veth and the real XDP
// program: driver A on hb0 (XDP in generic mode, transmit_path = "xdp") and driver B in
// the peer namespace (user-space receiver) reach Up at 10 ms; then the program sends
// A's periodic packets and B keeps the session Up; when A falls silent (disarming its
// replies) B declares it Down. Replies that never arrive (native XDP on veth without
// XDP on the other end) are given up on that interface after one Down.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "healthbpf/driver.hpp"
#include "tests/unit/healthbpf/run_io.hpp"
#include "tests/unit/healthbpf/veth_pair.hpp"

namespace tandem::healthbpf {
namespace {

namespace asio = boost::asio;

DriverPeer peer(const std::string& address, const std::string& local) {
  DriverPeer p;
  p.address = address;
  p.local_address = local;
  p.desired_min_tx_us = p.required_min_rx_us = 10'000;
  p.detect_mult = 3;
  return p;
}

class DriverXdpTest : public test::VethPairTest<DriverXdpTest> {
 protected:
  void SetUp() override {
    VethPairTest::SetUp();
    if (IsSkipped()) return;
    DriverOptions a;
    a.receive_path = "xdp";
    a.interfaces = {"hb0"};
    // Generic mode: native XDP_TX on veth leaves the frames in the other end's ring
    // unless that end runs XDP too; one test uses exactly that to lose the replies.
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    a.xdp_mode = name == "RepliesThatDoNotArriveAreGivenUpOnThatInterface" ? "native" : "generic";
    a.transmit_path = "xdp";
    a.peers.push_back(peer("192.0.2.2", "192.0.2.1"));
    std::string error;
    a_ = Driver::create(io_, a, [](const StateChange&) {}, error);
    if (!a_) GTEST_SKIP() << "XDP driver unavailable here: " << error;
    DriverOptions b;
    b.receive_path = "user-space";
    b.bind_address = "192.0.2.2";
    b.peers.push_back(peer("192.0.2.1", "192.0.2.2"));
    test::in_peer([&] { b_ = Driver::create(io_, b, [this](const StateChange& c) { changes_b_.push_back(c); }, error); });
    ASSERT_TRUE(b_) << error;
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit) {
    return test::run_until(io_, pred, limit);
  }

  asio::io_context io_{1};
  std::unique_ptr<Driver> a_, b_;
  std::vector<StateChange> changes_b_;
};

TEST_F(DriverXdpTest, TheProgramCarriesTheSteadyStateAndFallsSilentWithTheDaemon) {
  a_->start();
  b_->start();
  ASSERT_TRUE(run_until([&] { return a_->state("192.0.2.2") == bfd::State::Up && b_->state("192.0.2.1") == bfd::State::Up; },
                        std::chrono::seconds(10)));
  // Poll sequences end, then A's replies are armed.
  ASSERT_TRUE(run_until([&] { return a_->status().sessions.at(0).kernel_replies; }, std::chrono::seconds(2)));
  const SessionStatus before = a_->status().sessions.at(0);
  const size_t b_changes = changes_b_.size();
  run_until([] { return false; }, std::chrono::seconds(2));
  const DriverStatus st = a_->status();
  const SessionStatus& after = st.sessions.at(0);
  ASSERT_EQ(st.reply_interfaces, std::vector<std::string>{"hb0"});
  const uint64_t out = after.packets_out - before.packets_out;
  const uint64_t by_kernel = after.packets_out_kernel - before.packets_out_kernel;
  std::cout << "[ measured ] in 2 s at 10 ms: A sent " << out << " packets, " << by_kernel
            << " of them by the XDP program; B received " << b_->status().sessions.at(0).packets_in << " in all\n";
  // About 200 at 10 ms (7.5-10 ms apart): all by the program, none lost to B.
  EXPECT_GE(out, 120u);
  EXPECT_EQ(by_kernel, out);
  EXPECT_TRUE(after.kernel_replies);
  EXPECT_EQ(changes_b_.size(), b_changes) << "B saw a state change while the program answered";
  EXPECT_EQ(b_->state("192.0.2.1"), bfd::State::Up);
  EXPECT_EQ(a_->status().counters.size(), size_t{HB_CNT_MAX});

  // A falls silent: its replies are disarmed with it, and B detects it.
  a_->set_silent("192.0.2.2", true);
  EXPECT_FALSE(a_->status().sessions.at(0).kernel_replies);
  ASSERT_TRUE(run_until([&] { return b_->state("192.0.2.1") == bfd::State::Down; }, std::chrono::seconds(2)));
  ASSERT_FALSE(changes_b_.empty());
  EXPECT_EQ(changes_b_.back().diag, bfd::Diag::ControlDetectionExpired);

  // Back, and the program takes over again after the new bring-up.
  a_->set_silent("192.0.2.2", false);
  ASSERT_TRUE(run_until([&] { return b_->state("192.0.2.1") == bfd::State::Up; }, std::chrono::seconds(10)));
  EXPECT_TRUE(run_until([&] { return a_->status().sessions.at(0).kernel_replies; }, std::chrono::seconds(2)));

  // Stopping the driver (as the daemon does on exit) disarms everything: B detects it.
  a_->stop();
  EXPECT_FALSE(a_->status().sessions.at(0).kernel_replies);
  ASSERT_TRUE(run_until([&] { return b_->state("192.0.2.1") == bfd::State::Down; }, std::chrono::seconds(2)));
}

TEST_F(DriverXdpTest, RepliesThatDoNotArriveAreGivenUpOnThatInterface) {
  if (a_->path() != "xdp-native") GTEST_SKIP() << "no native XDP on veth here (" << a_->path() << ")";
  a_->start();
  b_->start();
  ASSERT_TRUE(run_until([&] { return a_->state("192.0.2.2") == bfd::State::Up && b_->state("192.0.2.1") == bfd::State::Up; },
                        std::chrono::seconds(10)));
  // The program answers for A, but its frames stay in hb1's ring: B stops hearing A,
  // declares it Down, and A gives up replies on hb0.
  ASSERT_TRUE(run_until([&] { return a_->status().reply_interfaces.empty(); }, std::chrono::seconds(5)))
      << "A kept answering from the program although B stopped hearing it";
  EXPECT_TRUE(std::any_of(changes_b_.begin(), changes_b_.end(), [](const StateChange& c) {
    return !c.up && c.diag == bfd::Diag::ControlDetectionExpired;
  })) << "B did not detect A's silence";
  // From then on user space sends: Up again, and it stays Up.
  ASSERT_TRUE(run_until([&] { return a_->state("192.0.2.2") == bfd::State::Up && b_->state("192.0.2.1") == bfd::State::Up; },
                        std::chrono::seconds(10)));
  const size_t b_changes = changes_b_.size();
  run_until([] { return false; }, std::chrono::seconds(1));
  EXPECT_EQ(changes_b_.size(), b_changes);
  EXPECT_FALSE(a_->status().sessions.at(0).kernel_replies);
}

}  // namespace
}  // namespace tandem::healthbpf
