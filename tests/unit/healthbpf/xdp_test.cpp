// Real BPF: the XDP program attached to a veth, real BFD packets sent through it.
#include <poll.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/udp_receiver.hpp"
#include "tests/unit/healthbpf/veth_pair.hpp"

namespace tandem::healthbpf {
namespace {

constexpr uint64_t kMs = 1'000'000;

class XdpTest : public test::VethPairTest<XdpTest> {
 protected:
  void SetUp() override {
    VethPairTest::SetUp();
    if (IsSkipped()) return;
    if (!load_xdp()) GTEST_SKIP() << skip_;
  }

  // Collect events until `enough` says so or `timeout_ms` passes.
  std::vector<hb_event> events(int timeout_ms, size_t enough = SIZE_MAX) {
    std::vector<hb_event> out;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < enough && std::chrono::steady_clock::now() < until) {
      pollfd p{table_->fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      table_->process(monotonic_ns(), [&](const hb_event& e) { out.push_back(e); });
    }
    return out;
  }

  // Wait until the slot's packet count reaches `n` (packets are dropped silently).
  bool wait_packets(uint32_t slot, uint64_t n) {
    for (int i = 0; i < 200; ++i) {
      if (table_->slot(slot).packets >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  bool wait_counter(hb_counter c, uint64_t n) {
    for (int i = 0; i < 200; ++i) {
      if (table_->counters()[c] >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

bfd::ControlPacket packet(bfd::State st, uint32_t my, uint32_t your) {
  bfd::ControlPacket p;
  p.state = st;
  p.my_discriminator = my;
  p.your_discriminator = your;
  p.desired_min_tx_us = 10'000;
  p.required_min_rx_us = 10'000;
  p.detect_mult = 3;
  return p;
}

bool send4(const bfd::ControlPacket& p, int ttl = 255) {
  auto b = bfd::encode(p);
  return test::peer_send("192.0.2.2", "192.0.2.1", 3784, b.data(), b.size(), ttl);
}

TEST_F(XdpTest, AttachesAndReportsTheMode) {
  ASSERT_EQ(loader_->attachments().size(), 1u);
  std::cout << "[ measured ] XDP on veth hb0: " << to_string(loader_->attachments()[0].mode)
            << "\n";
  EXPECT_EQ(table_->path(), to_string(loader_->attachments()[0].mode));
  // A second loader can still attach in generic mode elsewhere; detaching works.
  loader_->detach("hb0");
  EXPECT_TRUE(loader_->attachments().empty());
  std::string error;
  ASSERT_TRUE(loader_->attach("hb0", error, /*generic_only=*/true)) << error;
  EXPECT_EQ(loader_->attachments()[0].mode, XdpMode::Generic);
  EXPECT_FALSE(loader_->attach("nosuchif0", error));
  EXPECT_NE(error.find("nosuchif0"), std::string::npos);
}

TEST_F(XdpTest, FillsTheSlotAndSignalsOnlyChanges) {
  uint64_t before = monotonic_ns();
  ASSERT_TRUE(send4(packet(bfd::State::Down, 7, 0)));
  auto ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_NEW});
  const hb_slot& s = ev[0].snapshot;
  EXPECT_EQ(to_string(s.key), "addr 192.0.2.2 disc 7");
  EXPECT_EQ(ev[0].slot, *table_->find(s.key));
  EXPECT_EQ(s.remote_disc, 7u);
  EXPECT_EQ(s.remote_state, 1);
  EXPECT_EQ(s.remote_min_tx_us, 10'000u);
  EXPECT_EQ(s.remote_min_rx_us, 10'000u);
  EXPECT_EQ(s.detect_mult, 3);
  EXPECT_EQ(s.packets, 1u);
  EXPECT_GE(s.last_rx_ns, before);
  EXPECT_LE(s.last_rx_ns, monotonic_ns());
  EXPECT_NE(s.ifindex, 0u);

  // Once our discriminator is known the session moves to its discriminator slot.
  ASSERT_TRUE(send4(packet(bfd::State::Init, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(to_string(ev[0].snapshot.key), "disc 42");
  uint32_t slot = ev[0].slot;
  EXPECT_EQ(slot, hb_hash(&ev[0].snapshot.key) & (HB_TABLE_SLOTS - 1));

  // Steady state: counted, no events.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(send4(packet(bfd::State::Init, 7, 42)));
  ASSERT_TRUE(wait_packets(slot, 21));
  EXPECT_TRUE(events(100).empty());
  EXPECT_EQ(table_->slot(slot).packets, 21u);

  // Each kind of change raises exactly one event with the matching reason.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_STATE});
  auto p = packet(bfd::State::Up, 7, 42);
  p.desired_min_tx_us = 50'000;
  p.poll = true;
  ASSERT_TRUE(send4(p));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_TIMERS | HB_EV_POLL});
  EXPECT_EQ(ev[0].snapshot.remote_min_tx_us, 50'000u);
  p.poll = false;
  p.final = true;
  ASSERT_TRUE(send4(p));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_FINAL});
  EXPECT_TRUE(to_packet(ev[0].snapshot).final);
  EXPECT_EQ(table_->counters()[HB_CNT_VALID], 25u);
}

TEST_F(XdpTest, HandlesIpv6) {
  auto b = bfd::encode(packet(bfd::State::Down, 9, 0));
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, b.data(), b.size()));
  auto ev = events(3000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(to_string(ev[0].snapshot.key), "addr 2001:db8::2 disc 9");
  // Hop limit 64 is refused.
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, b.data(), b.size(), 64));
  EXPECT_TRUE(wait_counter(HB_CNT_BAD_TTL, 1));
}

TEST_F(XdpTest, ConsumesBfdAndPassesEverythingElse) {
  // Sockets on both ports: BFD must never reach the stack, other UDP must.
  UdpReceiverOptions o;
  o.bind_address = "192.0.2.1";
  std::string error;
  auto bfd_socket = UdpReceiver::open(o, error);
  ASSERT_TRUE(bfd_socket) << error;
  o.port = 3785;
  auto other = UdpReceiver::open(o, error);
  ASSERT_TRUE(other) << error;

  ASSERT_TRUE(send4(packet(bfd::State::Down, 7, 0)));
  auto malformed = bfd::encode(packet(bfd::State::Down, 7, 0));
  malformed[2] = 0;
  ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3784, malformed.data(), 24));
  auto b = bfd::encode(packet(bfd::State::Down, 8, 0));
  ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3785, b.data(), b.size()));

  ASSERT_TRUE(wait_counter(HB_CNT_ZERO_MULT, 1));
  std::vector<hb_event> seen;
  for (int i = 0; i < 100 && seen.empty(); ++i) {
    other->process(monotonic_ns(), [&](const hb_event& e) { seen.push_back(e); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(seen.size(), 1u) << "non-BFD port traffic did not pass";
  EXPECT_EQ(seen[0].snapshot.remote_disc, 8u);
  EXPECT_EQ(other->counters()[HB_CNT_VALID], 1u);
  bfd_socket->process(monotonic_ns(), [](const hb_event&) {});
  EXPECT_EQ(bfd_socket->counters()[HB_CNT_VALID], 0u) << "a BFD packet reached the stack";
  EXPECT_EQ(bfd_socket->counters()[HB_CNT_ZERO_MULT], 0u);
  EXPECT_EQ(table_->counters()[HB_CNT_VALID], 1u);
}

TEST_F(XdpTest, CountsBadTtlAndMalformedPacketsWithoutTouchingTheTable) {
  struct Bad {
    hb_counter counter;
    std::vector<uint8_t> bytes;
    int ttl;
  };
  auto base = bfd::encode(packet(bfd::State::Up, 7, 42));
  auto mutate = [&](auto f) {
    std::vector<uint8_t> b(base.begin(), base.end());
    f(b);
    return b;
  };
  std::vector<Bad> bad = {
      {HB_CNT_BAD_TTL, mutate([](auto&) {}), 254},
      {HB_CNT_BAD_TTL, mutate([](auto&) {}), 1},
      {HB_CNT_TRUNCATED, mutate([](auto& b) { b.resize(10); }), 255},
      {HB_CNT_TRUNCATED, mutate([](auto& b) { b.resize(23); }), 255},
      {HB_CNT_BAD_VERSION, mutate([](auto& b) { b[0] = (2 << 5); }), 255},
      {HB_CNT_BAD_LENGTH, mutate([](auto& b) { b[3] = 20; }), 255},
      {HB_CNT_BAD_LENGTH, mutate([](auto& b) { b[3] = 30; }), 255},
      {HB_CNT_ZERO_MULT, mutate([](auto& b) { b[2] = 0; }), 255},
      {HB_CNT_MULTIPOINT, mutate([](auto& b) { b[1] |= 1; }), 255},
      {HB_CNT_ZERO_MY_DISC, mutate([](auto& b) { b[4] = b[5] = b[6] = b[7] = 0; }), 255},
      {HB_CNT_ZERO_YOUR_DISC, mutate([](auto& b) { b[8] = b[9] = b[10] = b[11] = 0; }), 255},
      {HB_CNT_AUTH, mutate([](auto& b) { b[1] |= 4; }), 255},
  };
  std::array<uint64_t, HB_CNT_MAX> expect{};
  for (const Bad& x : bad) {
    ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3784, x.bytes.data(), x.bytes.size(),
                                x.ttl));
    ++expect[x.counter];
    ASSERT_TRUE(wait_counter(x.counter, expect[x.counter])) << to_string(x.counter);
  }
  Counters c = table_->counters();
  for (int k = HB_CNT_TRUNCATED; k <= HB_CNT_BAD_TTL; ++k)
    EXPECT_EQ(c.values[k], expect[k]) << to_string(static_cast<hb_counter>(k));
  EXPECT_EQ(c[HB_CNT_VALID], 0u);
  EXPECT_TRUE(events(50).empty());
  for (uint32_t i = 0; i < HB_TABLE_SLOTS; ++i)
    ASSERT_EQ(table_->slot(i).key.kind, uint32_t{HB_KEY_FREE}) << "slot " << i;
  // And a good packet after all that still works.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_EQ(events(2000, 1).size(), 1u);
}

TEST_F(XdpTest, KernelTimerSignalsDetectionExpiryAndRecovery) {
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  auto ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  uint32_t slot = ev[0].slot;
  // Not armed yet: no expiry however long we wait.
  EXPECT_TRUE(events(60).empty());
  table_->set_local_min_rx(slot, 10'000);  // detection = 3 x max(10 ms, 10 ms)
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_EXPIRED});
  uint64_t after = ev[0].ts_ns - ev[0].snapshot.last_rx_ns;
  std::cout << "[ measured ] kernel detection: " << double(after) / 1e6
            << " ms after the last packet (detection time 30 ms)\n";
  EXPECT_GE(after, 30 * kMs);
  EXPECT_LT(after, 500 * kMs);
  EXPECT_TRUE(table_->slot(slot).status & HB_STATUS_EXPIRED);
  EXPECT_EQ(table_->counters()[HB_CNT_EXPIRED], 1u);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev[0].what & HB_EV_RECOVERED);
  table_->set_local_min_rx(slot, 0);  // disarm before the re-armed timer fires
  // Released slots are reclaimed by the next packet as new.
  table_->release(slot);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev[0].what & HB_EV_NEW);
  EXPECT_EQ(ev[0].snapshot.packets, 1u);
}

}  // namespace
}  // namespace tandem::healthbpf
