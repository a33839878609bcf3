// The send hold timer (RFC 9687): a peer that stops reading while tandem has data for
// it is torn down after send_hold_time, instead of pinning the session and its queued
// memory. Real sockets in a private netns whose TCP buffers are made small, so that a
// table of 50,000 prefixes cannot fit in them.
#include <gtest/gtest.h>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class SendHoldTest : public test::PrivateNetnsTest<SendHoldTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo && "
      "sysctl -q -w net.ipv4.tcp_wmem='4096 16384 16384' net.ipv4.tcp_rmem='4096 8192 8192'";
};

config::Config with_table(uint32_t send_hold_time) {
  auto c = tandem_config();
  c.peers[0].send_hold_time = send_hold_time;
  for (uint32_t i = 0; i < 50000; ++i) {
    config::NetworkConfig n;
    n.prefix = wire::Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24);
    c.networks.push_back(n);
  }
  return c;
}

TEST_F(SendHoldTest, APeerThatStopsReadingIsTornDown) {
  Daemon d(with_table(2));
  ScriptedPeer peer;
  peer.rcvbuf = 4096;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  // From here on the peer reads nothing: tandem's table fills both buffers.
  ASSERT_TRUE(d.wait_for([&] { return d.status().state == fsm::State::Established; }));
  EXPECT_TRUE(d.wait_for([&] { return d.status().state != fsm::State::Established; }, 8000ms))
      << "the session must end about send_hold_time (2 s) after the peer stopped reading";
  EXPECT_NE(d.status().last_error.find("Send Hold Timer Expired"), std::string::npos) << d.status().last_error;
}

TEST_F(SendHoldTest, APeerThatReadsKeepsTheSession) {
  Daemon d(with_table(2));
  ScriptedPeer peer;
  peer.rcvbuf = 4096;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  // Read slowly but steadily, one message (about 1,000 prefixes) every 100 ms: the
  // table takes longer than the send hold time to get through, but every write makes
  // some progress.
  Received r;
  auto start = std::chrono::steady_clock::now();
  while (!r.has_eor() && std::chrono::steady_clock::now() - start < 30s) {
    if (!peer.read_one(r, 3000ms)) break;
    std::this_thread::sleep_for(100ms);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(r.has_eor()) << "the whole table and End-of-RIB must arrive";
  EXPECT_EQ(r.announced.size(), 50000u);
  EXPECT_GT(took.count(), 2000) << "the slow read must outlast the send hold time to prove anything";
  EXPECT_EQ(d.status().state, fsm::State::Established) << d.status().last_error;
  peer.drop();
}

}  // namespace
}  // namespace tandem::session
