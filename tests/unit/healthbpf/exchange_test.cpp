// Two BFD sessions talking over the veth: side A receives through the XDP table in
// the test's namespace, side B through the user-space receiver in the peer namespace.
// They reach Up; then one side falls silent and the other must declare it Down.
#include <poll.h>
#include <time.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "healthbpf/session_fsm.hpp"
#include "healthbpf/udp_receiver.hpp"
#include "healthbpf/udp_sender.hpp"
#include "tests/unit/healthbpf/veth_pair.hpp"

namespace tandem::healthbpf {
namespace {

constexpr uint64_t kMs = 1'000'000;

// What the daemon will do per session: FSM actions to I/O, table events to the FSM.
struct Side {
  Side(bfd::SessionConfig c, HealthSource* s, std::unique_ptr<UdpSender> t)
      : fsm(c), source(s), tx(std::move(t)) {}
  bfd::Session fsm;
  HealthSource* source;
  std::unique_ptr<UdpSender> tx;
  std::optional<uint64_t> tx_deadline;
  bool silent = false;          // stop sending and processing (simulated death)
  uint64_t last_sent_ns = 0;
  std::optional<uint64_t> down_at;  // when it went Up -> Down
  bfd::Diag down_diag = bfd::Diag::None;
  std::optional<uint64_t> up_at;

  void apply(const std::vector<bfd::Action>& actions, uint64_t now) {
    for (const auto& a : actions) {
      if (auto* s = std::get_if<bfd::act::Send>(&a)) {
        if (!silent && tx->send(s->packet)) last_sent_ns = now;
      } else if (auto* t = std::get_if<bfd::act::ArmTimer>(&a)) {
        // Detection comes from the table (kernel timer or SoftTable::expire).
        if (t->timer == bfd::Timer::Transmit) tx_deadline = t->deadline_ns;
      } else if (auto* c = std::get_if<bfd::act::CancelTimer>(&a)) {
        if (c->timer == bfd::Timer::Transmit) tx_deadline.reset();
      } else if (auto* sc = std::get_if<bfd::act::StateChanged>(&a)) {
        if (sc->to == bfd::State::Up) up_at = now;
        if (sc->from == bfd::State::Up && sc->to == bfd::State::Down) {
          down_at = now;
          down_diag = sc->diag;
        }
      }
    }
  }

  void on_event(const hb_event& e, uint64_t now) {
    const hb_slot& s = e.snapshot;
    bool ours = s.key.kind == HB_KEY_DISC && s.key.disc == fsm.config().local_discriminator;
    if (e.what & HB_EV_EXPIRED) {
      if (ours) apply(fsm.handle(bfd::ev::TimerExpired{bfd::Timer::Detection, now}), now);
      return;
    }
    if (ours && (e.what & HB_EV_NEW))
      source->set_local_min_rx(e.slot, fsm.config().required_min_rx_us);
    apply(fsm.handle(bfd::ev::Received{to_packet(s), now}), now);
  }

  void run_timers(uint64_t now) {
    if (tx_deadline && *tx_deadline <= now) {
      tx_deadline.reset();
      apply(fsm.handle(bfd::ev::TimerExpired{bfd::Timer::Transmit, now}), now);
    }
  }
};

class ExchangeTest : public test::VethPairTest<ExchangeTest> {
 protected:
  void SetUp() override {
    VethPairTest::SetUp();
    if (IsSkipped()) return;
    if (!load_xdp()) GTEST_SKIP() << skip_;
    std::string error;
    auto tx_a = UdpSender::open("192.0.2.1", "192.0.2.2", "", error);
    ASSERT_TRUE(tx_a) << error;
    std::unique_ptr<UdpSender> tx_b;
    test::in_peer([&] {
      UdpReceiverOptions o;
      o.bind_address = "192.0.2.2";
      user_space_ = UdpReceiver::open(o, error);
      if (user_space_) tx_b = UdpSender::open("192.0.2.2", "192.0.2.1", "", error);
    });
    ASSERT_TRUE(user_space_ && tx_b) << error;
    a_ = std::make_unique<Side>(config(0xA1), table_.get(), std::move(tx_a));
    b_ = std::make_unique<Side>(config(0xB2), user_space_.get(), std::move(tx_b));
  }

  static bfd::SessionConfig config(uint32_t disc) {
    bfd::SessionConfig c;
    c.local_discriminator = disc;
    c.desired_min_tx_us = 10'000;
    c.required_min_rx_us = 10'000;
    c.detect_mult = 3;
    c.jitter_seed = disc;
    return c;
  }

  // The event loop of both sides until `done` or `timeout_ms`.
  template <class Done>
  bool run(int timeout_ms, Done done) {
    uint64_t end = monotonic_ns() + uint64_t(timeout_ms) * kMs;
    while (!done()) {
      uint64_t now = monotonic_ns();
      if (now >= end) return false;
      uint64_t next = end;
      for (Side* s : {a_.get(), b_.get()}) {
        if (s->silent) continue;
        if (s->tx_deadline) next = std::min(next, *s->tx_deadline);
        if (auto d = s->source->next_deadline()) next = std::min(next, *d);
      }
      pollfd fds[2] = {{a_->source->fd(), POLLIN, 0}, {b_->source->fd(), POLLIN, 0}};
      timespec ts{};
      uint64_t wait = next > now ? next - now : 0;
      ts.tv_sec = static_cast<time_t>(wait / 1'000'000'000ull);
      ts.tv_nsec = static_cast<long>(wait % 1'000'000'000ull);
      ::ppoll(fds, 2, &ts, nullptr);
      now = monotonic_ns();
      for (Side* s : {a_.get(), b_.get()}) {
        if (s->silent) continue;
        s->source->process(now, [&](const hb_event& e) { s->on_event(e, now); });
        s->run_timers(now);
      }
    }
    return true;
  }

  void bring_up() {
    uint64_t t0 = monotonic_ns();
    a_->apply(a_->fsm.handle(bfd::ev::Start{t0}), t0);
    b_->apply(b_->fsm.handle(bfd::ev::Start{t0}), t0);
    ASSERT_TRUE(run(10'000, [&] {
      return a_->fsm.state() == bfd::State::Up && b_->fsm.state() == bfd::State::Up &&
             !a_->fsm.polling() && !b_->fsm.polling();
    })) << "A " << to_string(a_->fsm.state()) << ", B " << to_string(b_->fsm.state());
    std::cout << "[ measured ] both Up after " << double(monotonic_ns() - t0) / 1e6
              << " ms (XDP side " << a_->source->path() << ")\n";
    // Steady state for a while. Both sides share this one thread: on a loaded machine
    // a scheduling stall longer than the 30 ms detection time is a real (and correct)
    // detection, so it is reported, not failed; the sessions must come back Up.
    for (int i = 0; i < 5 && run(300, [&] { return a_->down_at || b_->down_at; }); ++i) {
      Side& d = a_->down_at ? *a_ : *b_;
      Side& o = a_->down_at ? *b_ : *a_;
      std::cout << "[ note ] spurious Down (" << to_string(d.down_diag) << ") "
                << double(*d.down_at - o.last_sent_ns) / 1e6
                << " ms after the peer's last packet: the machine stalled us; retrying\n";
      a_->down_at.reset();
      b_->down_at.reset();
      ASSERT_TRUE(run(10'000, [&] {
        return a_->fsm.state() == bfd::State::Up && b_->fsm.state() == bfd::State::Up;
      }));
    }
    ASSERT_FALSE(a_->down_at || b_->down_at) << "sessions keep flapping";
    EXPECT_EQ(a_->fsm.tx_interval_ns(), 10 * kMs);
    EXPECT_EQ(b_->fsm.tx_interval_ns(), 10 * kMs);
  }

  void expect_detection(Side& survivor, Side& victim, const char* what) {
    victim.silent = true;
    ASSERT_TRUE(run(2'000, [&] { return survivor.down_at.has_value(); }))
        << what << " never noticed";
    double ms = double(*survivor.down_at - victim.last_sent_ns) / 1e6;
    std::cout << "[ measured ] " << what << " detected Down " << ms
              << " ms after the last packet (detect mult 3 x 10 ms = 30 ms)\n";
    EXPECT_EQ(survivor.down_diag, bfd::Diag::ControlDetectionExpired);
    EXPECT_GE(ms, 20.0);  // not before (jittered) detection time could have passed
    EXPECT_LT(ms, 500.0);  // generous: timing judgements belong to bench/heartbeat
  }

  std::unique_ptr<UdpReceiver> user_space_;
  std::unique_ptr<Side> a_, b_;
};

TEST_F(ExchangeTest, ReachUpThenTheXdpSideDetectsThePeersSilence) {
  bring_up();
  if (HasFatalFailure()) return;
  expect_detection(*a_, *b_, "XDP side (kernel bpf_timer)");
  Counters c = table_->counters();
  std::cout << "[ measured ] XDP side counted " << c[HB_CNT_VALID] << " valid packets, "
            << c[HB_CNT_EVENTS] << " events\n";
  // Events are a small fraction of packets: nothing per packet in steady state.
  EXPECT_LT(c[HB_CNT_EVENTS] * 5, c[HB_CNT_VALID]);
}

TEST_F(ExchangeTest, ReachUpThenTheUserSpaceSideDetectsThePeersSilence) {
  bring_up();
  if (HasFatalFailure()) return;
  expect_detection(*b_, *a_, "user-space side (SoftTable)");
}

}  // namespace
}  // namespace tandem::healthbpf
