// Long-lived graceful restart, helper role (RFC 9494), and the restarted peer whose new
// connection arrives while its old session is still Established (RFC 4724 §4.2), end
// to end over real sockets in a private network namespace.
#include <gtest/gtest.h>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class LlgrTest : public test::PrivateNetnsTest<LlgrTest> {
 public:
  static constexpr const char* kNetnsSetup = kTwoPeerNetns;
};

constexpr uint32_t kLlgrStale = wire::community::kLlgrStale;  // 65535:6
constexpr uint32_t kNoLlgr = wire::community::kNoLlgr;        // 65535:7
constexpr const char* kNoLlgrPrefix = "10.0.9.0/24";          // announced with NO_LLGR

config::Config llgr_config() {
  auto c = tandem_config();
  c.graceful_restart.long_lived_stale_time = 5;
  return c;
}

// GR restart time 1 s (N=0) + LLGR stale time 2 s.
OpenCaps gr_llgr(uint16_t restart_time = 1, uint32_t stale_time = 2) {
  return OpenCaps{gr_cap(restart_time, false), llgr_cap(stale_time)};
}

std::string show(const std::map<std::string, RouteView>& rs) {
  std::string s;
  for (const auto& [p, r] : rs)
    s += p + (r.stale ? "(stale" : "(fresh") + (r.has_community(kLlgrStale) ? ",LLGR_STALE) " : ") ");
  return s.empty() ? "(none)" : s;
}

// kPrefixes plus kNoLlgrPrefix (with NO_LLGR), End-of-RIB; the session then drops.
void establish_and_drop(Daemon& d, ScriptedPeer& peer, const OpenCaps& caps) {
  ASSERT_TRUE(peer.connect(caps).has_value());
  peer.announce(kPrefixes);
  peer.announce({kNoLlgrPrefix}, {kNoLlgr});
  peer.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size() + 1; }))
      << "expected 4 routes, have " << show(d.routes_of(kPeerId));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state != GrHelperState::None; }, 2000ms))
      << "expected the peer's routes kept after the drop";
}

void wait_llgr(Daemon& d) {
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::LongLivedStale; }, 3000ms))
      << "expected LongLivedStale after the 1 s restart time, state " << to_string(d.status().gr_state);
}

TEST_F(LlgrTest, OpenCarriesLlgrCapabilityWithOurStaleTime) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  auto open = peer.connect(gr_llgr());
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.llgr.has_value()) << "long_lived_stale_time = 5: expected the LLGR capability";
  ASSERT_EQ(open->caps.llgr->families.size(), 1u) << "expected one family (the peer's ipv4-unicast)";
  const auto& af = open->caps.llgr->families[0];
  EXPECT_EQ(af.family, wire::kIpv4Unicast);
  EXPECT_EQ(af.stale_time, 5u) << "expected our long_lived_stale_time";
  EXPECT_TRUE(af.forwarding_state) << "ipv4-unicast is in forwarding_state: expected F=1";
  ASSERT_TRUE(open->caps.graceful_restart.has_value()) << "LLGR goes with the GR capability";
  peer.drop();
}

TEST_F(LlgrTest, DropKeepsRoutesStaleWithoutLlgrStaleDuringRestartTime) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr(2, 2));
  EXPECT_EQ(d.status().gr_state, GrHelperState::WaitingRestart);
  auto rs = d.routes_of(kPeerId);
  ASSERT_EQ(rs.size(), 4u) << show(rs);
  for (const auto& [p, r] : rs) {
    EXPECT_TRUE(r.stale) << p << " must be stale during the restart time";
    EXPECT_FALSE(r.has_community(kLlgrStale)) << p << " must not carry LLGR_STALE before the restart time is over";
  }
  EXPECT_TRUE(d.status().llgr_stale_families.empty()) << "no family is long-lived stale yet";
}

TEST_F(LlgrTest, AfterRestartTimeRoutesGetLlgrStaleAndNoLlgrOnesAreRemoved) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr());
  wait_llgr(d);
  auto rs = d.routes_of(kPeerId);
  EXPECT_EQ(rs.count(kNoLlgrPrefix), 0u) << "the NO_LLGR route must be removed on entering LLGR: " << show(rs);
  ASSERT_EQ(rs.size(), kPrefixes.size()) << show(rs);
  for (const auto& [p, r] : rs) {
    EXPECT_TRUE(r.stale) << p << " must stay stale";
    EXPECT_TRUE(r.has_community(kLlgrStale)) << p << " must carry LLGR_STALE (65535:6): " << show(rs);
  }
  auto st = d.status();
  EXPECT_EQ(st.llgr_stale_families, std::vector<wire::Family>{wire::kIpv4Unicast});
  EXPECT_EQ(st.gr_stale_families, std::vector<wire::Family>{wire::kIpv4Unicast});
  EXPECT_LE(st.gr_timer_remaining_seconds, 2u) << "the long-lived stale timer (2 s) must be the one running";
  EXPECT_EQ(d.loc_rib(), kPrefixes.size()) << "LLGR-stale routes are still usable";
}

TEST_F(LlgrTest, LongLivedStaleTimeExpiryRemovesRoutes) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr());
  wait_llgr(d);
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3500ms))
      << "expected the routes removed after the 2 s long-lived stale time, have " << show(d.routes_of(kPeerId));
  auto st = d.status();
  EXPECT_EQ(st.gr_state, GrHelperState::None) << "got " << to_string(st.gr_state);
  EXPECT_TRUE(st.llgr_stale_families.empty());
  EXPECT_TRUE(st.gr_stale_families.empty());
  EXPECT_EQ(d.loc_rib(), 0u);
}

TEST_F(LlgrTest, ReestablishedDuringLlgrSweepsOnlyUnrefreshedAndClearsLlgrStale) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr(1, 3));
  wait_llgr(d);
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_llgr(1, 3)).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingEor; }))
      << "re-established during LLGR: expected WaitingEor, got " << to_string(d.status().gr_state);
  EXPECT_TRUE(d.status().llgr_stale_families.empty()) << "the session is back: no family is long-lived stale";
  again.announce({kPrefixes[0]});
  ASSERT_TRUE(d.wait_for([&] {
    auto rs = d.routes_of(kPeerId);
    return rs.count(kPrefixes[0]) && !rs[kPrefixes[0]].stale;
  })) << show(d.routes_of(kPeerId));
  auto rs = d.routes_of(kPeerId);
  EXPECT_FALSE(rs[kPrefixes[0]].has_community(kLlgrStale)) << "re-announced route must lose LLGR_STALE: " << show(rs);
  EXPECT_TRUE(rs[kPrefixes[1]].stale && rs[kPrefixes[1]].has_community(kLlgrStale))
      << "not yet re-announced: must stay stale with LLGR_STALE: " << show(rs);
  again.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::None; }))
      << "End-of-RIB must end the helper state, got " << to_string(d.status().gr_state);
  rs = d.routes_of(kPeerId);
  ASSERT_EQ(rs.size(), 1u) << "only the refreshed route must survive End-of-RIB: " << show(rs);
  EXPECT_FALSE(rs[kPrefixes[0]].stale);
  EXPECT_FALSE(rs[kPrefixes[0]].has_community(kLlgrStale)) << show(rs);
  again.drop();
}

TEST_F(LlgrTest, RestartTimeZeroGoesLongLivedStaleAtOnce) {
  Daemon d(llgr_config());
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr(/*restart_time=*/0, 2));
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::LongLivedStale; }, 500ms))
      << "GR restart time 0 + LLGR: expected LongLivedStale at once, got " << to_string(d.status().gr_state);
  auto rs = d.routes_of(kPeerId);
  ASSERT_EQ(rs.size(), kPrefixes.size()) << "NO_LLGR route removed, others kept: " << show(rs);
  for (const auto& [p, r] : rs) EXPECT_TRUE(r.has_community(kLlgrStale)) << show(rs);
  EXPECT_EQ(d.status().llgr_stale_families, std::vector<wire::Family>{wire::kIpv4Unicast});
}

TEST_F(LlgrTest, WithoutOurLlgrCapabilityRoutesGoAfterRestartTime) {
  Daemon d(tandem_config());  // long_lived_stale_time = 0: we do not advertise LLGR
  ScriptedPeer peer;
  establish_and_drop(d, peer, gr_llgr());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms))
      << "LLGR not negotiated: routes must go after the 1 s restart time, have " << show(d.routes_of(kPeerId));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

// What peer B (eBGP, no LLGR / with LLGR) is sent when A's routes enter LLGR.
void check_export_to_b(Daemon& d, ScriptedPeer& b, bool b_llgr) {
  ScriptedPeer a(kPeerA, 65002);
  ASSERT_TRUE(a.connect(gr_llgr(1, 3)).has_value());
  a.announce(kPrefixes);
  a.end_of_rib();
  Received first;
  ASSERT_TRUE(b.read_until_eor(first));
  auto end = std::chrono::steady_clock::now() + 3s;
  while (first.announced.size() < kPrefixes.size() && std::chrono::steady_clock::now() < end) {
    auto more = b.read_for(100ms);
    for (auto& [p, at] : more.announced) first.announced[p] = at;
  }
  ASSERT_EQ(first.announced.size(), kPrefixes.size()) << "B must first get A's routes";
  a.drop();
  wait_llgr(d);
  Received later;
  end = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < end) {
    auto more = b.read_for(100ms);
    for (auto& w : more.withdrawn) later.withdrawn.push_back(w);
    for (auto& [p, at] : more.announced) later.announced[p] = at;
    if (b_llgr ? later.announced.size() == kPrefixes.size() : later.withdrawn.size() == kPrefixes.size()) break;
  }
  if (b_llgr) {
    EXPECT_TRUE(later.withdrawn.empty()) << "an LLGR peer must keep LLGR-stale routes";
    ASSERT_EQ(later.announced.size(), kPrefixes.size()) << "an LLGR peer must be re-sent the routes with LLGR_STALE";
    for (const auto& [p, at] : later.announced) {
      bool tagged = false;
      for (auto c : at.communities) tagged |= c == kLlgrStale;
      EXPECT_TRUE(tagged) << p << " sent to the LLGR peer without LLGR_STALE";
    }
  } else {
    EXPECT_EQ(later.withdrawn.size(), kPrefixes.size()) << "a peer without LLGR must get the LLGR-stale routes "
                                                           "withdrawn (RFC 9494 §4.6)";
    EXPECT_TRUE(later.announced.empty()) << "nothing may be announced to a peer without LLGR";
  }
}

TEST_F(LlgrTest, LlgrStaleRoutesWithdrawnFromPeerWithoutLlgr) {
  auto c = llgr_config();
  c.peers.push_back(peer_config(kPeerB, 65003));
  Daemon d(c);
  ScriptedPeer b(kPeerB, 65003);
  ASSERT_TRUE(b.connect(std::nullopt).has_value());
  check_export_to_b(d, b, false);
}

TEST_F(LlgrTest, LlgrStaleRoutesAdvertisedToLlgrPeerWithCommunity) {
  auto c = llgr_config();
  c.peers.push_back(peer_config(kPeerB, 65003));
  Daemon d(c);
  ScriptedPeer b(kPeerB, 65003);
  ASSERT_TRUE(b.connect(gr_llgr(100, 100)).has_value());
  check_export_to_b(d, b, true);
}

// ---- RFC 4724 §4.2: the restarted peer connects again while we are still Established ----

TEST_F(LlgrTest, RestartedPeerNewIncomingConnectionEndsOldSession) {
  Daemon d(tandem_config());  // tandem's peer is passive: the old connection was incoming
  ScriptedPeer old;
  establish_with_routes(d, old, gr_cap(100, false));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false)).has_value())
      << "the restarted peer's new connection must be accepted while the old session is Established";
  EXPECT_TRUE(old.closed_by_tandem(3000ms)) << "the old session's connection must be closed";
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingEor; }))
      << "expected the helper waiting for the new session's End-of-RIB, got " << to_string(d.status().gr_state);
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size()) << "the old session's routes must be kept";
  EXPECT_TRUE(all_stale(r, true)) << "the old session's routes must be stale";
  EXPECT_EQ(d.status().state, fsm::State::Established);
  again.announce({kPrefixes[0]});
  again.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == 1 && d.status().gr_state == GrHelperState::None; }))
      << "End-of-RIB on the new session must sweep the unrefreshed routes";
  again.drop();
}

TEST_F(LlgrTest, NewIncomingConnectionRefusedWithoutGr) {
  Daemon d(tandem_config());
  ScriptedPeer old;
  establish_with_routes(d, old, std::nullopt);  // no GR negotiated
  ScriptedPeer again;
  EXPECT_FALSE(again.try_connect(OpenCaps{gr_cap(100, false), {}}).has_value())
      << "without GR on the old session a second connection must be refused (collision)";
  EXPECT_EQ(d.status().state, fsm::State::Established) << "the old session must stay up";
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, false)) << "the old session's routes must stay fresh";
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  EXPECT_TRUE(old.connected() && !old.closed_by_tandem(200ms)) << "the old connection must stay open";
  old.drop();
}

// The old session ran over tandem's outgoing connection.
config::Config active_config() {
  auto c = tandem_config();
  c.peers[0].passive = false;
  return c;
}

TEST_F(LlgrTest, RestartedPeerNewConnectionEndsOldOutgoingSession) {
  asio::io_context io;
  auto listener = listen_at(io, kPeerA);
  Daemon d(active_config());
  ScriptedPeer old;
  ASSERT_TRUE(old.accept_from(*listener, OpenCaps{gr_cap(100, false), {}}).has_value());
  old.announce(kPrefixes);
  old.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false)).has_value())
      << "an OPEN with GR on a new connection must end the old (outgoing) session and come up";
  EXPECT_TRUE(old.closed_by_tandem(3000ms)) << "the old session's connection must be closed";
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingEor; }))
      << "got " << to_string(d.status().gr_state);
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size()) << "the old session's routes must be kept";
  EXPECT_TRUE(all_stale(r, true)) << "the old session's routes must be stale";
  again.drop();
}

void refused_while_outgoing_established(std::chrono::milliseconds keepalive_delay) {
  asio::io_context io;
  auto listener = listen_at(io, kPeerA);
  Daemon d(active_config());
  ScriptedPeer old;
  ASSERT_TRUE(old.accept_from(*listener, OpenCaps{gr_cap(100, false), {}}).has_value());
  old.announce(kPrefixes);
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }));
  ScriptedPeer again;
  EXPECT_FALSE(again.try_connect(OpenCaps{{}, {}, keepalive_delay}).has_value())
      << "an OPEN without GR while Established is a collision and must be refused";
  EXPECT_TRUE(old.connected() && !old.closed_by_tandem(300ms)) << "the old connection must stay open";
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size()) << "the old session's routes must stay";
  EXPECT_TRUE(all_stale(r, false)) << "the old session's routes must stay fresh";
  old.drop();
}

// The new connection's OPEN and KEEPALIVE reach tandem apart.
TEST_F(LlgrTest, NewOpenWithoutGrRefusedWhileOutgoingSessionEstablished) {
  refused_while_outgoing_established(200ms);
}

// OPEN and KEEPALIVE in one read: Fsm::handle returns [OpenReceived, ..., Established]
// in one batch; on_open_received feeds CollisionLost re-entrantly, and the rest of the
// (now stale) batch must not be applied, or the losing connection would become the
// session and the real one would be closed (Connection::feed's generation check).
TEST_F(LlgrTest, NewOpenWithoutGrRefusedWhileOutgoingSessionEstablishedOneBurst) {
  refused_while_outgoing_established(0ms);
}

// RFC 4724 §4.2 speaks of an OPEN with the GR capability: a bare TCP connection from the
// peer's address (no OPEN) must not end a healthy session that runs over an incoming
// connection (Peer::accept holds it apart as the contender until its OPEN).
TEST_F(LlgrTest, ConnectionWithoutOpenDoesNotEndIncomingGrSession) {
  Daemon d(tandem_config());
  ScriptedPeer old;
  establish_with_routes(d, old, gr_cap(100, false));
  {
    asio::io_context io;
    tcp::socket probe(io);
    probe.open(tcp::v4());
    probe.bind(tcp::endpoint(asio::ip::make_address(kPeerA), 0));
    probe.connect(tcp::endpoint(asio::ip::make_address(kTandem), 179));
    boost::system::error_code ec;
    probe.close(ec);  // no OPEN
  }
  EXPECT_FALSE(old.closed_by_tandem(1000ms)) << "a connection without an OPEN must not end the Established session";
  EXPECT_EQ(d.status().gr_state, GrHelperState::None) << "got " << to_string(d.status().gr_state);
  EXPECT_TRUE(all_stale(d.routes(), false)) << "routes must stay fresh";
}

}  // namespace
}  // namespace tandem::session
