// UPDATE decoding from hand-built bytes: every attribute, NLRI, MP, ADD-PATH, End-of-RIB.
#include <gtest/gtest.h>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using namespace test;

Result<Update> decode(const Bytes& body, const CodecOptions& o = ibgp4()) {
  return decode_update(body, o);
}

TEST(UpdateDecode, AllAttributes) {
  Bytes attrs = cat({
      origin_attr(1),
      mkattr(0x40, attr::kAsPath,
           cat({{3, 1}, u32(65100), {2, 2}, u32(65001), u32(4200000000u), {1, 2}, u32(7), u32(8),
                {4, 1}, u32(65200)})),
      next_hop_attr(0x0A000001),
      mkattr(0x80, attr::kMed, u32(50)),
      mkattr(0x40, attr::kLocalPref, u32(200)),
      mkattr(0x40, attr::kAtomicAggregate, {}),
      mkattr(0xC0, attr::kAggregator, cat({u32(65001), u32(0x0A0000FE)})),
      mkattr(0xC0, attr::kCommunities, cat({u32(0xFDE90064), u32(community::kNoExport)})),
      mkattr(0x80, attr::kOriginatorId, u32(0x01020304)),
      mkattr(0x80, attr::kClusterList, cat({u32(1), u32(2)})),
      mkattr(0xC0, attr::kExtCommunities, {0x00, 0x02, 0xFD, 0xE9, 0, 0, 0, 100}),
      mkattr(0xC0, attr::kLargeCommunities, cat({u32(4200000000u), u32(1), u32(2)})),
      mkattr(0xE0, 99, {1, 2, 3}),  // unknown optional transitive (Partial set)
  });
  Bytes nlri{24, 192, 0, 2, 16, 10, 1};
  auto r = decode(update_body({}, attrs, nlri));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  const Update& u = *r;
  EXPECT_FALSE(u.treat_as_withdraw) << u.treat_as_withdraw_reason;
  EXPECT_TRUE(u.discarded.empty());
  const PathAttributes& a = u.attrs;
  EXPECT_TRUE(a.has_origin);
  EXPECT_EQ(a.origin, Origin::Egp);
  ASSERT_TRUE(a.has_as_path);
  ASSERT_EQ(a.as_path.segments.size(), 4u);
  EXPECT_EQ(a.as_path.segments[0].type, AsPathSegment::ConfedSequence);
  EXPECT_EQ(a.as_path.segments[1].asns, (std::vector<uint32_t>{65001, 4200000000u}));
  EXPECT_EQ(a.as_path.segments[2].type, AsPathSegment::Set);
  EXPECT_EQ(a.as_path.segments[3].type, AsPathSegment::ConfedSet);
  EXPECT_EQ(a.as_path.selection_length(), 3u);
  EXPECT_EQ(a.as_path.neighbor_as(), 65001u);
  EXPECT_EQ(a.as_path.to_string(), "(65100) 65001 4200000000 {7,8} [65200]");
  EXPECT_EQ(a.next_hop, IpAddr::v4(0x0A000001));
  EXPECT_EQ(a.med, 50u);
  EXPECT_EQ(a.local_pref, 200u);
  EXPECT_TRUE(a.atomic_aggregate);
  ASSERT_TRUE(a.aggregator);
  EXPECT_EQ(a.aggregator->asn, 65001u);
  EXPECT_EQ(a.aggregator->address, 0x0A0000FEu);
  EXPECT_EQ(a.communities, (std::vector<uint32_t>{0xFDE90064, community::kNoExport}));
  EXPECT_TRUE(a.has_community(community::kNoExport));
  EXPECT_EQ(a.originator_id, 0x01020304u);
  EXPECT_EQ(a.cluster_list, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(a.ext_communities, (std::vector<uint64_t>{0x0002FDE900000064ULL}));
  ASSERT_EQ(a.large_communities.size(), 1u);
  EXPECT_EQ(a.large_communities[0], (LargeCommunity{4200000000u, 1, 2}));
  ASSERT_EQ(a.unknown.size(), 1u);
  EXPECT_EQ(a.unknown[0], (RawAttribute{0xE0, 99, {1, 2, 3}}));
  ASSERT_EQ(u.announced.size(), 1u);
  EXPECT_EQ(u.announced[0].family, kIpv4Unicast);
  EXPECT_EQ(u.announced[0].prefixes, (std::vector<Prefix>{pfx("192.0.2.0/24"), pfx("10.1.0.0/16")}));
  EXPECT_TRUE(u.withdrawn.empty());
  EXPECT_FALSE(u.end_of_rib);
}

TEST(UpdateDecode, TwoOctetAsPathAndAggregator) {
  CodecOptions o = ibgp4();
  o.four_octet_as = false;
  Bytes attrs = cat({origin_attr(), as_path_attr2({65001, 65002}), next_hop_attr(),
                     mkattr(0xC0, attr::kAggregator, cat({u16(65002), u32(9)}))});
  auto r = decode(update_body({}, attrs, {8, 10}), o);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->attrs.as_path.to_string(), "65001 65002");
  EXPECT_EQ(r->attrs.aggregator, (Aggregator{65002, 9}));
}

TEST(UpdateDecode, WithdrawnOnly) {
  auto r = decode(update_body({24, 192, 0, 2, 0}, {}, {}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->withdrawn.size(), 1u);
  EXPECT_EQ(r->withdrawn[0].prefixes, (std::vector<Prefix>{pfx("192.0.2.0/24"), pfx("0.0.0.0/0")}));
  EXPECT_TRUE(r->announced.empty());
  EXPECT_FALSE(r->treat_as_withdraw);
  EXPECT_FALSE(r->end_of_rib);
}

TEST(UpdateDecode, HostBitsMasked) {
  auto r = decode(update_body({}, mandatory4(), {20, 10, 1, 0xFF}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->announced[0].prefixes[0].to_string(), "10.1.240.0/20");
}

TEST(UpdateDecode, MpReachIpv6WithLinkLocal) {
  auto gl = ip("2001:db8::1");
  auto ll = ip("fe80::1");
  Bytes mp = cat({u16(2), {1, 32}, Bytes(gl.bytes.begin(), gl.bytes.end()),
                  Bytes(ll.bytes.begin(), ll.bytes.end()), {0}, {32, 0x20, 0x01, 0x0d, 0xb8},
                  {64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0}});
  Bytes attrs = cat({mkattr(0x90, attr::kMpReach, mp), origin_attr(), as_path_attr4({65001})});
  auto r = decode(update_body({}, attrs, {}));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_FALSE(r->treat_as_withdraw) << r->treat_as_withdraw_reason;
  ASSERT_EQ(r->announced.size(), 1u);
  EXPECT_EQ(r->announced[0].family, kIpv6Unicast);
  EXPECT_EQ(r->announced[0].prefixes,
            (std::vector<Prefix>{pfx("2001:db8::/32"), pfx("2001:db8:1::/64")}));
  EXPECT_EQ(r->attrs.next_hop, gl);
  EXPECT_EQ(r->attrs.next_hop_link_local, ll);
  EXPECT_EQ(r->mp_next_hop, gl);
  EXPECT_EQ(r->mp_next_hop_link_local, ll);
}

TEST(UpdateDecode, MpUnreachIpv6) {
  Bytes mp = cat({u16(2), {1}, {48, 0x20, 0x01, 0x0d, 0xb8, 0, 5}});
  auto r = decode(update_body({}, mkattr(0x80, attr::kMpUnreach, mp), {}));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_EQ(r->withdrawn.size(), 1u);
  EXPECT_EQ(r->withdrawn[0].family, kIpv6Unicast);
  EXPECT_EQ(r->withdrawn[0].prefixes, (std::vector<Prefix>{pfx("2001:db8:5::/48")}));
  EXPECT_FALSE(r->end_of_rib);
}

TEST(UpdateDecode, BothFamiliesInOneUpdate) {
  auto gl = ip("2001:db8::1");
  Bytes mp = cat({u16(2), {1, 16}, Bytes(gl.bytes.begin(), gl.bytes.end()), {0},
                  {32, 0x20, 0x01, 0x0d, 0xb8}});
  Bytes attrs = cat({mkattr(0x80, attr::kMpReach, mp), mandatory4()});
  auto r = decode(update_body({}, attrs, {8, 10}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->announced.size(), 2u);
  EXPECT_EQ(r->attrs.next_hop, IpAddr::v4(0xC0000201));  // from NEXT_HOP for the IPv4 NLRI
  EXPECT_EQ(r->mp_next_hop, gl);
  EXPECT_FALSE(r->mp_next_hop_link_local);
}

TEST(UpdateDecode, MpReachIpv4MergesWithClassic) {
  Bytes mp = cat({u16(1), {1, 4}, u32(0x0A000009), {0}, {8, 11}});
  Bytes attrs = cat({mkattr(0x80, attr::kMpReach, mp), origin_attr(), as_path_attr4({1})});
  auto r = decode(update_body({}, attrs, {}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->announced.size(), 1u);
  EXPECT_EQ(r->announced[0].family, kIpv4Unicast);
  EXPECT_EQ(r->attrs.next_hop, IpAddr::v4(0x0A000009));
}

TEST(UpdateDecode, AddPathSkipsPathIds) {
  CodecOptions o = ibgp4();
  o.add_path_rx_ipv4 = true;
  o.add_path_rx_ipv6 = true;
  Bytes nlri = cat({u32(1), {24, 192, 0, 2}, u32(2), {24, 192, 0, 2}});
  Bytes withdrawn = cat({u32(7), {8, 10}});
  Bytes mp = cat({u16(2), {1, 16}, Bytes(16, 0x20), {0}, u32(5), {16, 0x20, 0x01}});
  auto r = decode(update_body(withdrawn, cat({mkattr(0x80, attr::kMpReach, mp), mandatory4()}), nlri), o);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_EQ(r->announced.size(), 2u);
  EXPECT_EQ(r->announced[0].prefixes.size(), 2u);
  EXPECT_EQ(r->announced[0].prefixes[1], pfx("192.0.2.0/24"));
  EXPECT_EQ(r->announced[1].prefixes, std::vector<Prefix>{pfx("2001::/16")});
  EXPECT_EQ(r->withdrawn[0].prefixes, std::vector<Prefix>{pfx("10.0.0.0/8")});
  // Without the option the same bytes are not valid NLRI (prefix length 0 then garbage).
  EXPECT_FALSE(decode(update_body({}, mandatory4(), cat({u32(1), {24, 192, 0, 2}})), ibgp4()).ok());
}

TEST(UpdateDecode, EndOfRibIpv4) {
  auto r = decode(Bytes{0, 0, 0, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end_of_rib, kIpv4Unicast);
  auto msg = encode_end_of_rib(kIpv4Unicast);
  EXPECT_EQ(msg.size(), 23u);
  auto r2 = decode_update(body_of(msg), ibgp4());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->end_of_rib, kIpv4Unicast);
}

TEST(UpdateDecode, EndOfRibIpv6) {
  auto msg = encode_end_of_rib(kIpv6Unicast);
  EXPECT_EQ(msg, cat({Bytes(16, 0xFF), {0, 29, 2, 0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1}}));
  auto r = decode_update(body_of(msg), ibgp4());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end_of_rib, kIpv6Unicast);
  EXPECT_TRUE(r->withdrawn.empty());
  // With another attribute present it is not an End-of-RIB.
  Bytes attrs = cat({mkattr(0x80, attr::kMpUnreach, cat({u16(2), {1}})), origin_attr()});
  auto r2 = decode(update_body({}, attrs, {}));
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->end_of_rib);
}

TEST(UpdateDecode, SplitUpdate) {
  Bytes body = update_body({8, 10}, mandatory4(), {8, 11});
  auto s = split_update(body);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->withdrawn.size(), 2u);
  EXPECT_EQ(s->attributes.size(), mandatory4().size());
  EXPECT_EQ(s->nlri.size(), 2u);
  auto a = decode_attributes(s->attributes, ibgp4(), true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attrs.next_hop, IpAddr::v4(0xC0000201));
  EXPECT_TRUE(a->announced.empty());
  // Without classic NLRI, a missing NEXT_HOP is fine (MP only).
  auto b = decode_attributes(cat({origin_attr(), as_path_attr4({1})}), ibgp4());
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->treat_as_withdraw);
  auto c = decode_attributes(cat({origin_attr(), as_path_attr4({1})}), ibgp4(), true);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->treat_as_withdraw);
}

TEST(DecodePrefixes, Direct) {
  std::vector<Prefix> out;
  auto r = decode_prefixes(Bytes{0, 32, 1, 2, 3, 4, 1, 0x80}, Afi::Ipv4, false, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3u);
  EXPECT_EQ(out, (std::vector<Prefix>{pfx("0.0.0.0/0"), pfx("1.2.3.4/32"), pfx("128.0.0.0/1")}));
  r = decode_prefixes(Bytes{129}, Afi::Ipv6, false, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kInvalidNetworkField);
  r = decode_prefixes(Bytes{8}, static_cast<Afi>(3), false, out);
  EXPECT_FALSE(r.ok());
  std::vector<uint8_t> enc;
  encode_prefix(pfx("2001:db8::/33"), enc);
  EXPECT_EQ(enc, (Bytes{33, 0x20, 0x01, 0x0d, 0xb8, 0}));
}

}  // namespace
}  // namespace tandem::wire
