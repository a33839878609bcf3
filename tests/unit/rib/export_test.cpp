// Outbound: export rules, packing, End-of-RIB, route refresh, back-pressure.
#include <random>

#include "rib_test_util.hpp"

namespace rib_test {
namespace {

PathAttributes ibgp_attrs(std::vector<uint32_t> path, uint32_t lp = 100,
                          const char* nh = "192.0.2.1") {
  auto a = attrs(std::move(path), nh);
  a.local_pref = lp;
  return a;
}

// The attributes the peer's Adj-RIB-Out holds for a prefix (nullopt if none).
std::optional<PathAttributes> adj_out(const Rib& rib, PeerId peer, const Prefix& p) {
  std::optional<PathAttributes> out;
  rib.for_each_adj_out(peer, p.family(), [&](const Prefix& q, const PathAttributes& a) {
    if (q == p) out = a;
  });
  return out;
}

class Export : public ::testing::Test {
 protected:
  Rib rib{config()};
  PeerInfo e1 = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  PeerInfo e2 = ebgp(2, 65002, "10.9.0.2", 0x02020202);
  PeerInfo i3 = ibgp(3, "10.9.0.3", 0x03030303);
  PeerInfo i4 = ibgp(4, "10.9.0.4", 0x04040404);
  void SetUp() override {
    for (auto* p : {&e1, &e2, &i3, &i4}) {
      rib.peer_up(*p);
      drain(rib, *p);  // initial (empty) dump + End-of-RIB
    }
  }
};

TEST_F(Export, ToEbgpFromIbgp) {
  auto in = ibgp_attrs({65010, 65011}, 200, "192.0.2.77");
  in.med = 50;
  in.communities = {0xFDE80001};
  announce(rib, i3, {P("10.1.0.0/16")}, in);
  auto got = drain(rib, e1);
  ASSERT_EQ(got.announced.size(), 1u);
  const PathAttributes& x = got.announced[0].second;
  EXPECT_EQ(x.as_path.to_string(), "65000 65010 65011");
  EXPECT_EQ(x.next_hop, A("192.0.2.254"));
  EXPECT_FALSE(x.local_pref.has_value());
  EXPECT_FALSE(x.med.has_value());  // learned from another AS: MED not passed on
  EXPECT_EQ(x.communities, in.communities);
  auto held = adj_out(rib, 1, P("10.1.0.0/16"));
  ASSERT_TRUE(held);
  EXPECT_FALSE(held->local_pref.has_value());
  EXPECT_FALSE(held->originator_id.has_value());
  EXPECT_TRUE(held->cluster_list.empty());
}

TEST_F(Export, ToEbgpKeepsMedOfOurOwnRoutes) {
  auto own = attrs({}, nullptr);
  own.med = 7;
  rib.originate(P("198.51.100.0/24"), own);
  auto in = ibgp_attrs({}, 100, "192.0.2.5");  // originated inside our AS
  in.med = 9;
  announce(rib, i3, {P("10.5.0.0/16")}, in);
  auto got = drain(rib, e1);
  auto t = got.table();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[P("198.51.100.0/24")].med, 7u);
  EXPECT_EQ(t[P("198.51.100.0/24")].as_path.to_string(), "65000");
  EXPECT_EQ(t[P("198.51.100.0/24")].next_hop, A("192.0.2.254"));
  EXPECT_EQ(t[P("10.5.0.0/16")].med, 9u);
}

TEST_F(Export, ToEbgpDropsReflectionAttributes) {
  auto in = ibgp_attrs({65010});
  in.originator_id = 0x09090909;
  in.cluster_list = {0x08080808};
  announce(rib, i3, {P("10.1.0.0/16")}, in);
  auto held = adj_out(rib, 1, P("10.1.0.0/16"));
  drain(rib, e1);
  held = adj_out(rib, 1, P("10.1.0.0/16"));
  ASSERT_TRUE(held);
  EXPECT_FALSE(held->originator_id.has_value());
  EXPECT_TRUE(held->cluster_list.empty());
}

TEST_F(Export, ToIbgpFromEbgp) {
  auto in = attrs({65001, 65010}, "10.9.0.1");
  in.med = 30;
  announce(rib, e1, {P("10.1.0.0/16")}, in);
  auto got = drain(rib, i3);
  ASSERT_EQ(got.announced.size(), 1u);
  const PathAttributes& x = got.announced[0].second;
  EXPECT_EQ(x.as_path.to_string(), "65001 65010");  // no prepend
  EXPECT_EQ(x.next_hop, A("10.9.0.1"));             // next hop kept
  EXPECT_EQ(x.local_pref, 100u);                    // default LOCAL_PREF
  EXPECT_EQ(x.med, 30u);                            // MED kept
}

TEST_F(Export, NextHopSelfTowardsIbgp) {
  PeerInfo nhs = ibgp(5, "10.9.0.5", 0x05050505);
  nhs.next_hop_self = true;
  rib.peer_up(nhs);
  drain(rib, nhs);
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001}, "10.9.0.1"));
  auto got = drain(rib, nhs);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.next_hop, A("192.0.2.254"));
}

TEST_F(Export, IbgpSplitHorizon) {
  announce(rib, i3, {P("10.1.0.0/16")}, ibgp_attrs({65010}));
  EXPECT_TRUE(drain(rib, i4).announced.empty());  // iBGP -> iBGP: no
  EXPECT_TRUE(drain(rib, i3).announced.empty());  // not back to the source
  EXPECT_EQ(drain(rib, e1).announced.size(), 1u);
}

TEST_F(Export, RouteReflection) {
  PeerInfo client = ibgp(5, "10.9.0.5", 0x05050505);
  client.rr_client = true;
  rib.peer_up(client);
  drain(rib, client);

  // Client -> non-client: reflected with ORIGINATOR_ID and our cluster id.
  announce(rib, client, {P("10.1.0.0/16")}, ibgp_attrs({65010}));
  auto got = drain(rib, i3);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.originator_id, 0x05050505u);
  EXPECT_EQ(got.announced[0].second.cluster_list, std::vector<uint32_t>{kRouterId});
  EXPECT_TRUE(drain(rib, client).announced.empty());  // not back to the source

  // Non-client -> client: reflected; an existing ORIGINATOR_ID is kept, the cluster
  // id prepended.
  auto in = ibgp_attrs({65020});
  in.originator_id = 0x0C0C0C0C;
  in.cluster_list = {0x0D0D0D0D};
  announce(rib, i3, {P("10.2.0.0/16")}, in);
  got = drain(rib, client);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.originator_id, 0x0C0C0C0Cu);
  EXPECT_EQ(got.announced[0].second.cluster_list, (std::vector<uint32_t>{kRouterId, 0x0D0D0D0D}));
  // i4 (non-client) has the client's route only: non-client -> non-client: no.
  got = drain(rib, i4);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].first, P("10.1.0.0/16"));
}

TEST_F(Export, ClusterIdFromConfig) {
  auto cfg = config();
  cfg.cluster_id = 0x0E0E0E0E;
  Rib r2(cfg);
  PeerInfo client = ibgp(5, "10.9.0.5", 0x05050505);
  client.rr_client = true;
  r2.peer_up(client);
  r2.peer_up(i3);
  announce(r2, client, {P("10.1.0.0/16")}, ibgp_attrs({65010}));
  auto got = drain(r2, i3);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.cluster_list, std::vector<uint32_t>{0x0E0E0E0E});
}

TEST_F(Export, WellKnownCommunities) {
  auto no_export = attrs({65001});
  no_export.communities = {wire::community::kNoExport};
  auto no_adv = attrs({65001});
  no_adv.communities = {wire::community::kNoAdvertise};
  announce(rib, e1, {P("10.1.0.0/16")}, no_export);
  announce(rib, e1, {P("10.2.0.0/16")}, no_adv);
  auto to_e2 = drain(rib, e2);
  EXPECT_TRUE(to_e2.announced.empty());
  auto to_i3 = drain(rib, i3);
  ASSERT_EQ(to_i3.announced.size(), 1u);
  EXPECT_EQ(to_i3.announced[0].first, P("10.1.0.0/16"));
}

TEST_F(Export, NotBackToTheSourceAndWithdrawals) {
  announce(rib, e2, {P("10.1.0.0/16")}, attrs({65002, 65010, 65011}));
  auto got = drain(rib, e1);
  ASSERT_EQ(got.announced.size(), 1u);
  // e1 now offers a better path: e1 must get a withdrawal (best is its own route).
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001}));
  got = drain(rib, e1);
  EXPECT_TRUE(got.announced.empty());
  ASSERT_EQ(got.withdrawn.size(), 1u);
  EXPECT_EQ(got.withdrawn[0], P("10.1.0.0/16"));
  // e2 gets e1's path (implicitly replacing nothing: e2 had none from us).
  got = drain(rib, e2);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.as_path.to_string(), "65000 65001");
  EXPECT_EQ(drain(rib, i3).announced.size(), 1u);
  // Withdraw everywhere.
  withdraw(rib, e1, {P("10.1.0.0/16")});
  withdraw(rib, e2, {P("10.1.0.0/16")});
  EXPECT_EQ(drain(rib, e2).withdrawn.size(), 1u);
  EXPECT_EQ(drain(rib, i3).withdrawn.size(), 1u);
  EXPECT_EQ(rib.counters(3).advertised, 0u);
}

TEST_F(Export, DuplicatesSuppressed) {
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001}));
  EXPECT_EQ(drain(rib, i3).announced.size(), 1u);
  // A different source set that exports identically is not re-sent; so is an identical
  // re-announcement.
  announce(rib, e1, {P("10.1.0.0/16")}, attrs({65001}));
  EXPECT_FALSE(rib.has_output(3));
  auto x = attrs({65001});
  x.local_pref = 100;  // dropped on ingest from eBGP: same set
  wire::Update u;
  u.announced.push_back(wire::NlriSet{wire::kIpv4Unicast, {P("10.1.0.0/16")}});
  u.attrs = x;
  rib.apply_update(1, u);
  EXPECT_TRUE(drain(rib, i3).announced.empty());
}

TEST_F(Export, Ipv6NextHops) {
  auto in = attrs({65001}, "2001:db8::1");
  in.next_hop_link_local = A("fe80::1");
  announce(rib, e1, {P("2001:db8:1::/48")}, in);
  auto got = drain(rib, e2);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.next_hop, A("2001:db8::fe"));
  EXPECT_FALSE(got.announced[0].second.next_hop_link_local.has_value());
  got = drain(rib, i3);  // iBGP: global next hop kept
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.next_hop, A("2001:db8::1"));
}

TEST_F(Export, UnknownOptionalTransitivePassedOn) {
  auto in = attrs({65001});
  in.unknown.push_back(wire::RawAttribute{wire::attr::kFlagOptional | wire::attr::kFlagTransitive,
                                          99, {1, 2, 3}});
  announce(rib, e1, {P("10.1.0.0/16")}, in);
  auto got = drain(rib, e2);
  ASSERT_EQ(got.announced.size(), 1u);
  ASSERT_EQ(got.announced[0].second.unknown.size(), 1u);
  EXPECT_EQ(got.announced[0].second.unknown[0].type, 99);
  EXPECT_EQ(got.announced[0].second.unknown[0].value, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_TRUE(got.announced[0].second.unknown[0].flags & wire::attr::kFlagPartial);
}

TEST_F(Export, ExportAttributesAreInterned) {
  announce(rib, e1, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  drain(rib, e2);
  const PathAttributes* p1 = nullptr;
  const PathAttributes* p2 = nullptr;
  rib.for_each_adj_out(2, wire::kIpv4Unicast, [&](const Prefix& p, const PathAttributes& a) {
    (p == P("10.1.0.0/16") ? p1 : p2) = &a;
  });
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(rib.counters(2).advertised, 2u);
}

TEST_F(Export, LocallyInjectedUpdate) {
  wire::Update u;
  u.announced.push_back(wire::NlriSet{wire::kIpv4Unicast, {P("203.0.113.0/24")}});
  u.attrs = attrs({}, nullptr);
  auto r = rib.apply_update(rib::kLocalPeer, u);
  EXPECT_EQ(r.announced, 1u) << r.reason;
  auto got = drain(rib, e1);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.next_hop, A("192.0.2.254"));
  EXPECT_EQ(got.announced[0].second.as_path.to_string(), "65000");
  got = drain(rib, i3);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.next_hop, A("192.0.2.254"));
  EXPECT_EQ(got.announced[0].second.local_pref, 100u);
}

TEST_F(Export, ReusedPeerSlotDoesNotReuseCachedExports) {
  PeerInfo client = ibgp(5, "10.9.0.5", 0x05050505);
  client.rr_client = true;
  rib.peer_up(client);
  drain(rib, client);
  announce(rib, i3, {P("10.1.0.0/16")}, ibgp_attrs({65010}));
  auto got = drain(rib, client);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.originator_id, 0x03030303u);
  rib.peer_down(3);
  drain(rib, client);
  // Another peer takes the freed slot and sends the very same attributes.
  PeerInfo other = ibgp(9, "10.9.0.9", 0x09090909);
  rib.peer_up(other);
  announce(rib, other, {P("10.1.0.0/16")}, ibgp_attrs({65010}));
  got = drain(rib, client);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].second.originator_id, 0x09090909u);
}

TEST(ExportPacking, TenThousandPrefixesThreeSets) {
  Rib rib(config());
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  rib.peer_up(src);
  std::vector<PathAttributes> sets = {attrs({65001, 1}), attrs({65001, 2, 3}),
                                      attrs({65001, 4, 5, 6})};
  sets[1].communities = {0xFDE90001};
  std::vector<std::vector<Prefix>> by_set(3);
  std::mt19937 rng(7);
  for (uint32_t i = 0; i < 10000; ++i) {
    uint32_t a = 0x14000000u + (i << 8);  // 20.0.0.0/24 + i
    by_set[rng() % 3].push_back(
        Prefix(wire::IpAddr::v4(a), 24));
  }
  for (int s = 0; s < 3; ++s) announce(rib, src, by_set[s], sets[s]);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 10000u);

  rib.peer_up(dst);  // initial dump
  auto got = drain(rib, dst);
  // 4 octets per /24, ~1000 per 4096-octet UPDATE: ~4 per set, plus End-of-RIB.
  EXPECT_LE(got.updates, 16u);
  ASSERT_EQ(got.eor.size(), 2u);  // IPv4 and IPv6
  auto t = got.table();
  ASSERT_EQ(t.size(), 10000u);
  for (int s = 0; s < 3; ++s) {
    for (const auto& p : by_set[s]) {
      auto it = t.find(p);
      ASSERT_NE(it, t.end());
      EXPECT_EQ(it->second.as_path.to_string(), "65000 " + sets[s].as_path.to_string());
      EXPECT_EQ(it->second.communities, sets[s].communities);
    }
  }
  EXPECT_EQ(rib.counters(2).advertised, 10000u);

  // Incremental changes are packed too: move 3000 prefixes to another set.
  std::vector<Prefix> moved(by_set[0].begin(), by_set[0].begin() + 3000);
  announce(rib, src, moved, attrs({65001, 9}));
  got = drain(rib, dst);
  EXPECT_EQ(got.announced.size(), 3000u);
  EXPECT_LE(got.updates, 5u);
  EXPECT_TRUE(got.eor.empty());
}

TEST(ExportEndOfRib, AfterInitialDumpOnlyOnce) {
  Rib rib(config());
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  dst.families = {wire::kIpv4Unicast};
  rib.peer_up(src);
  announce(rib, src, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  int ready = 0;
  rib.set_output_ready_listener([&](PeerId p) {
    if (p == 2) ++ready;
  });
  rib.peer_up(dst);
  EXPECT_EQ(ready, 1);
  EXPECT_TRUE(rib.has_output(2));
  auto got = drain(rib, dst);
  ASSERT_EQ(got.eor.size(), 1u);
  EXPECT_EQ(got.eor[0], wire::kIpv4Unicast);
  ASSERT_FALSE(got.order.empty());
  EXPECT_EQ(got.order.back(), "EOR");  // after the routes
  EXPECT_EQ(got.announced.size(), 2u);

  announce(rib, src, {P("10.3.0.0/16")}, attrs({65001}));
  EXPECT_EQ(ready, 2);  // idle -> pending again
  announce(rib, src, {P("10.4.0.0/16")}, attrs({65001}));
  EXPECT_EQ(ready, 2);  // still pending: not signalled twice
  got = drain(rib, dst);
  EXPECT_TRUE(got.eor.empty());
  EXPECT_EQ(got.announced.size(), 2u);

  // A new session gets a new End-of-RIB.
  rib.peer_down(2);
  rib.peer_up(dst);
  got = drain(rib, dst);
  EXPECT_EQ(got.eor.size(), 1u);
  EXPECT_EQ(got.announced.size(), 4u);
}

TEST(ExportRefresh, PlainAndEnhanced) {
  Rib rib(config());
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  rib.peer_up(src);
  rib.peer_up(dst);
  std::vector<Prefix> ps;
  for (int i = 0; i < 300; ++i) ps.push_back(Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24));
  announce(rib, src, ps, attrs({65001}));
  announce(rib, src, {P("2001:db8:1::/48")}, attrs({65001}, "2001:db8::1"));
  drain(rib, dst);
  EXPECT_FALSE(rib.has_output(2));

  rib.request_refresh(2, wire::kIpv4Unicast, false);
  auto got = drain(rib, dst);
  EXPECT_EQ(got.announced.size(), 300u);
  EXPECT_TRUE(got.refresh.empty());
  EXPECT_TRUE(got.eor.empty());

  rib.request_refresh(2, wire::kIpv4Unicast, true);
  got = drain(rib, dst);
  EXPECT_EQ(got.announced.size(), 300u);
  ASSERT_EQ(got.refresh.size(), 2u);
  EXPECT_EQ(got.order.front(), "BORR");
  EXPECT_EQ(got.order.back(), "EORR");
  EXPECT_EQ(got.refresh[0].family, wire::kIpv4Unicast);
  EXPECT_EQ(got.refresh[1].subtype, wire::RouteRefresh::EndOfRefresh);

  rib.request_refresh(2, wire::kIpv6Unicast, false);
  got = drain(rib, dst);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].first, P("2001:db8:1::/48"));
}

TEST(ExportBackPressure, SmallChunksYieldEverythingExactlyOnce) {
  Rib rib(config());
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  rib.peer_up(src);
  std::vector<Prefix> all;
  for (uint32_t s = 0; s < 50; ++s) {
    std::vector<Prefix> ps;
    for (uint32_t i = 0; i < 100; ++i) {
      ps.push_back(Prefix(wire::IpAddr::v4(0x0B000000u + ((s * 100 + i) << 8)), 24));
    }
    announce(rib, src, ps, attrs({65001, 100 + s}));
    all.insert(all.end(), ps.begin(), ps.end());
  }
  rib.peer_up(dst);
  Received got;
  size_t calls = 0;
  for (;;) {
    std::vector<uint8_t> bytes;
    size_t n = rib.take_output(2, 300, bytes);
    if (n == 0) break;
    ++calls;
    // At most one message beyond the budget (a message is never split).
    EXPECT_TRUE(n <= 300 || bytes.size() == static_cast<size_t>((bytes[16] << 8) | bytes[17]));
    decode_stream(bytes, dst.codec, got);
    // Changes while output is pending do not duplicate anything.
    if (calls == 3) announce(rib, src, {all[0]}, attrs({65001, 100}));
  }
  EXPECT_GT(calls, 10u);
  EXPECT_FALSE(rib.has_output(2));
  std::map<Prefix, int> seen;
  for (const auto& [p, a] : got.announced) ++seen[p];
  EXPECT_EQ(seen.size(), all.size());
  for (const auto& [p, n] : seen) EXPECT_EQ(n, 1) << p.to_string();
  EXPECT_EQ(got.eor.size(), 2u);
}

TEST(ExportRefcounts, ReleasedWhenRoutesAndPeersGo) {
  Rib rib(config());
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  rib.peer_up(src);
  rib.peer_up(dst);
  for (uint32_t s = 0; s < 20; ++s) {
    announce(rib, src, {Prefix(wire::IpAddr::v4(0x0C000000u + (s << 8)), 24)},
             attrs({65001, s + 1}));  // (AS 0 would be treat-as-withdraw)
  }
  drain(rib, dst);
  EXPECT_EQ(rib.attribute_sets(), 40u);  // 20 received + 20 exported
  rib.peer_down(1);
  drain(rib, dst);  // withdrawals
  EXPECT_EQ(rib.counters(2).advertised, 0u);
  rib.peer_down(2);  // export caches go with the session
  EXPECT_EQ(rib.attribute_sets(), 0u);
}

}  // namespace
}  // namespace rib_test
