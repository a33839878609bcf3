#include "healthbpf/session_fsm.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace tandem::bfd {
namespace {

constexpr uint64_t kMs = 1'000'000;

SessionConfig fast(uint8_t mult = 3) {
  SessionConfig c;
  c.local_discriminator = 0x1111;
  c.desired_min_tx_us = 10'000;
  c.required_min_rx_us = 10'000;
  c.detect_mult = mult;
  return c;
}

ControlPacket remote(State s, uint32_t your = 0x1111, bool poll = false, bool final = false) {
  ControlPacket p;
  p.state = s;
  p.my_discriminator = 0x2222;
  p.your_discriminator = your;
  p.desired_min_tx_us = 20'000;
  p.required_min_rx_us = 10'000;
  p.detect_mult = 4;
  p.poll = poll;
  p.final = final;
  return p;
}

template <class A>
std::vector<A> all(const std::vector<Action>& actions) {
  std::vector<A> out;
  for (const Action& a : actions)
    if (auto* x = std::get_if<A>(&a)) out.push_back(*x);
  return out;
}

template <class A>
A one(const std::vector<Action>& actions) {
  auto v = all<A>(actions);
  EXPECT_EQ(v.size(), 1u);
  return v.empty() ? A{} : v.front();
}

std::optional<uint64_t> deadline(const std::vector<Action>& actions, Timer t) {
  std::optional<uint64_t> d;
  for (auto& a : all<act::ArmTimer>(actions))
    if (a.timer == t) d = a.deadline_ns;
  return d;
}

// Down -> Init -> Up, the usual three-way handshake; returns the session Up.
Session up_session(SessionConfig c = fast()) {
  Session s(c);
  s.handle(ev::Start{0});
  s.handle(ev::Received{remote(State::Down, 0), 1 * kMs});
  s.handle(ev::Received{remote(State::Up), 2 * kMs});
  EXPECT_EQ(s.state(), State::Up);
  return s;
}

TEST(BfdSession, StartSendsDownAtOnceThenAtTheSlowRate) {
  Session s(fast());
  auto a = s.handle(ev::Start{0});
  auto send = one<act::Send>(a);
  EXPECT_EQ(send.packet.state, State::Down);
  EXPECT_EQ(send.packet.my_discriminator, 0x1111u);
  EXPECT_EQ(send.packet.your_discriminator, 0u);
  EXPECT_EQ(send.packet.desired_min_tx_us, kSlowTxUs);  // §6.8.3: >= 1 s while not Up
  EXPECT_EQ(send.packet.required_min_rx_us, 10'000u);
  auto d = deadline(a, Timer::Transmit);
  ASSERT_TRUE(d);
  EXPECT_GE(*d, 750 * kMs);
  EXPECT_LE(*d, 1000 * kMs);
}

TEST(BfdSession, DownGoesInitOnDownThenUpOnInit) {
  Session s(fast());
  s.handle(ev::Start{0});
  auto a = s.handle(ev::Received{remote(State::Down, 0), kMs});
  auto sc = one<act::StateChanged>(a);
  EXPECT_EQ(sc.from, State::Down);
  EXPECT_EQ(sc.to, State::Init);
  auto sent = one<act::Send>(a);  // state change announced at once
  EXPECT_EQ(sent.packet.state, State::Init);
  EXPECT_EQ(sent.packet.your_discriminator, 0x2222u);
  a = s.handle(ev::Received{remote(State::Init), 2 * kMs});
  EXPECT_EQ(one<act::StateChanged>(a).to, State::Up);
  EXPECT_EQ(s.state(), State::Up);
}

TEST(BfdSession, DownGoesUpDirectlyOnInit) {
  Session s(fast());
  s.handle(ev::Start{0});
  s.handle(ev::Received{remote(State::Init), kMs});
  EXPECT_EQ(s.state(), State::Up);
}

TEST(BfdSession, DownIgnoresUp) {
  Session s(fast());
  s.handle(ev::Start{0});
  auto a = s.handle(ev::Received{remote(State::Up), kMs});
  EXPECT_EQ(s.state(), State::Down);
  EXPECT_TRUE(all<act::StateChanged>(a).empty());
}

TEST(BfdSession, InitGoesUpOnUpAndStaysOnDown) {
  Session s(fast());
  s.handle(ev::Start{0});
  s.handle(ev::Received{remote(State::Down, 0), kMs});
  ASSERT_EQ(s.state(), State::Init);
  s.handle(ev::Received{remote(State::Down, 0), 2 * kMs});
  EXPECT_EQ(s.state(), State::Init);
  s.handle(ev::Received{remote(State::Up), 3 * kMs});
  EXPECT_EQ(s.state(), State::Up);
}

TEST(BfdSession, UpGoesDownWhenNeighborSignalsDown) {
  Session s = up_session();
  auto a = s.handle(ev::Received{remote(State::Down), 5 * kMs});
  auto sc = one<act::StateChanged>(a);
  EXPECT_EQ(sc.to, State::Down);
  EXPECT_EQ(sc.diag, Diag::NeighborSignaledDown);
  EXPECT_EQ(one<act::Send>(a).packet.diag, Diag::NeighborSignaledDown);
}

// An HA takeover carries the session on: Up at once, the same discriminators, the Up
// rate, no Poll; the remote's next Up packet changes nothing, its Down takes it Down.
TEST(BfdSession, ResumedSessionCarriesOnUp) {
  Session s(fast());
  auto a = s.handle(ev::Resume{0x2222, 20'000, 10'000, 4, 0});
  EXPECT_EQ(s.state(), State::Up);
  EXPECT_EQ(s.remote_state(), State::Up);
  EXPECT_EQ(s.remote_discriminator(), 0x2222u);
  EXPECT_FALSE(s.polling());
  auto sc = one<act::StateChanged>(a);
  EXPECT_EQ(sc.from, State::Down);
  EXPECT_EQ(sc.to, State::Up);
  const ControlPacket p = one<act::Send>(a).packet;
  EXPECT_EQ(p.state, State::Up);
  EXPECT_EQ(p.my_discriminator, 0x1111u);
  EXPECT_EQ(p.your_discriminator, 0x2222u);
  EXPECT_EQ(p.desired_min_tx_us, 10'000u);
  EXPECT_FALSE(p.poll);
  EXPECT_EQ(s.tx_interval_ns(), 10 * kMs);
  EXPECT_EQ(deadline(a, Timer::Detection), 80 * kMs);  // 4 x max(10, 20) ms
  EXPECT_TRUE(s.handle(ev::Start{1 * kMs}).empty());  // already started
  auto b = s.handle(ev::Received{remote(State::Up), 5 * kMs});
  EXPECT_TRUE(all<act::StateChanged>(b).empty());
  EXPECT_TRUE(all<act::Send>(b).empty());
  s.handle(ev::Received{remote(State::Down), 6 * kMs});
  EXPECT_EQ(s.state(), State::Down);
  // Without a remote discriminator there is nothing to resume.
  Session t(fast());
  EXPECT_TRUE(t.handle(ev::Resume{0, 20'000, 10'000, 4, 0}).empty());
  EXPECT_EQ(t.state(), State::Down);
}

TEST(BfdSession, RemoteAdminDownTakesUpAndInitDown) {
  Session s = up_session();
  s.handle(ev::Received{remote(State::AdminDown), 5 * kMs});
  EXPECT_EQ(s.state(), State::Down);
  EXPECT_EQ(s.local_diag(), Diag::NeighborSignaledDown);
  // In Down it changes nothing.
  auto a = s.handle(ev::Received{remote(State::AdminDown), 6 * kMs});
  EXPECT_TRUE(all<act::StateChanged>(a).empty());

  Session i(fast());
  i.handle(ev::Start{0});
  i.handle(ev::Received{remote(State::Down, 0), kMs});
  i.handle(ev::Received{remote(State::AdminDown), 2 * kMs});
  EXPECT_EQ(i.state(), State::Down);
}

TEST(BfdSession, LocalAdminDownDiscardsPacketsUntilAdminUp) {
  Session s = up_session();
  auto a = s.handle(ev::AdminDown{5 * kMs});
  auto sc = one<act::StateChanged>(a);
  EXPECT_EQ(sc.to, State::AdminDown);
  EXPECT_EQ(sc.diag, Diag::AdministrativelyDown);
  EXPECT_EQ(one<act::Send>(a).packet.state, State::AdminDown);
  EXPECT_EQ(one<act::CancelTimer>(a).timer, Timer::Detection);
  a = s.handle(ev::Received{remote(State::Up), 6 * kMs});
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(s.discarded(), 1u);
  a = s.handle(ev::AdminUp{7 * kMs});
  EXPECT_EQ(one<act::StateChanged>(a).to, State::Down);
  EXPECT_EQ(s.local_diag(), Diag::None);
}

TEST(BfdSession, DetectionTimeIsRemoteMultTimesTheSlowerOfOurRxAndTheirTx) {
  Session s = up_session();
  // remote: mult 4, desired tx 20 ms; ours: rx 10 ms -> 4 x 20 ms.
  EXPECT_EQ(s.detection_time_ns(), 80 * kMs);
  auto a = s.handle(ev::Received{remote(State::Up), 10 * kMs});
  EXPECT_EQ(deadline(a, Timer::Detection), 90 * kMs);
}

TEST(BfdSession, DetectionTimeoutTakesUpDownWithDiag1AndForgetsTheRemote) {
  Session s = up_session();
  auto a = s.handle(ev::TimerExpired{Timer::Detection, 100 * kMs});
  auto sc = one<act::StateChanged>(a);
  EXPECT_EQ(sc.from, State::Up);
  EXPECT_EQ(sc.to, State::Down);
  EXPECT_EQ(sc.diag, Diag::ControlDetectionExpired);
  EXPECT_EQ(s.remote_discriminator(), 0u);
  auto sent = all<act::Send>(a);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().packet.your_discriminator, 0u);
  EXPECT_EQ(sent.back().packet.diag, Diag::ControlDetectionExpired);
}

TEST(BfdSession, DetectionTimeoutInInitGoesDown) {
  Session s(fast());
  s.handle(ev::Start{0});
  s.handle(ev::Received{remote(State::Down, 0), kMs});
  s.handle(ev::TimerExpired{Timer::Detection, 5000 * kMs});
  EXPECT_EQ(s.state(), State::Down);
  EXPECT_EQ(s.local_diag(), Diag::ControlDetectionExpired);
}

TEST(BfdSession, GoingUpStartsAPollSequenceForTheFastRate) {
  Session s = up_session();
  EXPECT_TRUE(s.polling());
  // The slower-to-faster change applies at once: tx = max(10 ms, remote rx 10 ms).
  EXPECT_EQ(s.tx_interval_ns(), 10 * kMs);
  auto a = s.handle(ev::TimerExpired{Timer::Transmit, 12 * kMs});
  auto p = one<act::Send>(a).packet;
  EXPECT_TRUE(p.poll);
  EXPECT_FALSE(p.final);
  EXPECT_EQ(p.desired_min_tx_us, 10'000u);
  s.handle(ev::Received{remote(State::Up, 0x1111, false, true), 13 * kMs});
  EXPECT_FALSE(s.polling());
  a = s.handle(ev::TimerExpired{Timer::Transmit, 22 * kMs});
  EXPECT_FALSE(one<act::Send>(a).packet.poll);
}

TEST(BfdSession, AnswersAPollAtOnceWithFinalAndWithoutPoll) {
  Session s = up_session();
  auto a = s.handle(ev::Received{remote(State::Up, 0x1111, true), 5 * kMs});
  auto p = one<act::Send>(a).packet;
  EXPECT_TRUE(p.final);
  EXPECT_FALSE(p.poll);  // §6.5: never both, even while our own poll runs
}

TEST(BfdSession, SlowerTxWhileUpWaitsForTheFinal) {
  Session s = up_session();
  s.handle(ev::Received{remote(State::Up, 0x1111, false, true), 3 * kMs});  // end first poll
  ASSERT_FALSE(s.polling());
  s.handle(ev::SetIntervals{50'000, 10'000, 4 * kMs});
  EXPECT_TRUE(s.polling());
  EXPECT_EQ(s.tx_interval_ns(), 10 * kMs);  // old rate until the Final
  auto a = s.handle(ev::TimerExpired{Timer::Transmit, 14 * kMs});
  EXPECT_EQ(one<act::Send>(a).packet.desired_min_tx_us, 50'000u);
  s.handle(ev::Received{remote(State::Up, 0x1111, false, true), 15 * kMs});
  EXPECT_EQ(s.tx_interval_ns(), 50 * kMs);
}

TEST(BfdSession, FasterRxWhileUpKeepsTheOldDetectionTimeUntilTheFinal) {
  SessionConfig c = fast();
  c.required_min_rx_us = 100'000;
  Session s = up_session(c);
  s.handle(ev::Received{remote(State::Up, 0x1111, false, true), 3 * kMs});
  EXPECT_EQ(s.detection_time_ns(), 400 * kMs);  // 4 x max(100, 20) ms
  s.handle(ev::SetIntervals{10'000, 10'000, 4 * kMs});
  EXPECT_EQ(s.detection_time_ns(), 400 * kMs);
  s.handle(ev::Received{remote(State::Up, 0x1111, false, true), 5 * kMs});
  EXPECT_EQ(s.detection_time_ns(), 80 * kMs);
}

TEST(BfdSession, DiscardsAPacketForAnotherDiscriminator) {
  Session s = up_session();
  auto a = s.handle(ev::Received{remote(State::Down, 0x9999), 5 * kMs});
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(s.state(), State::Up);
  EXPECT_EQ(s.discarded(), 1u);
}

TEST(BfdSession, StopsTransmittingWhenTheRemoteWantsNoPackets) {
  Session s = up_session();
  ControlPacket p = remote(State::Up);
  p.required_min_rx_us = 0;
  auto a = s.handle(ev::Received{p, 5 * kMs});
  EXPECT_EQ(one<act::CancelTimer>(a).timer, Timer::Transmit);
  EXPECT_EQ(s.tx_interval_ns(), 0u);
}

TEST(BfdSession, PassiveSideWaitsForTheRemote) {
  SessionConfig c = fast();
  c.passive = true;
  Session s(c);
  EXPECT_TRUE(s.handle(ev::Start{0}).empty());
  auto a = s.handle(ev::Received{remote(State::Down, 0), kMs});
  EXPECT_EQ(one<act::Send>(a).packet.state, State::Init);
}

TEST(BfdSession, UsesTheRemoteMinRxWhenSlowerThanOurTx) {
  Session s = up_session();
  ControlPacket p = remote(State::Up);
  p.required_min_rx_us = 30'000;
  s.handle(ev::Received{p, 5 * kMs});
  EXPECT_EQ(s.tx_interval_ns(), 30 * kMs);
}

void check_jitter(uint8_t mult, double lo, double hi) {
  Session s = up_session(fast(mult));
  uint64_t now = 10 * kMs;
  auto a = s.handle(ev::TimerExpired{Timer::Transmit, now});
  double min_seen = 1, max_seen = 0;
  for (int i = 0; i < 2000; ++i) {
    auto d = deadline(a, Timer::Transmit);
    ASSERT_TRUE(d);
    double f = double(*d - now) / double(s.tx_interval_ns());
    ASSERT_GE(f, lo) << "packet " << i;
    ASSERT_LE(f, hi) << "packet " << i;
    min_seen = std::min(min_seen, f);
    max_seen = std::max(max_seen, f);
    now = *d;
    a = s.handle(ev::TimerExpired{Timer::Transmit, now});
  }
  // The whole range is used, not a constant.
  EXPECT_LT(min_seen, lo + 0.02);
  EXPECT_GT(max_seen, hi - 0.02);
}

TEST(BfdSession, JitterIs75To100Percent) { check_jitter(3, 0.75, 1.0); }
TEST(BfdSession, JitterIs75To90PercentWithDetectMultOne) { check_jitter(1, 0.75, 0.90); }

TEST(BfdSession, NamesStatesDiagsAndTimers) {
  EXPECT_STREQ(to_string(State::Init), "Init");
  EXPECT_STREQ(to_string(Diag::ControlDetectionExpired), "Control Detection Time Expired");
  EXPECT_STREQ(to_string(Timer::Detection), "Detection");
}

}  // namespace
}  // namespace tandem::bfd
