// Attribute encoding, UPDATE packing and round trips.
#include <gtest/gtest.h>

#include <set>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using namespace test;

PathAttributes rich_attrs() {
  PathAttributes a;
  a.has_origin = true;
  a.origin = Origin::Egp;
  a.has_as_path = true;
  a.as_path.segments = {{AsPathSegment::ConfedSequence, {65100, 65101}},
                        {AsPathSegment::Sequence, {65001, 4200000000u}},
                        {AsPathSegment::Set, {7, 8}}};
  a.next_hop = IpAddr::v4(0x0A000001);
  a.med = 10;
  a.local_pref = 150;
  a.atomic_aggregate = true;
  a.aggregator = Aggregator{65001, 0x0A0000FE};
  a.communities = {0xFDE90001, community::kNoAdvertise};
  a.originator_id = 0x01010101;
  a.cluster_list = {0x02020202};
  a.ext_communities = {0x0002FDE900000064ULL, 0x0102030405060708ULL};
  a.large_communities = {{1, 2, 3}, {4, 5, 6}};
  a.unknown = {RawAttribute{0xE0, 40, {1}}, RawAttribute{0xE0, 99, {2, 3}}};
  return a;
}

std::vector<Prefix> many_v4(size_t n) {
  std::vector<Prefix> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.emplace_back(IpAddr::v4(static_cast<uint32_t>(0x0A000000u + (i << 8))), 24);
  return out;
}

std::vector<Prefix> many_v6(size_t n) {
  std::vector<Prefix> out;
  for (size_t i = 0; i < n; ++i) {
    IpAddr a = ip("2001:db8::");
    a.bytes[4] = static_cast<uint8_t>(i >> 8);
    a.bytes[5] = static_cast<uint8_t>(i);
    out.emplace_back(a, static_cast<uint8_t>(48 + i % 17));
  }
  return out;
}

TEST(Encode, AttributesInTypeOrderWithFlags) {
  PathAttributes a = rich_attrs();
  Bytes out;
  encode_attributes(a, ibgp4(), out);
  std::vector<uint8_t> types;
  for (size_t pos = 0; pos < out.size();) {
    const uint8_t flags = out[pos];
    const uint8_t type = out[pos + 1];
    types.push_back(type);
    size_t len = (flags & 0x10) ? (out[pos + 2] << 8 | out[pos + 3]) : out[pos + 2];
    size_t hdr = (flags & 0x10) ? 4 : 3;
    switch (type) {
      case 1: case 2: case 3: case 5: case 6: EXPECT_EQ(flags & 0xE0, 0x40) << int(type); break;
      case 4: case 9: case 10: EXPECT_EQ(flags & 0xE0, 0x80) << int(type); break;
      case 7: case 8: case 16: case 32: EXPECT_EQ(flags & 0xE0, 0xC0) << int(type); break;
      case 40: case 99: EXPECT_EQ(flags & 0xE0, 0xE0) << int(type); break;  // Partial set
      default: ADD_FAILURE() << "unexpected type " << int(type);
    }
    pos += hdr + len;
  }
  EXPECT_EQ(types, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 32, 40, 99}));
}

TEST(Encode, RoundTripIbgp) {
  PathAttributes a = rich_attrs();
  Bytes out;
  encode_attributes(a, ibgp4(), out);
  auto r = decode_update(update_body({}, out, {24, 10, 0, 0}), ibgp4());
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_FALSE(r->treat_as_withdraw) << r->treat_as_withdraw_reason;
  EXPECT_TRUE(r->discarded.empty());
  PathAttributes expected = a;
  for (auto& u : expected.unknown) u.flags |= attr::kFlagPartial;
  EXPECT_EQ(r->attrs, expected);
  EXPECT_EQ(r->attrs.hash(), expected.hash());
}

TEST(Encode, EbgpOmitsIbgpOnlyAttributes) {
  PathAttributes a = rich_attrs();
  Bytes out;
  CodecOptions ebgp;
  encode_attributes(a, ebgp, out);
  auto r = decode_update(update_body({}, out, {24, 10, 0, 0}), ebgp);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->attrs.local_pref);
  EXPECT_FALSE(r->attrs.originator_id);
  EXPECT_TRUE(r->attrs.cluster_list.empty());
  EXPECT_TRUE(r->discarded.empty());
}

TEST(Encode, ExtendedLengthAbove255) {
  PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  for (uint32_t i = 0; i < 100; ++i) a.communities.push_back(i);  // 400 octets
  Bytes out;
  encode_attributes(a, ibgp4(), out);
  // ORIGIN (4) + empty AS_PATH (3) then COMMUNITIES with Extended Length.
  ASSERT_GT(out.size(), 11u);
  EXPECT_EQ(out[7], 0xD0);
  EXPECT_EQ(out[8], attr::kCommunities);
  EXPECT_EQ(out[9] << 8 | out[10], 400);
  auto r = decode_attributes(out, ibgp4());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attrs.communities, a.communities);
}

TEST(Encode, LongAsPathSplitIntoSegments) {
  PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  a.as_path.segments = {{AsPathSegment::Sequence, std::vector<uint32_t>(300, 65001)}};
  Bytes out;
  encode_attributes(a, ibgp4(), out);
  auto r = decode_attributes(out, ibgp4());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attrs.as_path.segments.size(), 2u);
  EXPECT_EQ(r->attrs.as_path.selection_length(), 300u);
}

TEST(Encode, UnknownNonTransitiveNotPassedOn) {
  PathAttributes a;
  a.unknown = {RawAttribute{0x80, 77, {1}}, RawAttribute{0xC0, 2, {1}}};
  Bytes out;
  encode_attributes(a, ibgp4(), out);
  auto r = decode_attributes(out, ibgp4());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->attrs.unknown.empty());
}

TEST(Pack, TenThousandSlash24sIn4096) {
  PathAttributes a = rich_attrs();
  auto prefixes = many_v4(10000);
  CodecOptions o = ibgp4();
  auto msgs = encode_announcements(a, kIpv4Unicast, prefixes, o);
  ASSERT_FALSE(msgs.empty());
  std::vector<Prefix> back;
  for (const auto& m : msgs) {
    ASSERT_LE(m.size(), 4096u);
    auto h = decode_header(m, 4096);
    ASSERT_TRUE(h.ok()) << h.error().reason;
    EXPECT_EQ(h->length, m.size());
    EXPECT_EQ(h->type, MessageType::Update);
    auto r = decode_update(body_of(m), o);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    EXPECT_FALSE(r->treat_as_withdraw);
    ASSERT_EQ(r->announced.size(), 1u);
    PathAttributes expected = a;
    for (auto& u : expected.unknown) u.flags |= attr::kFlagPartial;
    EXPECT_EQ(r->attrs, expected);
    back.insert(back.end(), r->announced[0].prefixes.begin(), r->announced[0].prefixes.end());
  }
  EXPECT_EQ(back, prefixes);
  // Full packing: every message but the last is within one prefix of the limit.
  for (size_t i = 0; i + 1 < msgs.size(); ++i) EXPECT_GT(msgs[i].size(), 4096u - 4);

  CodecOptions ext = o;
  ext.extended_message = true;
  auto big = encode_announcements(a, kIpv4Unicast, prefixes, ext);
  EXPECT_LT(big.size(), msgs.size());
  std::vector<Prefix> back2;
  for (const auto& m : big) {
    ASSERT_LE(m.size(), 65535u);
    ASSERT_TRUE(decode_header(m, 65535).ok());
    auto r = decode_update(body_of(m), ext);
    ASSERT_TRUE(r.ok());
    back2.insert(back2.end(), r->announced[0].prefixes.begin(), r->announced[0].prefixes.end());
  }
  EXPECT_EQ(back2, prefixes);
}

TEST(Pack, Ipv6ViaMpReach) {
  PathAttributes a;
  a.has_origin = true;
  a.origin = Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments = {{AsPathSegment::Sequence, {65001}}};
  a.next_hop = ip("2001:db8::1");
  a.next_hop_link_local = ip("fe80::1");
  a.med = 5;
  auto prefixes = many_v6(3000);
  for (bool extended : {false, true}) {
    CodecOptions o;
    o.extended_message = extended;
    auto msgs = encode_announcements(a, kIpv6Unicast, prefixes, o);
    ASSERT_FALSE(msgs.empty());
    std::vector<Prefix> back;
    for (const auto& m : msgs) {
      ASSERT_LE(m.size(), o.max_message_size());
      ASSERT_TRUE(decode_header(m, o.max_message_size()).ok());
      auto r = decode_update(body_of(m), o);
      ASSERT_TRUE(r.ok()) << r.error().reason;
      EXPECT_FALSE(r->treat_as_withdraw) << r->treat_as_withdraw_reason;
      ASSERT_EQ(r->announced.size(), 1u);
      EXPECT_EQ(r->announced[0].family, kIpv6Unicast);
      EXPECT_EQ(r->attrs, a);
      // MP_REACH_NLRI comes first (RFC 7606 §5.1).
      EXPECT_EQ(body_of(m)[5], attr::kMpReach);
      back.insert(back.end(), r->announced[0].prefixes.begin(), r->announced[0].prefixes.end());
    }
    EXPECT_EQ(back, prefixes);
  }
}

TEST(Pack, Ipv6SmallMessageUsesShortMpLength) {
  PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  a.next_hop = ip("2001:db8::1");
  auto msgs = encode_announcements(a, kIpv6Unicast, std::vector<Prefix>{pfx("2001:db8::/32")},
                                   CodecOptions{});
  ASSERT_EQ(msgs.size(), 1u);
  auto body = body_of(msgs[0]);
  EXPECT_EQ(body[4], 0x80);  // MP_REACH without Extended Length
  auto r = decode_update(body, CodecOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attrs.next_hop, a.next_hop);
  EXPECT_FALSE(r->attrs.next_hop_link_local);
}

TEST(Pack, Withdrawals) {
  auto v4 = many_v4(5000);
  auto v6 = many_v6(2000);
  CodecOptions o;
  for (auto [family, list] : {std::pair{kIpv4Unicast, &v4}, std::pair{kIpv6Unicast, &v6}}) {
    auto msgs = encode_withdrawals(family, *list, o);
    ASSERT_GT(msgs.size(), 1u);
    std::vector<Prefix> back;
    for (const auto& m : msgs) {
      ASSERT_LE(m.size(), 4096u);
      ASSERT_TRUE(decode_header(m, 4096).ok());
      auto r = decode_update(body_of(m), o);
      ASSERT_TRUE(r.ok()) << r.error().reason;
      ASSERT_EQ(r->withdrawn.size(), 1u);
      EXPECT_EQ(r->withdrawn[0].family, family);
      EXPECT_TRUE(r->announced.empty());
      EXPECT_FALSE(r->end_of_rib);
      back.insert(back.end(), r->withdrawn[0].prefixes.begin(), r->withdrawn[0].prefixes.end());
    }
    EXPECT_EQ(back, *list);
  }
  EXPECT_TRUE(encode_withdrawals(kIpv4Unicast, {}, o).empty());
  // Prefixes of another family are skipped.
  EXPECT_TRUE(encode_withdrawals(kIpv4Unicast, v6, o).empty());
}

TEST(Pack, OversizedAttributesProduceNothing) {
  PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  a.next_hop = IpAddr::v4(1);
  a.communities.assign(1100, 1);  // 4400 octets
  EXPECT_TRUE(encode_announcements(a, kIpv4Unicast, many_v4(2), CodecOptions{}).empty());
  CodecOptions ext;
  ext.extended_message = true;
  EXPECT_EQ(encode_announcements(a, kIpv4Unicast, many_v4(2), ext).size(), 1u);
}

TEST(Pack, SingleMessageBytes) {
  PathAttributes a;
  a.has_origin = true;
  a.origin = Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments = {{AsPathSegment::Sequence, {65001}}};
  a.next_hop = IpAddr::v4(0xC0000201);
  auto msgs = encode_announcements(a, kIpv4Unicast, std::vector<Prefix>{pfx("10.0.0.0/8")},
                                   CodecOptions{});
  ASSERT_EQ(msgs.size(), 1u);
  Bytes body = update_body({}, mandatory4(), {8, 10});
  Bytes expected = cat({Bytes(16, 0xFF), u16(static_cast<uint16_t>(19 + body.size())), {2}, body});
  EXPECT_EQ(msgs[0], expected);
}

TEST(Hash, EqualAttributesHashEqualAndDifferentOnesDiffer) {
  PathAttributes a = rich_attrs();
  PathAttributes b = rich_attrs();
  EXPECT_EQ(a.hash(), b.hash());
  std::set<size_t> hashes;
  for (uint32_t i = 0; i < 1000; ++i) {
    PathAttributes c = a;
    c.med = i;
    hashes.insert(c.hash());
  }
  EXPECT_EQ(hashes.size(), 1000u);
  PathAttributes d = a;
  d.as_path.segments[1].asns[0] = 65002;
  EXPECT_NE(d.hash(), a.hash());
  PathAttributes e = a;
  e.local_pref.reset();
  EXPECT_NE(e.hash(), a.hash());
}

}  // namespace
}  // namespace tandem::wire
