// TABLE_DUMP_V2: PEER_INDEX_TABLE and RIB records, byte-exact and round trips; RIB
// entry attributes with the abbreviated MP_REACH_NLRI (RFC 6396 §4.3.4).
#include <gtest/gtest.h>

#include "bgpd/mrt/constants.hpp"
#include "bgpd/mrt/decode.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

PeerIndexTable two_peers() {
  PeerIndexTable t;
  t.collector_id = 0x0A0000FE;
  t.view_name = "v";
  t.peers.push_back(PeerEntry{0x01010101, ip("192.0.2.1"), 65001});
  t.peers.push_back(PeerEntry{0x02020202, ip("2001:db8::1"), 4200000000u});
  return t;
}

wire::PathAttributes attrs(const char* nh) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.origin = wire::Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments.push_back({wire::AsPathSegment::Sequence, {65001, 65002}});
  a.next_hop = ip(nh);
  return a;
}

TEST(MrtTableDump, PeerIndexTableByteExact) {
  const Bytes got = encode_peer_index_table(Timestamp{1000, 0}, two_peers());
  const Bytes want = cat({u32(1000), u16(13), u16(1), u32(47),
                          u32(0x0A0000FE), u16(1), {'v'}, u16(2),
                          {0x02}, u32(0x01010101), {192, 0, 2, 1}, u32(65001),
                          {0x03}, u32(0x02020202),
                          {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                          u32(4200000000u)});
  EXPECT_EQ(got, want);
}

TEST(MrtTableDump, RibIpv4ByteExact) {
  wire::PathAttributes a = attrs("192.0.2.1");
  a.med = 5;
  a.local_pref = 100;
  const Bytes attr_bytes = encode_rib_attributes(a, wire::Afi::Ipv4);
  const Bytes want_attrs = {0x40, 0x01, 0x01, 0x00,                                   // ORIGIN IGP
                            0x40, 0x02, 0x0a, 0x02, 0x02, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xea,  // AS_PATH
                            0x40, 0x03, 0x04, 192, 0, 2, 1,                           // NEXT_HOP
                            0x80, 0x04, 0x04, 0, 0, 0, 5,                             // MED
                            0x40, 0x05, 0x04, 0, 0, 0, 100};                          // LOCAL_PREF
  ASSERT_EQ(attr_bytes, want_attrs);
  const std::vector<RibEntry> entries = {RibEntry{0, 999, attr_bytes}};
  const Bytes got = encode_rib_record(Timestamp{1000, 0}, 7, pfx("192.0.2.0/24"), entries);
  const Bytes want = cat({u32(1000), u16(13), u16(2),
                          u32(static_cast<uint32_t>(4 + 1 + 3 + 2 + 8 + want_attrs.size())),
                          u32(7), {24, 192, 0, 2}, u16(1),
                          u16(0), u32(999), u16(static_cast<uint16_t>(want_attrs.size())), want_attrs});
  EXPECT_EQ(got, want);
}

TEST(MrtTableDump, Ipv6AttributesCarryAbbreviatedMpReach) {
  wire::PathAttributes a = attrs("2001:db8::1");
  a.communities = {0xFDE90064};
  const Bytes b = encode_rib_attributes(a, wire::Afi::Ipv6);
  // ORIGIN, AS_PATH, COMMUNITIES (8), then MP_REACH (14): next-hop length + next hop.
  const Bytes mp = {0x80, 0x0e, 0x11, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  ASSERT_GE(b.size(), mp.size());
  EXPECT_EQ(Bytes(b.end() - static_cast<long>(mp.size()), b.end()), mp);
  auto back = decode_rib_attributes(b, wire::Afi::Ipv6);
  ASSERT_TRUE(back.ok()) << back.error().reason;
  EXPECT_EQ(back.value(), a);
}

TEST(MrtTableDump, LinkLocalNextHop) {
  wire::PathAttributes a = attrs("2001:db8::1");
  a.next_hop_link_local = ip("fe80::1");
  auto back = decode_rib_attributes(encode_rib_attributes(a, wire::Afi::Ipv6), wire::Afi::Ipv6);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), a);
}

// Older dumpers wrote the full MP_REACH form; it must decode as well.
TEST(MrtTableDump, FullMpReachFormAccepted) {
  const Bytes full = {0x40, 0x01, 0x01, 0x00, 0x40, 0x02, 0x00,
                      0x80, 0x0e, 0x15, 0x00, 0x02, 0x01, 0x10,
                      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x00};
  EXPECT_EQ(expand_rib_attributes(full, wire::Afi::Ipv6), full);
  auto back = decode_rib_attributes(full, wire::Afi::Ipv6);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->next_hop, ip("2001:db8::9"));
}

TEST(MrtTableDump, WriterRoundTrip) {
  TableDumpWriter w(Timestamp{1000, 0}, two_peers());
  Bytes stream = w.peer_index_table();
  const Bytes a4 = encode_rib_attributes(attrs("192.0.2.1"), wire::Afi::Ipv4);
  const Bytes a6 = encode_rib_attributes(attrs("2001:db8::1"), wire::Afi::Ipv6);
  const std::vector<RibEntry> e4 = {RibEntry{0, 10, a4}, RibEntry{1, 11, a4}};
  const std::vector<RibEntry> e6 = {RibEntry{1, 12, a6}};
  for (const Bytes& r : {w.rib(pfx("10.0.0.0/8"), e4), w.rib(pfx("2001:db8::/32"), e6),
                         w.rib(pfx("0.0.0.0/0"), e4)})
    stream.insert(stream.end(), r.begin(), r.end());
  EXPECT_EQ(w.records(), 3u);

  MemoryReader r(stream);
  auto pit = r.next();
  ASSERT_TRUE(pit && pit->ok());
  EXPECT_EQ(std::get<PeerIndexTable>(pit->value().body), two_peers());
  const std::vector<std::pair<const char*, const std::vector<RibEntry>*>> want = {
      {"10.0.0.0/8", &e4}, {"2001:db8::/32", &e6}, {"0.0.0.0/0", &e4}};
  for (uint32_t i = 0; i < want.size(); ++i) {
    auto rec = r.next();
    ASSERT_TRUE(rec && rec->ok()) << rec->error().to_string();
    const auto& rib = std::get<RibRecord>(rec->value().body);
    EXPECT_EQ(rib.sequence, i);
    EXPECT_EQ(rib.prefix, pfx(want[i].first));
    EXPECT_EQ(rib.entries, *want[i].second);
    EXPECT_EQ(rec->value().subtype, rib.prefix.addr.is_v4() ? table_dump_v2::kRibIpv4Unicast
                                                             : table_dump_v2::kRibIpv6Unicast);
  }
  EXPECT_FALSE(r.next().has_value());
}

TEST(MrtTableDump, WriterLeavesOutUnknownPeers) {
  TableDumpWriter w(Timestamp{1, 0}, two_peers());
  const std::vector<RibEntry> bad = {RibEntry{5, 1, {}}};
  EXPECT_TRUE(w.rib(pfx("10.0.0.0/8"), bad).empty());
  const std::vector<RibEntry> mixed = {RibEntry{5, 1, {}}, RibEntry{1, 2, {}}};
  Bytes stream = w.peer_index_table();
  const Bytes rec = w.rib(pfx("10.0.0.0/8"), mixed);
  stream.insert(stream.end(), rec.begin(), rec.end());
  MemoryReader r(stream);
  (void)r.next();
  auto got = r.next();
  ASSERT_TRUE(got && got->ok());
  ASSERT_EQ(std::get<RibRecord>(got->value().body).entries.size(), 1u);
  EXPECT_EQ(std::get<RibRecord>(got->value().body).entries[0].peer_index, 1);
}

// Legacy TABLE_DUMP (type 12, RFC 6396 §4.2).
TEST(MrtTableDump, LegacyTableDumpDecodes) {
  const Bytes attrs2 = {0x40, 0x01, 0x01, 0x00, 0x40, 0x02, 0x04, 0x02, 0x01, 0xfd, 0xe9};
  const Bytes body = cat({u16(0), u16(3), {10, 1, 0, 0}, {16}, {1}, u32(77), {192, 0, 2, 9},
                          u16(65001), u16(static_cast<uint16_t>(attrs2.size())), attrs2});
  const Bytes rec = cat({u32(5), u16(12), u16(1), u32(static_cast<uint32_t>(body.size())), body});
  MemoryReader r(rec);
  auto got = r.next();
  ASSERT_TRUE(got && got->ok()) << got->error().to_string();
  const auto& e = std::get<TableDumpEntry>(got->value().body);
  EXPECT_EQ(e.sequence, 3);
  EXPECT_EQ(e.prefix, pfx("10.1.0.0/16"));
  EXPECT_EQ(e.status, 1);
  EXPECT_EQ(e.originated, 77u);
  EXPECT_EQ(e.peer_ip, ip("192.0.2.9"));
  EXPECT_EQ(e.peer_as, 65001);
  EXPECT_EQ(e.attributes, attrs2);
}

}  // namespace
}  // namespace tandem::mrt
