// Graceful restart, helper role (RFC 4724 §4.2, RFC 8538), end to end over real
// sockets in a private network namespace: a scripted peer speaks BGP to a live
// Speaker (tandem's peer is passive, so the scripted peer dials each session),
// announces prefixes, then ends the session in various ways; the test checks what the
// RIB keeps, marks stale and removes, and the peer's GR state.
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class GracefulRestartTest : public test::PrivateNetnsTest<GracefulRestartTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo";
};

TEST_F(GracefulRestartTest, AdvertisesCapabilityWithForwardingStatePerFamily) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.graceful_restart.has_value());
  const auto& gr = *open->caps.graceful_restart;
  EXPECT_FALSE(gr.restart_state);  // a fresh start, not a restart
  EXPECT_TRUE(gr.notification);
  EXPECT_EQ(gr.restart_time, 100);
  // [graceful_restart] families (both by default) limited to the peer's (IPv4 only).
  ASSERT_EQ(gr.families.size(), 1u);
  EXPECT_EQ(gr.families[0].family, wire::kIpv4Unicast);
  EXPECT_TRUE(gr.families[0].forwarding_state);
  EXPECT_FALSE(open->caps.llgr.has_value());  // long_lived_stale_time = 0
  peer.drop();
}

TEST_F(GracefulRestartTest, HelperOnlyCapabilityWhenNoFamiliesConfigured) {
  auto c = tandem_config();
  c.graceful_restart.families.clear();
  c.graceful_restart.forwarding_state.clear();
  Daemon d(c);
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.graceful_restart.has_value());
  EXPECT_TRUE(open->caps.graceful_restart->families.empty());  // RFC 4724 §3: helper only
  peer.drop();
}

TEST_F(GracefulRestartTest, DisabledPeerDoesNotAdvertiseNorHelp) {
  auto c = tandem_config();
  c.peers[0].graceful_restart = false;
  Daemon d(c);
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(gr_cap(30, false)).has_value());
  peer.drop();
  ScriptedPeer p2;
  auto open = p2.connect(gr_cap(30, false));
  ASSERT_TRUE(open.has_value());
  EXPECT_FALSE(open->caps.graceful_restart.has_value());
  p2.announce(kPrefixes);
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }));
  p2.drop();
  EXPECT_TRUE(d.wait_for([&] { return d.routes().empty(); }));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, DropWithoutNotificationKeepsStaleThenEndOfRibSweeps) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(2, false));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);

  peer.drop();  // TCP closed, no NOTIFICATION
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
  EXPECT_EQ(d.loc_rib(), kPrefixes.size());  // still used for forwarding
  auto st = d.status();
  EXPECT_GE(st.gr_timer_remaining_seconds, 1u);
  EXPECT_LE(st.gr_timer_remaining_seconds, 2u);
  EXPECT_EQ(st.gr_stale_families, std::vector<wire::Family>{wire::kIpv4Unicast});

  // The peer comes back within its restart time and re-announces all but one prefix.
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(2, false)).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingEor; }));
  again.announce({kPrefixes[0], kPrefixes[1]});
  ASSERT_TRUE(d.wait_for([&] {
    auto rr = d.routes();
    return rr.size() == 3 && !rr[kPrefixes[0]] && !rr[kPrefixes[1]] && rr[kPrefixes[2]];
  }));
  // The restart timer (2 s) no longer runs: the stale route waits for End-of-RIB.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(d.routes().size(), 3u);
  EXPECT_EQ(d.status().gr_state, GrHelperState::WaitingEor);

  again.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::None; }));
  r = d.routes();
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.count(kPrefixes[2]), 0u);
  EXPECT_TRUE(all_stale(r, false));
  again.drop();
}

TEST_F(GracefulRestartTest, RestartTimerExpiryRemovesStaleRoutes) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(1, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  EXPECT_EQ(d.routes().size(), kPrefixes.size());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 4000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  EXPECT_EQ(d.loc_rib(), 0u);
}

TEST_F(GracefulRestartTest, HardResetRemovesRoutesAtOnce) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, true));
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kHardReset, {wire::err::kCease, wire::err::kAdminReset}});
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, NotificationWithNBitKeepsStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, true));
  EXPECT_TRUE(d.status().gr_notification);
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kAdminReset, {}});
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
}

TEST_F(GracefulRestartTest, NotificationWithoutNBitRemovesRoutes) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  EXPECT_FALSE(d.status().gr_notification);
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kAdminReset, {}});
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, PeerWithoutCapabilityLosesRoutesAtOnce) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, std::nullopt);
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, ReestablishedWithoutForwardingStateRemovesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  EXPECT_EQ(d.routes().size(), kPrefixes.size());
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false, /*forwarding=*/false)).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  again.drop();
}

TEST_F(GracefulRestartTest, ReestablishedWithoutCapabilityRemovesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(std::nullopt).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  again.drop();
}

TEST_F(GracefulRestartTest, SecondDropBeforeEndOfRibKeepsRoutesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false)).has_value());
  again.announce({kPrefixes[0]});
  ASSERT_TRUE(d.wait_for([&] { return !d.routes()[kPrefixes[0]]; }));
  again.drop();  // down again before End-of-RIB
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
  EXPECT_GE(d.status().gr_timer_remaining_seconds, 99u);
}

}  // namespace
}  // namespace tandem::session
