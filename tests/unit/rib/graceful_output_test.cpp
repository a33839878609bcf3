// Graceful restart in the RIB: output held during selection deferral
// (Rib::hold_output / release_output, RFC 4724 §4.1) and long-lived stale routes
// (Rib::enter_llgr, RFC 9494).
#include <algorithm>

#include "rib_test_util.hpp"

namespace rib_test {
namespace {

constexpr uint32_t kLlgrStale = wire::community::kLlgrStale;
constexpr uint32_t kNoLlgr = wire::community::kNoLlgr;

bool has_community(const PathAttributes& a, uint32_t c) {
  return std::find(a.communities.begin(), a.communities.end(), c) != a.communities.end();
}

size_t count_of(const Received& r, const Prefix& p) {
  size_t n = 0;
  for (const auto& [q, a] : r.announced) n += q == p;
  return n;
}

std::string order_of(const Received& r) {
  std::string s;
  for (const auto& o : r.order) s += (s.empty() ? "" : ",") + o;
  return s.empty() ? "(nothing)" : s;
}

// The peer's Adj-RIB-In attributes for a prefix (nullopt if none).
std::optional<PathAttributes> adj_in(const Rib& rib, PeerId peer, const Prefix& p) {
  std::optional<PathAttributes> out;
  rib.for_each_adj_in(peer, p.family(), [&](const Prefix& q, const rib::PathView& v) {
    if (q == p) out = *v.attrs;
  });
  return out;
}

// ---------------------------------------------------------------- hold / release

class HeldOutput : public ::testing::Test {
 protected:
  Rib rib{config()};
  PeerInfo e1 = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  PeerInfo e2 = ebgp(2, 65002, "10.9.0.2", 0x02020202);
  void hold_both() {
    rib.hold_output(wire::kIpv4Unicast);
    rib.hold_output(wire::kIpv6Unicast);
  }
};

TEST_F(HeldOutput, OutputHeldReportsPerFamily) {
  EXPECT_FALSE(rib.output_held(wire::kIpv4Unicast)) << "nothing held by default";
  rib.hold_output(wire::kIpv4Unicast);
  EXPECT_TRUE(rib.output_held(wire::kIpv4Unicast)) << "ipv4 was held";
  EXPECT_FALSE(rib.output_held(wire::kIpv6Unicast)) << "only ipv4 was held";
  rib.release_output(wire::kIpv4Unicast);
  EXPECT_FALSE(rib.output_held(wire::kIpv4Unicast)) << "ipv4 was released";
}

TEST_F(HeldOutput, NothingProducedWhileHeldNotEvenEndOfRib) {
  hold_both();
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.originate(P("2001:db8:100::/48"), attrs({}, nullptr));
  rib.peer_up(e2);
  EXPECT_FALSE(rib.has_output(2)) << "held: expected no output pending for the peer";
  std::vector<uint8_t> out;
  EXPECT_EQ(rib.take_output(2, 1 << 20, out), 0u) << "held: take_output must produce nothing (no End-of-RIB)";
}

TEST_F(HeldOutput, OtherFamilyIsNotHeld) {
  rib.hold_output(wire::kIpv4Unicast);
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.originate(P("2001:db8:100::/48"), attrs({}, nullptr));
  rib.peer_up(e2);
  auto got = drain(rib, e2);
  ASSERT_EQ(got.announced.size(), 1u) << "only the IPv6 route expected, order " << order_of(got);
  EXPECT_EQ(got.announced[0].first, P("2001:db8:100::/48"));
  EXPECT_EQ(got.eor, std::vector<wire::Family>{wire::kIpv6Unicast}) << "End-of-RIB for IPv6 only, order "
                                                                    << order_of(got);
}

TEST_F(HeldOutput, ReleaseSendsOneFullDumpThenEndOfRib) {
  hold_both();
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.peer_up(e1);
  rib.peer_up(e2);
  announce(rib, e1, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  EXPECT_FALSE(rib.has_output(1) || rib.has_output(2)) << "held: nothing may be pending";

  rib.release_output(wire::kIpv4Unicast);
  auto to2 = drain(rib, e2);
  auto t = to2.table();
  EXPECT_EQ(t.size(), 3u) << "e2 must get our network and both of e1's routes, order " << order_of(to2);
  EXPECT_EQ(to2.announced.size(), 3u) << "each route exactly once";
  EXPECT_TRUE(to2.withdrawn.empty());
  EXPECT_EQ(to2.eor, std::vector<wire::Family>{wire::kIpv4Unicast}) << "order " << order_of(to2);
  ASSERT_FALSE(to2.order.empty());
  EXPECT_EQ(to2.order.back(), "EOR") << "End-of-RIB must follow the routes, order " << order_of(to2);

  auto to1 = drain(rib, e1);
  EXPECT_EQ(to1.table().size(), 1u) << "e1 gets our network only (not its own routes), order " << order_of(to1);
  EXPECT_EQ(to1.eor, std::vector<wire::Family>{wire::kIpv4Unicast});

  rib.release_output(wire::kIpv6Unicast);
  auto v6 = drain(rib, e2);
  EXPECT_TRUE(v6.announced.empty());
  EXPECT_EQ(v6.eor, std::vector<wire::Family>{wire::kIpv6Unicast}) << "IPv6 release: its End-of-RIB, order "
                                                                   << order_of(v6);
  auto again = drain(rib, e2);
  EXPECT_EQ(again.updates, 0u) << "after the dump nothing more is pending, order " << order_of(again);
}

TEST_F(HeldOutput, ChangesWhileHeldAreIncludedOnce) {
  hold_both();
  rib.peer_up(e1);
  rib.peer_up(e2);
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.originate(P("198.51.101.0/24"), attrs({}, nullptr));
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001}));
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001, 65010}));  // changed while held
  announce(rib, e1, {P("10.3.0.0/16")}, attrs({65001}));
  withdraw(rib, e1, {P("10.3.0.0/16")});            // came and went while held
  rib.withdraw_local(P("198.51.101.0/24"));         // ditto
  rib.release_output(wire::kIpv4Unicast);
  auto got = drain(rib, e2);
  EXPECT_EQ(count_of(got, P("198.51.100.0/24")), 1u) << "order " << order_of(got);
  ASSERT_EQ(count_of(got, P("10.1.0.0/16")), 1u) << "a route changed while held must be sent once, order "
                                                  << order_of(got);
  EXPECT_EQ(got.table()[P("10.1.0.0/16")].as_path.to_string(), "65000 65001 65010") << "with its latest attributes";
  EXPECT_EQ(count_of(got, P("10.3.0.0/16")), 0u) << "gone before the release: never sent";
  EXPECT_EQ(count_of(got, P("198.51.101.0/24")), 0u) << "withdrawn before the release: never sent";
  EXPECT_TRUE(got.withdrawn.empty()) << "nothing was advertised before: nothing to withdraw";
  EXPECT_EQ(got.eor.size(), 1u) << "one End-of-RIB, order " << order_of(got);

  // After the release changes flow incrementally again.
  announce(rib, e1, {P("10.4.0.0/16")}, attrs({65001}));
  auto inc = drain(rib, e2);
  EXPECT_EQ(inc.table().size(), 1u) << "the new route only, order " << order_of(inc);
  EXPECT_TRUE(inc.eor.empty()) << "no second End-of-RIB, order " << order_of(inc);
}

TEST_F(HeldOutput, RouteRefreshRequestedWhileHeldIsCoveredByTheDump) {
  hold_both();
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.peer_up(e2);
  rib.request_refresh(2, wire::kIpv4Unicast, /*enhanced=*/true);
  rib.request_refresh(2, wire::kIpv4Unicast, /*enhanced=*/false);
  EXPECT_FALSE(rib.has_output(2)) << "held: a route refresh must not produce anything (no BoRR either)";
  rib.release_output(wire::kIpv4Unicast);
  auto got = drain(rib, e2);
  EXPECT_EQ(count_of(got, P("198.51.100.0/24")), 1u) << "the dump covers the refresh: once, order " << order_of(got);
  EXPECT_EQ(got.eor.size(), 1u) << "order " << order_of(got);
  EXPECT_TRUE(got.refresh.empty()) << "no BoRR/EoRR for a refresh absorbed by the dump, order " << order_of(got);
}

TEST_F(HeldOutput, PeerDownWhileHeldThenUpAfterRelease) {
  hold_both();
  rib.originate(P("198.51.100.0/24"), attrs({}, nullptr));
  rib.peer_up(e2);
  rib.peer_down(2);
  rib.release_output(wire::kIpv4Unicast);
  EXPECT_FALSE(rib.has_output(2)) << "a peer that went down while held gets nothing at release";
  rib.peer_up(e2);
  auto got = drain(rib, e2);
  EXPECT_EQ(count_of(got, P("198.51.100.0/24")), 1u) << "order " << order_of(got);
  EXPECT_EQ(got.eor, std::vector<wire::Family>{wire::kIpv4Unicast})
      << "IPv4 released, IPv6 still held: one End-of-RIB, order " << order_of(got);
}

// ---------------------------------------------------------------- LLGR

class Llgr : public ::testing::Test {
 protected:
  Rib rib{config()};
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 0x01010101);     // goes long-lived stale
  PeerInfo alt = ebgp(4, 65004, "10.9.0.4", 0x04040404);     // an alternative path
  PeerInfo plain = ebgp(2, 65002, "10.9.0.2", 0x02020202);   // no LLGR capability
  PeerInfo capable = ebgp(3, 65003, "10.9.0.3", 0x03030303); // LLGR capability
  void SetUp() override {
    capable.llgr = true;
    for (auto* p : {&src, &alt, &plain, &capable}) {
      rib.peer_up(*p);
      drain(rib, *p);
    }
    announce(rib, src, {P("10.1.0.0/16"), P("10.3.0.0/16")}, attrs({65001}));
    auto no_llgr = attrs({65001});
    no_llgr.communities = {kNoLlgr};
    announce(rib, src, {P("10.2.0.0/16")}, no_llgr);
    for (auto* p : {&alt, &plain, &capable}) drain(rib, *p);
  }
  // The session with src ends gracefully; its routes go stale, then long-lived stale.
  size_t go_llgr(size_t& removed) {
    rib.peer_down_graceful(1, {wire::kIpv4Unicast});
    return rib.enter_llgr(1, wire::kIpv4Unicast, removed);
  }
};

TEST_F(Llgr, CountsKeptAndRemoved) {
  size_t removed = 99;
  size_t kept = go_llgr(removed);
  EXPECT_EQ(kept, 2u) << "two stale routes without NO_LLGR are kept";
  EXPECT_EQ(removed, 1u) << "the NO_LLGR route is removed";
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 2u) << "kept routes stay stale";
}

TEST_F(Llgr, AddsLlgrStaleAndRemovesNoLlgr) {
  size_t removed = 0;
  go_llgr(removed);
  auto a = adj_in(rib, 1, P("10.1.0.0/16"));
  ASSERT_TRUE(a) << "kept route missing from Adj-RIB-In";
  EXPECT_TRUE(has_community(*a, kLlgrStale)) << "expected LLGR_STALE (65535:6) on the kept route";
  EXPECT_EQ(std::count(a->communities.begin(), a->communities.end(), kLlgrStale), 1);
  EXPECT_FALSE(adj_in(rib, 1, P("10.2.0.0/16"))) << "the NO_LLGR route must be gone";
  EXPECT_FALSE(best(rib, P("10.2.0.0/16")).second) << "the NO_LLGR route must be gone from the Loc-RIB";
}

TEST_F(Llgr, OnlyStalePathsAreAffected) {
  size_t removed = 7;
  size_t kept = rib.enter_llgr(1, wire::kIpv4Unicast, removed);  // session still up: nothing stale
  EXPECT_EQ(kept, 0u) << "fresh paths are not long-lived stale";
  EXPECT_EQ(removed, 0u) << "fresh NO_LLGR paths are not removed";
  auto a = adj_in(rib, 1, P("10.1.0.0/16"));
  ASSERT_TRUE(a);
  EXPECT_FALSE(has_community(*a, kLlgrStale)) << "a fresh path must not get LLGR_STALE";
  EXPECT_TRUE(adj_in(rib, 1, P("10.2.0.0/16"))) << "a fresh NO_LLGR path must stay";
}

TEST_F(Llgr, EnteringTwiceDoesNotAddTheCommunityTwice) {
  size_t removed = 0;
  go_llgr(removed);
  size_t kept = rib.enter_llgr(1, wire::kIpv4Unicast, removed);
  EXPECT_EQ(kept, 2u);
  EXPECT_EQ(removed, 0u);
  auto a = adj_in(rib, 1, P("10.1.0.0/16"));
  ASSERT_TRUE(a);
  EXPECT_EQ(std::count(a->communities.begin(), a->communities.end(), kLlgrStale), 1)
      << "LLGR_STALE must appear once";
}

TEST_F(Llgr, DecisionPrefersAPathWithoutLlgrStale) {
  announce(rib, alt, {P("10.3.0.0/16")}, attrs({65004, 65010, 65011}));  // longer AS path
  EXPECT_EQ(best(rib, P("10.3.0.0/16")).first, 1u) << "before LLGR the shorter path (src) is best";
  size_t removed = 0;
  go_llgr(removed);
  EXPECT_EQ(best(rib, P("10.3.0.0/16")).first, 4u) << "an LLGR-stale path must lose to any other path";
  auto b = best(rib, P("10.1.0.0/16"));
  EXPECT_EQ(b.first, 1u) << "with no other path the LLGR-stale one is still used";
}

TEST_F(Llgr, ExportWithdrawnFromPeerWithoutLlgr) {
  size_t removed = 0;
  go_llgr(removed);
  auto got = drain(rib, plain);
  std::set<Prefix> w(got.withdrawn.begin(), got.withdrawn.end());
  EXPECT_EQ(w, (std::set<Prefix>{P("10.1.0.0/16"), P("10.2.0.0/16"), P("10.3.0.0/16")}))
      << "a peer without LLGR must get every route of src withdrawn, order " << order_of(got);
  EXPECT_TRUE(got.announced.empty()) << "nothing may be announced to a peer without LLGR, order " << order_of(got);
}

TEST_F(Llgr, ExportAdvertisedWithCommunityToLlgrPeer) {
  size_t removed = 0;
  go_llgr(removed);
  auto got = drain(rib, capable);
  auto t = got.table();
  ASSERT_EQ(t.size(), 2u) << "the LLGR peer must be re-sent the two kept routes, order " << order_of(got);
  for (const auto& [p, a] : t) EXPECT_TRUE(has_community(a, kLlgrStale)) << p.to_string() << " without LLGR_STALE";
  std::set<Prefix> w(got.withdrawn.begin(), got.withdrawn.end());
  EXPECT_EQ(w, std::set<Prefix>{P("10.2.0.0/16")}) << "only the NO_LLGR route is withdrawn from the LLGR peer";
}

TEST_F(Llgr, NewPeersGetLlgrStaleRoutesOnlyIfCapable) {
  size_t removed = 0;
  go_llgr(removed);
  PeerInfo late_plain = ebgp(5, 65005, "10.9.0.5", 0x05050505);
  PeerInfo late_capable = ebgp(6, 65006, "10.9.0.6", 0x06060606);
  late_capable.llgr = true;
  rib.peer_up(late_plain);
  rib.peer_up(late_capable);
  auto p = drain(rib, late_plain);
  EXPECT_TRUE(p.table().empty()) << "initial dump to a peer without LLGR must skip LLGR-stale routes, order "
                                 << order_of(p);
  auto c = drain(rib, late_capable);
  EXPECT_EQ(c.table().size(), 2u) << "initial dump to an LLGR peer includes them, order " << order_of(c);
}

}  // namespace
}  // namespace rib_test
