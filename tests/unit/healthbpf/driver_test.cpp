// The daemon's BFD driver on an Asio io_context: two drivers on the loopback, each
// with the user-space receiver on its own port (no privilege needed), reach Up; then
// one falls silent and the other declares it Down (Control Detection Time Expired),
// reporting both changes through its callback; the status snapshot is filled in.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "healthbpf/driver.hpp"
#include "tests/unit/healthbpf/run_io.hpp"

namespace tandem::healthbpf {
namespace {

namespace asio = boost::asio;

DriverOptions options(uint16_t port, uint16_t remote_port, uint32_t interval_us) {
  DriverOptions o;
  o.receive_path = "user-space";
  o.bind_address = "127.0.0.1";
  o.port = port;
  o.remote_port = remote_port;
  DriverPeer p;
  p.address = "127.0.0.1";
  p.local_address = "127.0.0.1";
  p.desired_min_tx_us = interval_us;
  p.required_min_rx_us = interval_us;
  p.detect_mult = 3;
  o.peers.push_back(p);
  return o;
}

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test as its own process, possibly at the same time: ports per test
    // (two sockets bound to one UDP port with SO_REUSEADDR would share its datagrams).
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    port_a_ = name == "UpThenSilenceIsDetected"              ? 47841
              : name == "ShutdownSignalsAdminDown"           ? 47861
              : name == "ResumedSessionIsTheSameSessionToThePeer" ? 47901
              : name == "PacketsFromBeforeTheResumeDoNotConfirmIt" ? 47911
                                                             : 47871;
    port_b_ = static_cast<uint16_t>(port_a_ + 1);
    std::string error;
    a_ = Driver::create(io_, options(port_a_, port_b_, 20'000), [this](const StateChange& c) { changes_a_.push_back(c); },
                        error);
    ASSERT_TRUE(a_) << error;
    b_ = Driver::create(io_, options(port_b_, port_a_, 20'000), [this](const StateChange& c) { changes_b_.push_back(c); },
                        error);
    ASSERT_TRUE(b_) << error;
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit) {
    return test::run_until(io_, pred, limit);
  }
  // C in A's place (and port), with no session yet; its changes go to `changes`.
  std::unique_ptr<Driver> driver_without_sessions_on_a(std::vector<StateChange>& changes) {
    DriverOptions o = options(port_a_, port_b_, 20'000);
    o.peers.clear();
    std::string error;
    auto c = Driver::create(io_, o, [&changes](const StateChange& x) { changes.push_back(x); }, error);
    EXPECT_TRUE(c) << error;
    return c;
  }
  // A and B Up, then A gone without a word (like a handed-over primary): A's session as
  // it was, for C to resume (`up` false if it never came Up).
  SessionStatus a_up_then_gone(bool& up) {
    a_->start();
    b_->start();
    up = until_up_with_b(a_);
    run_until([] { return false; }, std::chrono::milliseconds(200));  // polls over
    const SessionStatus was = a_->status().sessions[0];
    a_.reset();
    return was;
  }
  // A's session to B, resumed from `was`.
  DriverPeer resumed_from(const SessionStatus& was) const {
    DriverPeer peer = options(port_a_, port_b_, 20'000).peers[0];
    peer.resume = SessionHandover{"127.0.0.1", true, was.local_discriminator, was.remote_discriminator,
                                  was.remote_min_tx_us, was.remote_min_rx_us, was.remote_detect_mult};
    return peer;
  }
  // Runs until `x` and B both have their session Up (10 s at most).
  bool until_up_with_b(const std::unique_ptr<Driver>& x) {
    return run_until([&] { return x->state("127.0.0.1") == bfd::State::Up && b_->state("127.0.0.1") == bfd::State::Up; },
                     std::chrono::seconds(10));
  }

  asio::io_context io_{1};
  uint16_t port_a_ = 0, port_b_ = 0;
  std::unique_ptr<Driver> a_, b_;
  std::vector<StateChange> changes_a_, changes_b_;
};

TEST_F(DriverTest, UpThenSilenceIsDetected) {
  EXPECT_EQ(a_->path(), "user-space");
  a_->start();
  b_->start();
  ASSERT_TRUE(until_up_with_b(a_));
  ASSERT_FALSE(changes_a_.empty());
  EXPECT_TRUE(changes_a_.back().up);
  EXPECT_EQ(changes_a_.back().peer, "127.0.0.1");
  // Let the poll sequences end and a few periodic packets flow.
  run_until([] { return false; }, std::chrono::milliseconds(300));

  DriverStatus st = a_->status();
  EXPECT_EQ(st.path, "user-space");
  ASSERT_EQ(st.sessions.size(), 1u);
  const SessionStatus& s = st.sessions[0];
  EXPECT_EQ(s.peer, "127.0.0.1");
  EXPECT_NE(s.local_discriminator, 0u);
  EXPECT_NE(s.remote_discriminator, 0u);
  EXPECT_NE(s.local_discriminator, b_->status().sessions[0].local_discriminator);
  EXPECT_EQ(s.remote_discriminator, b_->status().sessions[0].local_discriminator);
  EXPECT_EQ(s.local_state, "Up");
  EXPECT_EQ(s.remote_state, "Up");
  EXPECT_EQ(s.tx_interval_us, 20'000u);
  EXPECT_EQ(s.rx_interval_us, 20'000u);
  EXPECT_EQ(s.detect_time_us, 60'000u);
  EXPECT_GE(s.last_rx_age_ms, 0);
  EXPECT_LT(s.last_rx_age_ms, 1000);
  EXPECT_GT(s.packets_in, 5u);
  EXPECT_GT(s.packets_out, 5u);
  EXPECT_EQ(s.up_transitions, 1u);
  bool valid_counted = false;
  for (const auto& [name, value] : st.counters)
    if (name == "valid") valid_counted = value > 5;
  EXPECT_TRUE(valid_counted);

  // B falls silent: A detects it within the detection time (plus scheduling slack).
  size_t before = changes_a_.size();
  auto t0 = std::chrono::steady_clock::now();
  b_->set_silent("127.0.0.1", true);
  ASSERT_TRUE(run_until([&] { return changes_a_.size() > before; }, std::chrono::seconds(5)));
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ measured ] silence detected after " << ms << " ms (20 ms x 3)\n";
  const StateChange& down = changes_a_.back();
  EXPECT_FALSE(down.up);
  EXPECT_EQ(down.from, bfd::State::Up);
  EXPECT_EQ(down.to, bfd::State::Down);
  EXPECT_EQ(down.diag, bfd::Diag::ControlDetectionExpired);
  EXPECT_NE(down.why().find("Control Detection Time Expired"), std::string::npos) << down.why();
  EXPECT_LT(ms, 1000.0);
  EXPECT_EQ(a_->status().sessions[0].down_transitions, 1u);

  // B speaks again: both come back Up.
  b_->set_silent("127.0.0.1", false);
  ASSERT_TRUE(until_up_with_b(a_));
  EXPECT_TRUE(changes_a_.back().up);
  a_->stop();
  b_->stop();
}

// Shutdown: A's session goes AdminDown and says so; B goes Down with "the remote is
// AdminDown", which RFC 5882 §3.2 says is no forwarding failure; A reports nothing
// (its own AdminDown is no failure either).
TEST_F(DriverTest, ShutdownSignalsAdminDown) {
  a_->start();
  b_->start();
  ASSERT_TRUE(until_up_with_b(a_));
  const size_t a_changes = changes_a_.size(), b_changes = changes_b_.size();
  a_->shutdown();
  EXPECT_EQ(a_->state("127.0.0.1"), bfd::State::AdminDown);
  ASSERT_TRUE(run_until([&] { return changes_b_.size() > b_changes; }, std::chrono::seconds(2)));
  const StateChange& down = changes_b_.back();
  EXPECT_FALSE(down.up);
  EXPECT_TRUE(down.remote_admin_down);
  EXPECT_EQ(down.diag, bfd::Diag::NeighborSignaledDown);
  EXPECT_NE(down.why().find("AdminDown"), std::string::npos) << down.why();
  EXPECT_EQ(changes_a_.size(), a_changes);
  // B stays Down (no detection-time "failure" on top), A sends nothing more.
  const uint64_t a_out = a_->status().sessions[0].packets_out;
  run_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_EQ(a_->status().sessions[0].packets_out, a_out);
  EXPECT_EQ(changes_b_.size(), b_changes + 1);
  b_->stop();
}

// Sessions added and removed while the driver runs (API peers, reload).
TEST_F(DriverTest, SessionsAddedAndRemovedAtRunTime) {
  a_.reset();  // C takes A's place (and port), talking to B
  DriverPeer peer = options(port_a_, port_b_, 20'000).peers[0];
  std::string error;
  std::vector<StateChange> changes_c;
  auto c = driver_without_sessions_on_a(changes_c);
  ASSERT_TRUE(c);
  b_->start();
  c->start();
  EXPECT_FALSE(c->has_session("127.0.0.1"));
  EXPECT_TRUE(c->status().sessions.empty());
  ASSERT_TRUE(c->add_session(peer, error)) << error;
  EXPECT_TRUE(c->has_session("127.0.0.1"));
  EXPECT_FALSE(c->add_session(peer, error));
  EXPECT_NE(error.find("already has a session"), std::string::npos) << error;
  DriverPeer bad = peer;
  bad.address = "nowhere";
  EXPECT_FALSE(c->add_session(bad, error));
  ASSERT_TRUE(until_up_with_b(c));
  ASSERT_FALSE(changes_c.empty());
  EXPECT_TRUE(changes_c.back().up);

  const size_t b_changes = changes_b_.size();
  EXPECT_TRUE(c->remove_session("127.0.0.1"));
  EXPECT_FALSE(c->remove_session("127.0.0.1"));
  EXPECT_FALSE(c->has_session("127.0.0.1"));
  EXPECT_FALSE(c->state("127.0.0.1"));
  ASSERT_TRUE(run_until([&] { return changes_b_.size() > b_changes; }, std::chrono::seconds(2)));
  EXPECT_TRUE(changes_b_.back().remote_admin_down);
  // Added again: a new local discriminator, and B brings it Up as a new remote.
  ASSERT_TRUE(c->add_session(peer, error)) << error;
  ASSERT_TRUE(until_up_with_b(c));
  c->stop();
  b_->stop();
}

// Two drivers on loopback, each on an io_context of its own so that A's thread can
// "stall" (not be run) while B's runs: A holds its session after a stall of 30 ms.
class DriverStall : public ::testing::Test {
 protected:
  template <class Pred>
  bool run_both_until(Pred pred, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      io_a.run_for(std::chrono::milliseconds(1));
      io_b.run_for(std::chrono::milliseconds(1));
    }
    return pred();
  }
  bool both_up() const {
    return a->state("127.0.0.1") == bfd::State::Up && b->state("127.0.0.1") == bfd::State::Up;
  }
  // Both Up at 20 ms, both with `detect_mult` (each side's detection time of the
  // other is the other's multiplier x 20 ms).
  void start(uint16_t port_a, uint16_t port_b, uint8_t detect_mult) {
    DriverOptions oa = options(port_a, port_b, 20'000);
    oa.stall_ns = 30'000'000;
    oa.peers[0].hold_after_stall = true;
    oa.peers[0].detect_mult = detect_mult;
    std::string error;
    a = Driver::create(io_a, oa, [this](const StateChange& c) { changes_a.push_back(c); }, error);
    ASSERT_TRUE(a) << error;
    DriverOptions ob = options(port_b, port_a, 20'000);
    ob.peers[0].detect_mult = detect_mult;
    b = Driver::create(io_b, ob, [this](const StateChange& c) { changes_b.push_back(c); }, error);
    ASSERT_TRUE(b) << error;
    a->set_on_stall([this](uint64_t generation, uint64_t ns) { stalls.emplace_back(generation, ns); });
    a->start();
    b->start();
    ASSERT_TRUE(run_both_until([this] { return both_up(); }, std::chrono::seconds(10)));
  }

  asio::io_context io_a{1}, io_b{1};
  std::vector<StateChange> changes_a, changes_b;
  std::vector<std::pair<uint64_t, uint64_t>> stalls;
  std::unique_ptr<Driver> a, b;
};

// A short stall (45 ms: over A's threshold, under the 10 x 20 ms detection): A is held,
// but its session is still Up and keeps transmitting, so B sees no change while A waits
// for the confirmation (a busy standby answered in 169 ms once in bench/chaos, and FRR
// expired the silent session); nothing is reported until the release.
TEST_F(DriverStall, HeldSessionThatIsUpKeepsTransmitting) {
  ASSERT_NO_FATAL_FAILURE(start(47883, 47884, 10));  // 200 ms detection: longer than the stall
  run_both_until([] { return false; }, std::chrono::milliseconds(100));
  const size_t b_changes = changes_b.size();

  test::run_until(io_b, [] { return false; }, std::chrono::milliseconds(45));  // A stalls
  const uint64_t a_out = a->status().sessions[0].packets_out;
  run_both_until([] { return false; }, std::chrono::milliseconds(300));
  ASSERT_EQ(stalls.size(), 1u) << "no stall seen";
  EXPECT_TRUE(a->holding());
  EXPECT_EQ(a->state("127.0.0.1"), bfd::State::Up);
  EXPECT_GE(a->status().sessions[0].packets_out, a_out + 5) << "a held Up session must keep transmitting";
  EXPECT_EQ(b->state("127.0.0.1"), bfd::State::Up);
  EXPECT_EQ(changes_b.size(), b_changes) << "B must see no change";
  const size_t a_changes = changes_a.size();
  EXPECT_TRUE(a->release_hold(stalls[0].first));
  EXPECT_FALSE(a->holding());
  EXPECT_EQ(changes_a.size(), a_changes) << "nothing changed while held: nothing to report";
}

// A stall: A's thread (its own io_context here) does not run for 200 ms while B's does;
// B expires A and says Down. Woken, A holds its session (hold_after_stall): it sends
// nothing and reports nothing (not even its own Up -> Down) until release_hold(), then
// reports the net change and both come Up again.
TEST_F(DriverStall, HeldSessionIsSilentUntilReleased) {
  ASSERT_NO_FATAL_FAILURE(start(47881, 47882, 3));
  run_both_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_TRUE(stalls.empty()) << "a stall of " << stalls[0].second << " ns without one";
  ASSERT_EQ(changes_a.size(), 1u);

  // A stalls; B declares it Down.
  test::run_until(io_b, [] { return false; }, std::chrono::milliseconds(200));
  EXPECT_EQ(b->state("127.0.0.1"), bfd::State::Down);
  const uint64_t a_out = a->status().sessions[0].packets_out;
  const uint64_t b_in = b->status().sessions[0].packets_in;

  // A wakes: held. It reads B's Down (its session goes Down) but says and reports nothing.
  run_both_until([] { return false; }, std::chrono::milliseconds(300));
  ASSERT_EQ(stalls.size(), 1u);
  EXPECT_GE(stalls[0].second, 150'000'000u);
  EXPECT_TRUE(a->holding());
  EXPECT_EQ(a->state("127.0.0.1"), bfd::State::Down);
  EXPECT_EQ(changes_a.size(), 1u);
  EXPECT_EQ(a->status().sessions[0].packets_out, a_out);
  EXPECT_EQ(b->status().sessions[0].packets_in, b_in);
  EXPECT_EQ(b->state("127.0.0.1"), bfd::State::Down);

  // Released: the Down A had while held is reported at once, then both come Up again.
  EXPECT_FALSE(a->release_hold(stalls[0].first + 1));
  EXPECT_TRUE(a->release_hold(stalls[0].first));
  EXPECT_FALSE(a->holding());
  ASSERT_EQ(changes_a.size(), 2u);
  EXPECT_FALSE(changes_a[1].up);
  EXPECT_EQ(changes_a[1].from, bfd::State::Up);
  ASSERT_TRUE(run_both_until([this] { return both_up(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(changes_a.back().up);
  EXPECT_GT(a->status().sessions[0].packets_out, a_out);
  a->stop();
  b->stop();
}

// An HA handover: C takes A's place with A's session state (resume): Up at once with A's
// discriminators; B, the peer, sees no change at all. As in tandemd, C already runs when
// the session is added, and B's packets reached C's table before it (adopt_slots).
TEST_F(DriverTest, ResumedSessionIsTheSameSessionToThePeer) {
  bool up = false;
  const SessionStatus was = a_up_then_gone(up);
  ASSERT_TRUE(up);
  const size_t b_changes = changes_b_.size();
  std::string error;
  std::vector<StateChange> changes_c;
  auto c = driver_without_sessions_on_a(changes_c);
  ASSERT_TRUE(c);
  c->start();
  run_until([] { return false; }, std::chrono::milliseconds(25));  // B's packets reach C first
  ASSERT_TRUE(c->add_session(resumed_from(was), error)) << error;
  EXPECT_EQ(c->state("127.0.0.1"), bfd::State::Up);
  ASSERT_EQ(changes_c.size(), 1u);
  EXPECT_TRUE(changes_c[0].up);
  run_until([] { return false; }, std::chrono::milliseconds(500));
  const SessionStatus now = c->status().sessions[0];
  EXPECT_EQ(now.local_discriminator, was.local_discriminator);
  EXPECT_EQ(now.remote_discriminator, was.remote_discriminator);
  EXPECT_EQ(now.local_state, "Up");
  EXPECT_EQ(now.up_transitions, 1u);
  EXPECT_EQ(now.down_transitions, 0u);
  EXPECT_GT(now.packets_in, 10u);
  EXPECT_EQ(changes_c.size(), 1u);
  EXPECT_EQ(changes_b_.size(), b_changes) << "the peer saw a change";
  const SessionStatus b = b_->status().sessions[0];
  EXPECT_EQ(b.local_state, "Up");
  EXPECT_EQ(b.remote_discriminator, was.local_discriminator);
  EXPECT_EQ(b.down_transitions, 0u);
  // Carried on: a later silence of the peer is a failure, reported.
  b_->set_silent("127.0.0.1", true);
  ASSERT_TRUE(run_until([&] { return changes_c.size() == 2; }, std::chrono::seconds(2)));
  EXPECT_FALSE(changes_c[1].up);
  EXPECT_EQ(changes_c[1].diag, bfd::Diag::ControlDetectionExpired);
  c->stop();
  b_->stop();
}

// The peer's packets read from the table when the session is resumed were sent before
// the peer could hear this node: they do not confirm the session, so its Down is not
// reported (integration.takeover in CI: FRR's bfdd, whose detection time had run out
// during the takeover, said Down 1 ms after tandemd had read its last Up packet from the
// table, and tandemd closed the BGP session it had just carried on). Here the peer falls
// silent right after: C's session expires, unreported.
TEST_F(DriverTest, PacketsFromBeforeTheResumeDoNotConfirmIt) {
  bool up = false;
  const SessionStatus was = a_up_then_gone(up);
  ASSERT_TRUE(up);
  std::vector<StateChange> changes_c;
  auto c = driver_without_sessions_on_a(changes_c);
  ASSERT_TRUE(c);
  c->start();
  run_until([] { return false; }, std::chrono::milliseconds(25));  // B's Up packets reach C's table
  b_->set_silent("127.0.0.1", true);
  std::string error;
  ASSERT_TRUE(c->add_session(resumed_from(was), error)) << error;
  EXPECT_EQ(c->state("127.0.0.1"), bfd::State::Up);
  EXPECT_GT(c->status().sessions[0].packets_in, 0u) << "no packet of B's was read from the table";
  ASSERT_TRUE(run_until([&] { return c->state("127.0.0.1") == bfd::State::Down; }, std::chrono::seconds(2)));
  ASSERT_EQ(changes_c.size(), 1u) << "the Down was reported";
  EXPECT_TRUE(changes_c[0].up);  // the resume
  c->stop();
  b_->stop();
}

// A resumed session the peer does not know (it gave up on it during the takeover, here:
// it never had it) is brought up again without a Down reported: the BGP session was
// carried on fine. One towards a peer that sends nothing goes Down after its detection
// time, unreported too (no packet ever confirmed it here).
TEST(DriverResume, UnconfirmedResumeGoesDownUnreported) {
  asio::io_context io{1};
  DriverOptions oc = options(47891, 47892, 20'000);
  oc.peers[0].resume = SessionHandover{"127.0.0.1", true, 4242, 77, 20'000, 20'000, 3};
  std::string error;
  std::vector<StateChange> changes_c, changes_b;
  auto c = Driver::create(io, oc, [&](const StateChange& x) { changes_c.push_back(x); }, error);
  ASSERT_TRUE(c) << error;
  c->start();
  EXPECT_EQ(c->status().sessions[0].local_discriminator, 4242u);
  ASSERT_EQ(changes_c.size(), 1u);
  EXPECT_TRUE(changes_c[0].up);
  ASSERT_TRUE(test::run_until(io, [&] { return c->state("127.0.0.1") == bfd::State::Down; }, std::chrono::seconds(2)));
  EXPECT_EQ(changes_c.size(), 1u);
  // Now a peer that never had the session: its Down takes the resumed one Down
  // (unreported) and the two bring a session Up.
  c.reset();
  oc.peers[0].resume->local_discriminator = 4343;
  c = Driver::create(io, oc, [&](const StateChange& x) { changes_c.push_back(x); }, error);
  ASSERT_TRUE(c) << error;
  auto b = Driver::create(io, options(47892, 47891, 20'000), [&](const StateChange& x) { changes_b.push_back(x); },
                          error);
  ASSERT_TRUE(b) << error;
  changes_c.clear();
  b->start();
  c->start();
  ASSERT_TRUE(test::run_until(io, [&] { return changes_c.size() == 2 && b->state("127.0.0.1") == bfd::State::Up; },
                              std::chrono::seconds(5)));
  EXPECT_TRUE(changes_c[0].up);  // resumed
  EXPECT_TRUE(changes_c[1].up);  // up again, no Down in between
  EXPECT_EQ(c->state("127.0.0.1"), bfd::State::Up);
  EXPECT_EQ(c->status().sessions[0].down_transitions, 1u);
  c->stop();
  b->stop();
}

TEST(DriverCreate, XdpRequiredButUnavailableIsAClearError) {
  asio::io_context io;
  DriverOptions o;
  o.receive_path = "xdp";  // no interfaces: cannot attach anything
  std::string error;
  auto d = Driver::create(io, o, nullptr, error);
  EXPECT_FALSE(d);
  EXPECT_NE(error.find("receive_path = \"xdp\""), std::string::npos) << error;
}

TEST(DriverCreate, AutoFallsBackToUserSpace) {
  asio::io_context io;
  DriverOptions o;
  o.receive_path = "auto";
  o.interfaces = {"tandem-no-such0"};
  o.bind_address = "127.0.0.1";
  o.port = 47843;
  std::string error;
  auto d = Driver::create(io, o, nullptr, error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->path(), "user-space");
}

TEST(DriverCreate, BadPeerAddress) {
  asio::io_context io;
  DriverOptions o;
  o.receive_path = "user-space";
  DriverPeer p;
  p.address = "not-an-address";
  o.peers.push_back(p);
  std::string error;
  EXPECT_FALSE(Driver::create(io, o, nullptr, error));
  EXPECT_NE(error.find("not-an-address"), std::string::npos) << error;
}

}  // namespace
}  // namespace tandem::healthbpf
