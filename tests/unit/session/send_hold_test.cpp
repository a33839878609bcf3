// The send hold timer (RFC 9687): a peer that stops reading while tandem has data for
// it is torn down after send_hold_time, instead of pinning the session and its queued
// memory. Real sockets in a private netns whose TCP buffers are made small, so that a
// table of 50,000 prefixes cannot fit in them.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

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

// TCP_NOTSENT_LOWAT on the session's socket: with a send buffer of 4 MB from the start,
// a peer that reads nothing still finds at most about 128 KiB unsent in tandem's kernel
// queue, a batch in tandem's own buffers, and the rest of a 100,000-prefix table in the
// RIB (where later changes coalesce); a KEEPALIVE is never behind megabytes. When the
// peer reads again, the whole table arrives.
class UnsentBoundTest : public test::PrivateNetnsTest<UnsentBoundTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo && "
      "sysctl -q -w net.ipv4.tcp_wmem='4096 4194304 4194304'";
};

TEST_F(UnsentBoundTest, AStalledPeerLeavesTheTableInTheRib) {
  spdlog::set_level(spdlog::level::warn);  // not 100,000 "originating" lines
  auto c = tandem_config();
  for (uint32_t i = 0; i < 100000; ++i) {
    config::NetworkConfig n;
    n.prefix = wire::Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24);
    c.networks.push_back(n);
  }
  Daemon d(c);
  ScriptedPeer peer;
  peer.rcvbuf = 4096;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().state == fsm::State::Established; }));
  std::this_thread::sleep_for(1000ms);  // tandem writes what the socket takes
  struct Seen {
    std::optional<TcpQueues> q;
    size_t queued = 0;
    std::string why;
  };
  auto seen = d.on_loop([&] {
    Seen s;
    Peer* p = d.speaker().find_peer(addr(kPeerA));
    Connection* conn = p ? p->established_connection() : nullptr;
    if (!conn) return s;
    s.q = conn->tcp_queues(s.why);
    s.queued = conn->queued_bytes();
    return s;
  });
  ASSERT_TRUE(seen.q) << seen.why;
  EXPECT_LE(seen.q->unsent, 128u * 1024 + 64 * 1024) << "unsent bytes in tandem's kernel queue";
  EXPECT_LE(seen.queued, 256u * 1024 + 64 * 1024 + 4096) << "bytes in tandem's own buffers";
  Received r;
  ASSERT_TRUE(peer.read_until_eor(r, 20000ms));
  EXPECT_EQ(r.announced.size(), 100000u);
  EXPECT_EQ(d.status().state, fsm::State::Established) << d.status().last_error;
  // Everything written: nothing queued (queued_bytes() once underflowed between writes,
  // the last write's size being subtracted from an emptied buffer).
  EXPECT_TRUE(d.wait_for([&] { return d.on_loop([&] { return d.speaker().queued_output_bytes(); }) == 0; }))
      << d.on_loop([&] { return d.speaker().queued_output_bytes(); });
  peer.drop();
}

}  // namespace
}  // namespace tandem::session
