// Graceful restart, restarting-speaker role (RFC 4724 §4.1): Speaker::start(err,
// /*restarting=*/true) sets the R bit, holds every UPDATE and End-of-RIB (selection
// deferral) until each graceful-restart peer sent its End-of-RIB or the deferral timer
// fires. End to end over real sockets in a private network namespace; tandem's peers
// are passive, so the scripted peers dial each session.
#include <gtest/gtest.h>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class RestartingSpeakerTest : public test::PrivateNetnsTest<RestartingSpeakerTest> {
 public:
  static constexpr const char* kNetnsSetup = kTwoPeerNetns;
};

constexpr const char* kNetwork = "198.51.100.0/24";  // originated by tandem ([[network]])
constexpr rib::PeerId kIdA = 1, kIdB = 2;          // ids of kPeerA, kPeerB (config order)

// tandem with one [[network]], peer A (and B), a deferral long enough not to fire.
config::Config restart_config(bool two_peers = false) {
  auto c = tandem_config();
  c.networks.push_back(grt::network(kNetwork));
  if (two_peers) c.peers.push_back(peer_config(kPeerB, 65003));
  c.graceful_restart.selection_deferral_time = 60;
  return c;
}

std::string keys(const std::map<std::string, wire::PathAttributes>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : " ") + k;
  return s.empty() ? "(none)" : s;
}

std::string describe(const std::map<std::string, std::vector<rib::PeerId>>& st) {
  std::string s;
  for (const auto& [f, ids] : st) {
    s += f + ":[";
    for (auto id : ids) s += std::to_string(id) + " ";
    s += "] ";
  }
  return s.empty() ? "(nothing deferred)" : s;
}

TEST_F(RestartingSpeakerTest, OpenHasRestartStateAndForwardingStatePerFamily) {
  auto c = restart_config();
  c.peers[0].families = {wire::kIpv4Unicast, wire::kIpv6Unicast};
  c.graceful_restart.forwarding_state = {wire::kIpv4Unicast};  // IPv6 listed, F=0
  Daemon d(c, /*restarting=*/true);
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.graceful_restart.has_value()) << "expected the GR capability in tandem's OPEN";
  const auto& gr = *open->caps.graceful_restart;
  EXPECT_TRUE(gr.restart_state) << "restarting and deferring: expected R=1 in tandem's OPEN, got R=0";
  std::map<std::string, bool> f;
  for (const auto& af : gr.families) f[af.family.to_string()] = af.forwarding_state;
  ASSERT_EQ(f.size(), 2u) << "expected both configured families in the GR capability";
  EXPECT_TRUE(f["ipv4-unicast"]) << "ipv4-unicast is in forwarding_state: expected F=1, got F=0";
  EXPECT_FALSE(f["ipv6-unicast"]) << "ipv6-unicast is not in forwarding_state: expected F=0, got F=1";
  peer.drop();
}

TEST_F(RestartingSpeakerTest, NewSessionAfterDeferralHasRestartStateZero) {
  Daemon d(restart_config(), true);
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open && open->caps.graceful_restart);
  EXPECT_TRUE(open->caps.graceful_restart->restart_state) << "expected R=1 while deferring";
  peer.end_of_rib();
  Received r;
  ASSERT_TRUE(peer.read_until_eor(r)) << "expected tandem's End-of-RIB once the peer's End-of-RIB arrived";
  ASSERT_FALSE(d.deferral_active()) << "expected the deferral to be over after the only GR peer's End-of-RIB";
  peer.drop();
  ScriptedPeer again;
  auto open2 = again.connect(gr_cap(2, false));
  ASSERT_TRUE(open2 && open2->caps.graceful_restart);
  EXPECT_FALSE(open2->caps.graceful_restart->restart_state)
      << "deferral over: a new session must get R=0, tandem sent R=1";
  again.drop();
}

TEST_F(RestartingSpeakerTest, FreshStartHasRestartStateZero) {
  Daemon d(restart_config(), /*restarting=*/false);
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open && open->caps.graceful_restart);
  EXPECT_FALSE(open->caps.graceful_restart->restart_state) << "not restarting: expected R=0, got R=1";
  EXPECT_FALSE(d.deferral_active()) << "not restarting: nothing may be deferred";
  Received r;
  EXPECT_TRUE(peer.read_until_eor(r)) << "not restarting: expected End-of-RIB without waiting for the peer's";
  peer.drop();
}

TEST_F(RestartingSpeakerTest, HoldsOutputUntilEveryGrPeerSentEndOfRib) {
  Daemon d(restart_config(true), true);
  ScriptedPeer a(kPeerA, 65002), b(kPeerB, 65003);
  ASSERT_TRUE(a.connect(gr_cap(2, false)).has_value());
  ASSERT_TRUE(b.connect(gr_cap(2, false)).has_value());
  a.announce({"10.1.0.0/24"});
  a.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes_of(kIdA).size() == 1; })) << "expected A's route in tandem's RIB";
  ASSERT_TRUE(d.wait_for([&] { return d.deferral_status()["ipv4-unicast"] == std::vector<rib::PeerId>{kIdB}; }))
      << "after A's End-of-RIB expected to wait for B only, status: " << describe(d.deferral_status());
  b.announce({"10.2.0.0/24"});
  // B has not sent End-of-RIB: neither peer may get any UPDATE or End-of-RIB yet.
  Received early_a = a.read_for(600ms), early_b = b.read_for(100ms);
  EXPECT_EQ(early_a.updates, 0u) << "deferring: A got " << early_a.updates << " UPDATEs (" << keys(early_a.announced)
                                 << (early_a.has_eor() ? " + End-of-RIB" : "") << ")";
  EXPECT_EQ(early_b.updates, 0u) << "deferring: B got " << early_b.updates << " UPDATEs (" << keys(early_b.announced)
                                 << (early_b.has_eor() ? " + End-of-RIB" : "") << ")";
  ASSERT_TRUE(d.wait_for([&] { return d.routes_of(kIdB).size() == 1; })) << "expected B's route in tandem's RIB";

  b.end_of_rib();
  Received ra, rb;
  ASSERT_TRUE(a.read_until_eor(ra)) << "expected End-of-RIB to A after every GR peer's End-of-RIB";
  ASSERT_TRUE(b.read_until_eor(rb)) << "expected End-of-RIB to B after every GR peer's End-of-RIB";
  // Before End-of-RIB: the whole table, including what the other peer sent meanwhile.
  EXPECT_EQ(keys(ra.announced), std::string("10.2.0.0/24 ") + kNetwork) << "routes sent to A before its End-of-RIB";
  EXPECT_EQ(keys(rb.announced), std::string("10.1.0.0/24 ") + kNetwork) << "routes sent to B before its End-of-RIB";
  EXPECT_EQ(ra.prefix_announcements, 2u) << "each route once to A";
  EXPECT_EQ(rb.prefix_announcements, 2u) << "each route once to B";
  EXPECT_FALSE(d.output_held()) << "output still held after the deferral";
  a.drop();
  b.drop();
}

TEST_F(RestartingSpeakerTest, DeferralStatusReflectsWhoIsAwaited) {
  Daemon d(restart_config(true), true);
  // Only IPv4 is configured on the peers: IPv6 (in [graceful_restart] families) has
  // nobody to wait for and is released at once.
  ASSERT_TRUE(d.wait_for([&] { return d.deferral_status().size() == 1; }))
      << "expected ipv4-unicast only to be deferred, status: " << describe(d.deferral_status());
  EXPECT_EQ(d.deferral_status()["ipv4-unicast"], (std::vector<rib::PeerId>{kIdA, kIdB}))
      << "before any session: both GR peers awaited, status: " << describe(d.deferral_status());
  EXPECT_TRUE(d.deferral_active());
  EXPECT_TRUE(d.output_held(wire::kIpv4Unicast)) << "ipv4-unicast output must be held while deferred";
  EXPECT_FALSE(d.output_held(wire::kIpv6Unicast)) << "ipv6-unicast released (nobody to wait for) but still held";

  ScriptedPeer a(kPeerA, 65002), b(kPeerB, 65003);
  ASSERT_TRUE(a.connect(gr_cap(2, false)).has_value());
  EXPECT_EQ(d.deferral_status()["ipv4-unicast"], (std::vector<rib::PeerId>{kIdA, kIdB}))
      << "A up without End-of-RIB: still awaited, status: " << describe(d.deferral_status());
  a.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.deferral_status()["ipv4-unicast"] == std::vector<rib::PeerId>{kIdB}; }))
      << "after A's End-of-RIB expected [B], status: " << describe(d.deferral_status());
  ASSERT_TRUE(b.connect(gr_cap(2, false)).has_value());
  b.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return !d.deferral_active(); }))
      << "after B's End-of-RIB expected nothing deferred, status: " << describe(d.deferral_status());
  EXPECT_TRUE(d.deferral_status().empty());
  a.drop();
  b.drop();
}

TEST_F(RestartingSpeakerTest, PeerWithoutGrCapabilityIsNotWaitedFor) {
  Daemon d(restart_config(true), true);
  ScriptedPeer a(kPeerA, 65002), b(kPeerB, 65003);
  ASSERT_TRUE(a.connect(std::nullopt).has_value());  // no GR capability
  ASSERT_TRUE(d.wait_for([&] { return d.deferral_status()["ipv4-unicast"] == std::vector<rib::PeerId>{kIdB}; }))
      << "A has no GR capability: expected to wait for B only, status: " << describe(d.deferral_status());
  ASSERT_TRUE(b.connect(gr_cap(2, false)).has_value());
  b.end_of_rib();
  Received ra;
  EXPECT_TRUE(a.read_until_eor(ra)) << "B's End-of-RIB alone must end the deferral; A got no End-of-RIB";
  EXPECT_EQ(ra.announced.count(kNetwork), 1u) << "A got: " << keys(ra.announced);
  a.drop();
  b.drop();
}

TEST_F(RestartingSpeakerTest, OnlyPeerWithoutGrCapabilityReleasesAtOnce) {
  Daemon d(restart_config(), true);
  ScriptedPeer a;
  auto open = a.connect(std::nullopt);
  ASSERT_TRUE(open.has_value());
  Received r;
  ASSERT_TRUE(a.read_until_eor(r)) << "the only peer is not waited for: expected End-of-RIB without its own";
  EXPECT_EQ(r.announced.count(kNetwork), 1u) << "expected our network before End-of-RIB, got: " << keys(r.announced);
  EXPECT_FALSE(d.deferral_active());
  a.drop();
}

// Commit 6c6ce62: unlike RFC 4724 §4.1, a peer with its own R bit is still waited for
// (we set R too, so no deadlock); the deferral timer bounds the wait.
TEST_F(RestartingSpeakerTest, PeerWithItsOwnRestartStateIsStillWaitedFor) {
  Daemon d(restart_config(), true);
  ScriptedPeer a;
  ASSERT_TRUE(a.connect(gr_cap(2, false, true, /*restart_state=*/true)).has_value());
  Received early = a.read_for(500ms);
  EXPECT_EQ(early.updates, 0u) << "a peer with R=1 is still waited for: expected nothing before its End-of-RIB, got "
                               << early.updates << " UPDATEs";
  EXPECT_EQ(d.deferral_status()["ipv4-unicast"], std::vector<rib::PeerId>{kIdA})
      << "status: " << describe(d.deferral_status());
  a.end_of_rib();
  Received r;
  ASSERT_TRUE(a.read_until_eor(r)) << "expected our End-of-RIB after the peer's";
  EXPECT_EQ(r.announced.count(kNetwork), 1u) << "expected our network before End-of-RIB, got: " << keys(r.announced);
  EXPECT_FALSE(d.deferral_active()) << "status: " << describe(d.deferral_status());
  a.drop();
}

TEST_F(RestartingSpeakerTest, DeferralTimerReleasesOutputWithoutEndOfRib) {
  auto c = restart_config();
  c.graceful_restart.selection_deferral_time = 1;
  auto t0 = std::chrono::steady_clock::now();
  Daemon d(c, true);
  ScriptedPeer a;
  ASSERT_TRUE(a.connect(gr_cap(2, false)).has_value());
  a.announce({"10.1.0.0/24"});  // never sends End-of-RIB
  EXPECT_TRUE(d.deferral_active()) << "expected to be deferring right after the session came up";
  Received r;
  ASSERT_TRUE(a.read_until_eor(r, 3000ms)) << "the 1 s selection deferral timer must release output";
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_GE(waited.count(), 900) << "End-of-RIB came after " << waited.count() << " ms, before the 1 s deferral";
  EXPECT_EQ(r.announced.count(kNetwork), 1u) << "got: " << keys(r.announced);
  EXPECT_FALSE(d.deferral_active());
  a.drop();
}

TEST_F(RestartingSpeakerTest, NoFamiliesHoldsNothing) {
  auto c = restart_config();
  c.graceful_restart.families.clear();
  c.graceful_restart.forwarding_state.clear();
  Daemon d(c, true);
  EXPECT_FALSE(d.deferral_active()) << "families = []: nothing may be deferred";
  EXPECT_FALSE(d.output_held()) << "families = []: output must not be held";
  ScriptedPeer a;
  auto open = a.connect(gr_cap(2, false));
  ASSERT_TRUE(open && open->caps.graceful_restart);
  EXPECT_FALSE(open->caps.graceful_restart->restart_state) << "helper only: expected R=0";
  Received r;
  EXPECT_TRUE(a.read_until_eor(r)) << "nothing held: expected End-of-RIB without the peer's";
  EXPECT_EQ(r.announced.count(kNetwork), 1u) << "got: " << keys(r.announced);
  a.drop();
}

TEST_F(RestartingSpeakerTest, DisabledHoldsNothing) {
  auto c = restart_config();
  c.graceful_restart.enabled = false;
  Daemon d(c, true);
  EXPECT_FALSE(d.deferral_active()) << "enabled = false: nothing may be deferred";
  EXPECT_FALSE(d.output_held()) << "enabled = false: output must not be held";
  ScriptedPeer a;
  auto open = a.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  EXPECT_FALSE(open->caps.graceful_restart.has_value()) << "enabled = false: no GR capability expected";
  Received r;
  EXPECT_TRUE(a.read_until_eor(r)) << "nothing held: expected End-of-RIB without the peer's";
  EXPECT_EQ(r.announced.count(kNetwork), 1u) << "got: " << keys(r.announced);
  a.drop();
}

TEST_F(RestartingSpeakerTest, PeerWithGrDisabledIsNotWaitedFor) {
  auto c = restart_config(true);
  c.peers[1].graceful_restart = false;  // B: no GR on our side
  Daemon d(c, true);
  ASSERT_TRUE(d.wait_for([&] { return d.deferral_status()["ipv4-unicast"] == std::vector<rib::PeerId>{kIdA}; }))
      << "B has GR disabled: expected to wait for A only, status: " << describe(d.deferral_status());
  ScriptedPeer a(kPeerA, 65002);
  ASSERT_TRUE(a.connect(gr_cap(2, false)).has_value());
  a.end_of_rib();
  Received r;
  EXPECT_TRUE(a.read_until_eor(r)) << "A's End-of-RIB alone must end the deferral";
  a.drop();
}

// tandem's peer is active: the session runs over tandem's outgoing connection, whose
// FSM re-dials by itself after the session ends (IdleHold, 5 s: this test is slow).
// The same Connection re-dials, so it must have re-read our capabilities (R=0 now).
TEST_F(RestartingSpeakerTest, RedialAfterDeferralHasRestartStateZero) {
  auto c = restart_config();
  c.peers[0].passive = false;
  c.peers[0].connect_retry = 1;
  asio::io_context io;
  auto listener = listen_at(io, kPeerA);
  Daemon d(c, true);
  ScriptedPeer peer;
  auto open = peer.accept_from(*listener, OpenCaps{gr_cap(2, false), {}});
  ASSERT_TRUE(open && open->caps.graceful_restart);
  EXPECT_TRUE(open->caps.graceful_restart->restart_state) << "expected R=1 while deferring";
  peer.end_of_rib();
  Received r;
  ASSERT_TRUE(peer.read_until_eor(r)) << "expected tandem's End-of-RIB after the peer's";
  ASSERT_FALSE(d.deferral_active());
  peer.drop();
  ScriptedPeer again;
  auto open2 = again.accept_from(*listener, OpenCaps{gr_cap(2, false), {}}, 9000ms);
  ASSERT_TRUE(open2 && open2->caps.graceful_restart);
  EXPECT_FALSE(open2->caps.graceful_restart->restart_state)
      << "deferral over: the re-dialled session must get R=0, tandem sent R=1";
  again.drop();
}

}  // namespace
}  // namespace tandem::session
