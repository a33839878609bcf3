// Inbound: implicit/explicit withdraw, peer_down, inbound policy, decode errors,
// families, End-of-RIB, the raw-attribute cache, interning and counters.
#include "bgpd/rib/attr_store.hpp"
#include "rib_test_util.hpp"

namespace rib_test {
namespace {

class Ingest : public ::testing::Test {
 protected:
  Rib rib{config()};
  PeerInfo a = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  PeerInfo b = ebgp(2, 65002, "10.9.0.2", 0x02020202);
  PeerInfo i1 = ibgp(3, "10.9.0.3", 0x03030303);
  std::vector<rib::BestChange> changes;  // pointers only valid inside the listener
  std::vector<std::optional<PathAttributes>> old_copies;
  void SetUp() override {
    rib.set_best_change_listener([this](const rib::BestChange& c) {
      changes.push_back(c);
      old_copies.push_back(c.old_best ? std::optional<PathAttributes>(*c.old_best) : std::nullopt);
    });
    rib.peer_up(a);
    rib.peer_up(b);
    rib.peer_up(i1);
  }
};

TEST_F(Ingest, AnnounceAndExplicitWithdraw) {
  auto r = announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  EXPECT_EQ(r.announced, 2u);
  EXPECT_FALSE(r.session_error);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 2u);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].old_best, nullptr);
  EXPECT_NE(changes[0].new_best, nullptr);
  EXPECT_EQ(changes[0].new_peer, 1u);

  r = withdraw(rib, a, {P("10.1.0.0/16")});
  EXPECT_EQ(r.withdrawn, 1u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 1u);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].prefix, P("10.1.0.0/16"));
  EXPECT_EQ(changes[2].new_best, nullptr);
  EXPECT_NE(changes[2].old_best, nullptr);

  // Withdrawing something unknown is harmless.
  r = withdraw(rib, a, {P("10.1.0.0/16"), P("10.77.0.0/16")});
  EXPECT_EQ(r.withdrawn, 0u);
  EXPECT_EQ(changes.size(), 3u);
}

TEST_F(Ingest, ImplicitWithdrawReplacesThePeersPath) {
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, 65010}));
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, 65020}));
  size_t paths = 0;
  rib.for_each_adj_in(1, wire::kIpv4Unicast, [&](const Prefix& p, const rib::PathView& v) {
    ++paths;
    EXPECT_EQ(p, P("10.1.0.0/16"));
    EXPECT_EQ(v.attrs->as_path.origin_as(), 65020u);
  });
  EXPECT_EQ(paths, 1u);
  EXPECT_EQ(rib.counters(1).received, 1u);
  EXPECT_EQ(rib.attribute_sets(), 1u);  // the first set was released
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_NE(changes[1].old_best, changes[1].new_best);
  // The same announcement again is not a change.
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, 65020}));
  EXPECT_EQ(changes.size(), 2u);
}

TEST_F(Ingest, PeerDownRemovesRoutesAndBestMovesToTheNextPath) {
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001}));
  announce(rib, b, {P("10.1.0.0/16")}, attrs({65002, 65010}));
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);
  changes.clear();
  old_copies.clear();
  rib.peer_down(1);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 2u);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].new_peer, 2u);
  ASSERT_TRUE(old_copies[0]);
  EXPECT_EQ(old_copies[0]->as_path.neighbor_as(), 65001u);
  EXPECT_EQ(rib.counters(1).received, 0u);
  rib.peer_down(2);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 0u);
  EXPECT_EQ(rib.prefix_count(wire::kIpv4Unicast), 0u);
  EXPECT_EQ(rib.attribute_sets(), 0u);
}

TEST_F(Ingest, AsLoopIsRejected) {
  auto r = announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, kLocalAs, 65010}));
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.announced, 0u);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).second, nullptr);
  EXPECT_EQ(rib.counters(1).received, 1u);  // in Adj-RIB-In, not eligible
  EXPECT_EQ(rib.counters(1).accepted, 0u);
  EXPECT_TRUE(changes.empty());
  // A later clean announcement replaces it.
  r = announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, 65010}));
  EXPECT_EQ(r.announced, 1u);
  EXPECT_EQ(rib.counters(1).accepted, 1u);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);
  // And a looped one withdraws it from the decision again (implicit withdraw).
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, kLocalAs}));
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).second, nullptr);
}

// max_as_path_length counts every AS number, a set's members included; the session
// stays up, the route stays out of the decision process.
TEST_F(Ingest, AsPathLongerThanThePeersLimitIsRejected) {
  rib.peer_down(1);
  a.max_as_path_length = 4;
  rib.peer_up(a);
  auto r = announce(rib, a, {P("10.1.0.0/16")}, attrs({65001, 65002, 65003, 65004}));
  EXPECT_EQ(r.announced, 1u);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);
  r = announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001, 65002, 65003, 65004, 65005}));
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_FALSE(r.session_error);
  EXPECT_NE(r.reason.find("AS_PATH longer than the peer's max_as_path_length"), std::string::npos) << r.reason;
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).second, nullptr);  // implicitly withdrawn from the decision
  EXPECT_EQ(rib.counters(1).accepted, 0u);
  // A set counts every member (its selection length would be 1).
  auto set_path = attrs({65001});
  set_path.as_path.segments.push_back(wire::AsPathSegment{wire::AsPathSegment::Set, {1, 2, 3, 4}});
  r = announce(rib, a, {P("10.3.0.0/16")}, set_path);
  EXPECT_EQ(r.rejected, 1u);
  // Other peers have no limit.
  r = announce(rib, b, {P("10.1.0.0/16")}, attrs({65002, 65003, 65004, 65005, 65006, 65007}));
  EXPECT_EQ(r.announced, 1u);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 2u);
}

TEST_F(Ingest, FirstAsMustBeThePeersAs) {
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001}));
  auto r = announce(rib, a, {P("10.1.0.0/16")}, attrs({65099, 65001}));
  EXPECT_TRUE(r.treat_as_withdraw);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(r.withdrawn, 1u);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).second, nullptr);
  EXPECT_EQ(rib.counters(1).received, 0u);
}

TEST_F(Ingest, ReflectionLoopsAreRejected) {
  auto own = attrs({});
  own.local_pref = 100;
  own.originator_id = kRouterId;
  auto r = announce(rib, i1, {P("10.1.0.0/16")}, own);
  EXPECT_EQ(r.rejected, 1u);
  auto cl = attrs({});
  cl.local_pref = 100;
  cl.originator_id = 0x07070707;
  cl.cluster_list = {0x05050505, kRouterId};  // cluster id defaults to the router id
  r = announce(rib, i1, {P("10.2.0.0/16")}, cl);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 0u);
}

TEST_F(Ingest, FamilyNotNegotiatedIsIgnored) {
  PeerInfo v4only = ebgp(9, 65009, "10.9.0.9", 9);
  v4only.families = {wire::kIpv4Unicast};
  rib.peer_up(v4only);
  auto r = announce(rib, v4only, {P("2001:db8:1::/48")}, attrs({65009}, "2001:db8::9"));
  EXPECT_EQ(r.ignored, 1u);
  EXPECT_EQ(r.announced, 0u);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv6Unicast), 0u);
}

TEST_F(Ingest, EndOfRib) {
  auto r = rib.ingest_update(1, body_of(wire::encode_end_of_rib(wire::kIpv4Unicast)));
  ASSERT_TRUE(r.end_of_rib);
  EXPECT_EQ(*r.end_of_rib, wire::kIpv4Unicast);
  r = rib.ingest_update(1, body_of(wire::encode_end_of_rib(wire::kIpv6Unicast)));
  ASSERT_TRUE(r.end_of_rib);
  EXPECT_EQ(*r.end_of_rib, wire::kIpv6Unicast);
}

TEST_F(Ingest, SessionErrorAppliesNothing) {
  auto ann = attrs({65001});
  announce(rib, a, {P("10.1.0.0/16")}, ann);
  // Same attribute bytes (cache hit), a valid withdrawal, and a malformed NLRI field.
  auto msg = wire::encode_announcements(ann, wire::kIpv4Unicast, std::vector<Prefix>{P("10.2.0.0/16")},
                                        a.codec)[0];
  auto body = body_of(msg);
  // body = [wlen=0][alen][attrs][nlri]; rebuild with a withdrawal and a bad NLRI.
  uint16_t alen = static_cast<uint16_t>((body[2] << 8) | body[3]);
  std::vector<uint8_t> attrs_bytes(body.begin() + 4, body.begin() + 4 + alen);
  std::vector<uint8_t> bad = {0, 3, 16, 10, 1};  // withdraw 10.1.0.0/16
  bad.push_back(static_cast<uint8_t>(alen >> 8));
  bad.push_back(static_cast<uint8_t>(alen));
  bad.insert(bad.end(), attrs_bytes.begin(), attrs_bytes.end());
  bad.push_back(33);  // prefix length 33: malformed
  bad.insert(bad.end(), {10, 2, 0, 0, 0});
  auto r = rib.ingest_update(1, bad);
  ASSERT_TRUE(r.session_error.has_value());
  EXPECT_EQ(r.session_error->action, wire::ErrorAction::SessionReset);
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).first, 1u);  // withdrawal not applied

  // Truncated body.
  r = rib.ingest_update(1, std::vector<uint8_t>{0, 5, 1});
  EXPECT_TRUE(r.session_error.has_value());
}

TEST_F(Ingest, TreatAsWithdrawFromDecoder) {
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001}));
  // ORIGIN with a bad value: RFC 7606 treat-as-withdraw.
  auto msg = wire::encode_announcements(attrs({65001}), wire::kIpv4Unicast,
                                        std::vector<Prefix>{P("10.1.0.0/16")}, a.codec)[0];
  auto body = body_of(msg);
  // First attribute is ORIGIN: flags, type 1, len 1, value.
  ASSERT_EQ(body[5], wire::attr::kOrigin);
  body[7] = 7;
  auto r = rib.ingest_update(1, body);
  EXPECT_FALSE(r.session_error.has_value());
  EXPECT_TRUE(r.treat_as_withdraw);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(best(rib, P("10.1.0.0/16")).second, nullptr);
}

TEST_F(Ingest, RawAttributeCacheAndInterning) {
  auto x = attrs({65001, 65010});
  x.communities = {0xFDE90001, 0xFDE90002};
  announce(rib, a, {P("10.1.0.0/16")}, x);
  announce(rib, a, {P("10.2.0.0/16")}, x);  // same bytes: cache hit
  EXPECT_EQ(rib.attr_store().raw_keys(), 1u);
  auto p1 = best(rib, P("10.1.0.0/16")).second;
  auto p2 = best(rib, P("10.2.0.0/16")).second;
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1, p2);  // same interned set
  EXPECT_EQ(*p1, x);
  EXPECT_EQ(rib.attribute_sets(), 1u);
  withdraw(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")});
  EXPECT_EQ(rib.attribute_sets(), 0u);
  EXPECT_EQ(rib.attr_store().raw_keys(), 0u);
}

TEST_F(Ingest, Ipv6CacheSharesAttributesAcrossUpdates) {
  auto x = attrs({65001}, "2001:db8::1");
  x.next_hop_link_local = A("fe80::1");
  auto r = announce(rib, a, {P("2001:db8:1::/48")}, x);
  EXPECT_EQ(r.announced, 1u) << r.reason;
  r = announce(rib, a, {P("2001:db8:2::/48"), P("2001:db8:3::/48")}, x);
  EXPECT_EQ(r.announced, 2u) << r.reason;
  EXPECT_EQ(rib.attr_store().raw_keys(), 1u);
  auto p1 = best(rib, P("2001:db8:1::/48")).second;
  auto p3 = best(rib, P("2001:db8:3::/48")).second;
  ASSERT_NE(p1, nullptr);
  EXPECT_EQ(p1, p3);
  EXPECT_EQ(p1->next_hop, A("2001:db8::1"));
  EXPECT_EQ(p1->next_hop_link_local, A("fe80::1"));
  r = withdraw(rib, a, {P("2001:db8:1::/48")});
  EXPECT_EQ(r.withdrawn, 1u);
  EXPECT_EQ(rib.loc_rib_size(wire::kIpv6Unicast), 2u);
}

TEST_F(Ingest, EbgpLocalPrefIsIgnored) {
  wire::Update u;
  u.announced.push_back(wire::NlriSet{wire::kIpv4Unicast, {P("10.1.0.0/16")}});
  u.attrs = attrs({65001});
  u.attrs.local_pref = 500;
  auto r = rib.apply_update(1, u);
  EXPECT_EQ(r.announced, 1u);
  auto p = best(rib, P("10.1.0.0/16")).second;
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->local_pref.has_value());
}

TEST_F(Ingest, CountersAndLocalOrigination) {
  announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  announce(rib, a, {P("10.3.0.0/16")}, attrs({65001, kLocalAs}));  // rejected
  auto c = rib.counters(1);
  EXPECT_EQ(c.received, 3u);
  EXPECT_EQ(c.accepted, 2u);
  EXPECT_EQ(c.updates_in, 2u);

  rib.originate(P("198.51.100.0/24"), PathAttributes{});
  auto p = best(rib, P("198.51.100.0/24"));
  EXPECT_EQ(p.first, rib::kLocalPeer);
  ASSERT_NE(p.second, nullptr);
  EXPECT_EQ(p.second->origin, wire::Origin::Igp);
  EXPECT_TRUE(p.second->as_path.empty());
  EXPECT_TRUE(rib.withdraw_local(P("198.51.100.0/24")));
  EXPECT_FALSE(rib.withdraw_local(P("198.51.100.0/24")));
  EXPECT_EQ(best(rib, P("198.51.100.0/24")).second, nullptr);
}

TEST_F(Ingest, AddPathReceive) {
  PeerInfo ap = ebgp(8, 65008, "10.9.0.8", 8);
  ap.codec.add_path_rx_ipv4 = true;
  rib.peer_up(ap);
  auto x = attrs({65008});
  wire::CodecOptions plain = ap.codec;
  plain.add_path_rx_ipv4 = false;
  for (int round = 0; round < 2; ++round) {  // cache miss, then cache hit
    std::vector<Prefix> ps = {P(round == 0 ? "10.1.0.0/16" : "10.3.0.0/16"),
                              P(round == 0 ? "10.2.0.0/24" : "10.4.0.0/24")};
    auto body = body_of(wire::encode_announcements(x, wire::kIpv4Unicast, ps, plain)[0]);
    // Insert a 4-octet path identifier before each NLRI prefix.
    uint16_t alen = static_cast<uint16_t>((body[2] << 8) | body[3]);
    std::vector<uint8_t> out(body.begin(), body.begin() + 4 + alen);
    for (size_t i = 4 + alen; i < body.size();) {
      size_t n = 1 + (body[i] + 7) / 8;
      out.insert(out.end(), {0, 0, 0, 7});
      out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(i),
                 body.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += n;
    }
    auto r = rib.ingest_update(8, out);
    EXPECT_FALSE(r.session_error.has_value());
    EXPECT_EQ(r.announced, 2u) << r.reason;
    EXPECT_EQ(best(rib, ps[1]).first, 8u);
  }
  EXPECT_EQ(rib.attr_store().raw_keys(), 1u);
}

TEST_F(Ingest, UnknownPeerOrDownPeer) {
  auto r = rib.ingest_update(77, body_of(wire::encode_end_of_rib(wire::kIpv4Unicast)));
  EXPECT_FALSE(r.reason.empty());
}

TEST(AttrStore, InternRefcount) {
  rib::AttrStore s;
  auto x = attrs({1, 2, 3});
  auto id1 = s.intern(x);
  auto id2 = s.intern(x);
  EXPECT_EQ(id1, id2);
  EXPECT_EQ(s.ptr(id1), s.ptr(id2));
  EXPECT_EQ(s.refcount(id1), 2u);
  auto y = attrs({1, 2, 4});
  auto id3 = s.intern(y);
  EXPECT_NE(id3, id1);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.info(id1).as_path_len, 3u);
  EXPECT_EQ(s.info(id1).neighbor_as, 1u);
  s.unref(id1);
  EXPECT_TRUE(s.alive(id1));
  s.unref(id1);
  EXPECT_FALSE(s.alive(id1));
  EXPECT_EQ(s.size(), 1u);
  // Ids are reused, values stay correct.
  auto id4 = s.intern(attrs({9}));
  EXPECT_EQ(s.get(id4), attrs({9}));
  EXPECT_EQ(s.get(id3), y);
}

TEST(AttrStore, RawKeys) {
  rib::AttrStore s;
  std::vector<uint8_t> k1 = {1, 2, 3}, k2 = {1, 2, 4};
  auto id = s.intern_with_key(attrs({1}), k1);
  EXPECT_EQ(s.find_raw(k1), id);
  EXPECT_EQ(s.find_raw(k2), rib::kNoAttr);
  // Interning the same value with another key finds the existing set (first key kept).
  auto again = s.intern_with_key(attrs({1}), k2);
  EXPECT_EQ(again, id);
  EXPECT_EQ(s.find_raw(k2), rib::kNoAttr);
  s.unref(id, 2);
  EXPECT_EQ(s.find_raw(k1), rib::kNoAttr);
  EXPECT_EQ(s.raw_keys(), 0u);
}

TEST(AttrStore, ManySetsGrowAndShrink) {
  rib::AttrStore s;
  std::vector<rib::AttrId> ids;
  for (uint32_t i = 0; i < 5000; ++i) ids.push_back(s.intern(attrs({65001, i})));
  EXPECT_EQ(s.size(), 5000u);
  for (uint32_t i = 0; i < 5000; i += 2) s.unref(ids[i]);
  EXPECT_EQ(s.size(), 2500u);
  for (uint32_t i = 1; i < 5000; i += 2) EXPECT_EQ(s.intern(attrs({65001, i})), ids[i]);
  for (uint32_t i = 0; i < 5000; i += 2) EXPECT_NE(s.intern(attrs({65001, i})), rib::kNoAttr);
  EXPECT_EQ(s.size(), 5000u);
}

}  // namespace
}  // namespace rib_test
