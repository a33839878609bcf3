// One test per decision-process tie-breaker, each checked with both arrival orders.
#include <algorithm>

#include "bgpd/rib/decision.hpp"
#include "rib_test_util.hpp"

namespace rib_test {
namespace {

struct Contender {
  PeerInfo peer;
  PathAttributes attrs;
};

// Announce 10.1.0.0/16 from every contender in the given order; return the best peer.
PeerId winner(const std::vector<Contender>& cs, const std::vector<size_t>& order) {
  Rib rib(config());
  for (const auto& c : cs) rib.peer_up(c.peer);
  for (size_t i : order) {
    auto r = announce(rib, cs[i].peer, {P("10.1.0.0/16")}, cs[i].attrs);
    EXPECT_EQ(r.announced, 1u) << r.reason;
  }
  return best(rib, P("10.1.0.0/16")).first;
}

// The winner must be the same for every arrival order.
PeerId winner_all_orders(const std::vector<Contender>& cs) {
  std::vector<size_t> order(cs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  PeerId w = winner(cs, order);
  while (std::next_permutation(order.begin(), order.end())) {
    EXPECT_EQ(winner(cs, order), w);
  }
  return w;
}

PathAttributes with_lp(PathAttributes a, uint32_t lp) {
  a.local_pref = lp;
  return a;
}

TEST(Decision, LlgrStaleLosesToAnyOther) {
  // The LLGR_STALE one has a better LOCAL_PREF and router id: it still loses.
  auto stale = with_lp(attrs({}), 300);
  stale.communities = {wire::community::kLlgrStale};
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.1", 1), stale},
                               {ibgp(2, "10.9.0.2", 9), with_lp(attrs({}), 100)}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, HighestLocalPref) {
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.1", 1), with_lp(attrs({}), 100)},
                               {ibgp(2, "10.9.0.2", 9), with_lp(attrs({}), 200)}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, EbgpRouteCountsAsLocalPref100) {
  // eBGP (no LOCAL_PREF: 100) vs iBGP 150 -> iBGP; vs iBGP 50 -> eBGP.
  std::vector<Contender> hi = {{ebgp(1, 65001, "10.9.0.1", 1), attrs({65001})},
                               {ibgp(2, "10.9.0.2", 9), with_lp(attrs({65001, 65002}), 150)}};
  EXPECT_EQ(winner_all_orders(hi), 2u);
  std::vector<Contender> lo = {{ebgp(1, 65001, "10.9.0.1", 9), attrs({65001, 65003})},
                               {ibgp(2, "10.9.0.2", 1), with_lp(attrs({65001}), 50)}};
  EXPECT_EQ(winner_all_orders(lo), 1u);
}

TEST(Decision, LocallyOriginatedOverLearned) {
  for (int order = 0; order < 2; ++order) {
    Rib rib(config());
    // iBGP route with the same LOCAL_PREF, empty AS_PATH and a lower router id.
    PeerInfo b = ibgp(2, "10.9.0.2", 1);
    rib.peer_up(b);
    if (order == 0) rib.originate(P("10.1.0.0/16"), attrs({}, "192.0.2.9"));
    announce(rib, b, {P("10.1.0.0/16")}, with_lp(attrs({}), 100));
    if (order == 1) rib.originate(P("10.1.0.0/16"), attrs({}, "192.0.2.9"));
    EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, rib::kLocalPeer) << "order " << order;
  }
}

TEST(Decision, ShortestAsPath) {
  // The longer path has the better router id and address.
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 1), attrs({65001, 65010, 65011})},
                               {ebgp(2, 65002, "10.9.0.2", 9), attrs({65002, 65011})}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, AsSetCountsAsOne) {
  auto set_path = attrs({65001});
  set_path.as_path.segments.push_back(
      wire::AsPathSegment{wire::AsPathSegment::Set, {65010, 65011, 65012}});
  // {65001 {65010,65011,65012}} has length 2 < 3.
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 9), set_path},
                               {ebgp(2, 65002, "10.9.0.2", 1), attrs({65002, 65020, 65021})}};
  EXPECT_EQ(winner_all_orders(cs), 1u);
}

TEST(Decision, LowestOrigin) {
  auto egp = attrs({65001, 65010});
  egp.origin = wire::Origin::Egp;
  auto incomplete = attrs({65002, 65010});
  incomplete.origin = wire::Origin::Incomplete;
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 9), egp},
                               {ebgp(2, 65002, "10.9.0.2", 1), incomplete}};
  EXPECT_EQ(winner_all_orders(cs), 1u);
}

TEST(Decision, LowestMedFromSameNeighbourAs) {
  auto m10 = attrs({65001, 65010});
  m10.med = 10;
  auto m5 = attrs({65001, 65010});
  m5.med = 5;
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 1), m10},
                               {ebgp(2, 65001, "10.9.0.2", 9), m5}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, MissingMedIsZero) {
  auto none = attrs({65001, 65010});
  auto m5 = attrs({65001, 65010});
  m5.med = 5;
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 9), none},
                               {ebgp(2, 65001, "10.9.0.2", 1), m5}};
  EXPECT_EQ(winner_all_orders(cs), 1u);
}

TEST(Decision, MedIgnoredBetweenDifferentNeighbourAs) {
  auto m100 = attrs({65001, 65010});
  m100.med = 100;
  auto m1 = attrs({65002, 65010});
  m1.med = 1;
  // Different neighbour AS: MED not compared, the router id decides.
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 1), m100},
                               {ebgp(2, 65002, "10.9.0.2", 9), m1}};
  EXPECT_EQ(winner_all_orders(cs), 1u);
}

TEST(Decision, MedDeterministicWhateverTheOrder) {
  // A and B from AS 65001 (B has the lower MED), C from AS 65002 with the lowest router
  // id. Pairwise comparison would depend on the order; elimination does not: C wins.
  auto a = attrs({65001, 65010});
  a.med = 10;
  auto b = attrs({65001, 65010});
  b.med = 5;
  auto c = attrs({65002, 65010});
  c.med = 50;
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.1", 2), a},
                               {ebgp(2, 65001, "10.9.0.2", 3), b},
                               {ebgp(3, 65002, "10.9.0.3", 1), c}};
  EXPECT_EQ(winner_all_orders(cs), 3u);
}

TEST(Decision, EbgpOverIbgp) {
  std::vector<Contender> cs = {{ebgp(1, 65001, "10.9.0.9", 9), attrs({65001})},
                               {ibgp(2, "10.9.0.1", 1), with_lp(attrs({65001}), 100)}};
  EXPECT_EQ(winner_all_orders(cs), 1u);
}

TEST(Decision, LowestRouterId) {
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.1", 0x03030303), with_lp(attrs({65001}), 100)},
                               {ibgp(2, "10.9.0.2", 0x02020202), with_lp(attrs({65001}), 100)}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, OriginatorIdReplacesRouterId) {
  auto reflected = with_lp(attrs({65001}), 100);
  reflected.originator_id = 0x01010101;  // lower than both router ids
  reflected.cluster_list = {0x0B0B0B0B};
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.1", 0x02020202), with_lp(attrs({65001}), 100)},
                               {ibgp(2, "10.9.0.2", 0x03030303), reflected}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, ShortestClusterList) {
  auto a = with_lp(attrs({65001}), 100);
  a.originator_id = 0x01010101;
  a.cluster_list = {0x0B0B0B0B, 0x0C0C0C0C};
  auto b = a;
  b.cluster_list = {0x0D0D0D0D};
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.1", 1), a}, {ibgp(2, "10.9.0.2", 9), b}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, LowestPeerAddress) {
  // Same router id (e.g. two sessions to one router): the address decides.
  std::vector<Contender> cs = {{ibgp(1, "10.9.0.7", 5), with_lp(attrs({65001}), 100)},
                               {ibgp(2, "10.9.0.3", 5), with_lp(attrs({65001}), 100)}};
  EXPECT_EQ(winner_all_orders(cs), 2u);
}

TEST(Decision, GracefulRestartStaleLosesTies) {
  Rib rib(config());
  PeerInfo a = ibgp(1, "10.9.0.1", 1);
  PeerInfo b = ibgp(2, "10.9.0.2", 9);
  rib.peer_up(a);
  rib.peer_up(b);
  announce(rib, a, {P("10.1.0.0/16")}, with_lp(attrs({65001}), 100));
  announce(rib, b, {P("10.1.0.0/16")}, with_lp(attrs({65001}), 100));
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);
  rib.peer_down_graceful(1);  // a's route kept, stale
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 2u);
  rib.peer_down(2);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);  // stale is still usable
  rib.peer_up(a);
  announce(rib, a, {P("10.1.0.0/16")}, with_lp(attrs({65001}), 100));  // fresh again
  EXPECT_EQ(rib.sweep_stale(1), 0u);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);
}

TEST(Decision, StaleSweep) {
  Rib rib(config());
  PeerInfo a = ibgp(1, "10.9.0.1", 1);
  rib.peer_up(a);
  announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, with_lp(attrs({65001}), 100));
  rib.peer_down_graceful(1);
  rib.peer_up(a);
  announce(rib, a, {P("10.1.0.0/16")}, with_lp(attrs({65001}), 100));
  EXPECT_EQ(rib.sweep_stale(1), 1u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 1u);
  EXPECT_NE(best(rib, P("10.1.0.0/16")).second, nullptr);
  EXPECT_EQ(best(rib, P("10.2.0.0/16")).second, nullptr);
}

TEST(Decision, GracefulPerFamilyKeepSweepAndStaleCounts) {
  Rib rib(config());
  PeerInfo a = ibgp(1, "10.9.0.1", 1);
  rib.peer_up(a);
  announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, with_lp(attrs({65001}), 100));
  announce(rib, a, {P("2001:db8:1::/48")}, with_lp(attrs({65001}, "2001:db8::9"), 100));
  ASSERT_EQ(rib.adj_in_count(1, wire::kIpv6Unicast, false), 1u);
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 0u);
  // Only IPv4 is kept (the family in the peer's GR capability); IPv6 goes at once.
  rib.peer_down_graceful(1, {wire::kIpv4Unicast});
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 2u);
  EXPECT_EQ(rib.stale_count(1, wire::kIpv6Unicast), 0u);
  EXPECT_EQ(rib.adj_in_count(1, wire::kIpv6Unicast, false), 0u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 2u);  // stale routes still used
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv6Unicast), 0u);
  rib.peer_up(a);
  announce(rib, a, {P("10.1.0.0/16")}, with_lp(attrs({65001}), 100));  // refreshed
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 1u);
  EXPECT_EQ(rib.sweep_stale(1, wire::kIpv6Unicast), 0u);  // other family untouched
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 1u);
  EXPECT_EQ(rib.sweep_stale(1, wire::kIpv4Unicast), 1u);
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 0u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 1u);
  EXPECT_EQ(best(rib, P("10.2.0.0/16")).second, nullptr);
  // Down again: everything stale; a full peer_down clears the counts too.
  rib.peer_down_graceful(1, {wire::kIpv4Unicast, wire::kIpv6Unicast});
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 1u);
  rib.peer_up(a);
  rib.peer_down(1);
  EXPECT_EQ(rib.stale_count(1, wire::kIpv4Unicast), 0u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 0u);
}

}  // namespace
}  // namespace rib_test
