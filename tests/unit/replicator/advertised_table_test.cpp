// AdvertisedTable: what an outbound stream of whole BGP messages told the peer, fed in
// any chunking, and the diff of two such tables.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "replicator/advertised_table.hpp"

namespace tandem::replicator {
namespace {

using Bytes = std::vector<uint8_t>;

wire::IpAddr A(const char* s) { return *wire::IpAddr::parse(s); }
wire::Prefix P(const std::string& s) { return *wire::Prefix::parse(s); }

wire::PathAttributes attrs(std::vector<uint32_t> path, const char* next_hop, std::optional<uint32_t> med = {}) {
  wire::PathAttributes a;
  a.origin = wire::Origin::Igp;
  a.has_origin = true;
  a.has_as_path = true;
  if (!path.empty()) a.as_path.segments.push_back(wire::AsPathSegment{wire::AsPathSegment::Sequence, path});
  a.next_hop = A(next_hop);
  a.med = med;
  return a;
}

std::vector<wire::Prefix> v4_prefixes(int first, int count) {
  std::vector<wire::Prefix> out;
  for (int i = first; i < first + count; ++i)
    out.push_back(P("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
  return out;
}
std::vector<wire::Prefix> v6_prefixes(int first, int count) {
  std::vector<wire::Prefix> out;
  char buf[64];
  for (int i = first; i < first + count; ++i) {
    std::snprintf(buf, sizeof buf, "2001:db8:%x::/48", i);
    out.push_back(P(buf));
  }
  return out;
}

const wire::CodecOptions kCodec{};

void append(Bytes& out, const Bytes& msg) { out.insert(out.end(), msg.begin(), msg.end()); }
void append_all(Bytes& out, const std::vector<Bytes>& msgs) {
  for (const auto& m : msgs) append(out, m);
}

Bytes announce(const wire::PathAttributes& a, const std::vector<wire::Prefix>& prefixes) {
  Bytes out;
  append_all(out, wire::encode_announcements(a, prefixes.at(0).family(), prefixes, kCodec));
  return out;
}
Bytes withdraw(const std::vector<wire::Prefix>& prefixes) {
  Bytes out;
  append_all(out, wire::encode_withdrawals(prefixes.at(0).family(), prefixes, kCodec));
  return out;
}

Bytes open_message() {
  wire::Open o;
  o.caps.four_octet_as = 65000;
  o.bgp_id = 0x0A000001;
  return wire::encode_open(o);
}

// A session's outbound stream: OPEN, KEEPALIVEs, announcements (two attribute sets,
// IPv4 and IPv6), a re-announcement with another path, withdrawals, End-of-RIBs.
Bytes session_stream() {
  Bytes s;
  append(s, open_message());
  append(s, wire::encode_keepalive());
  append(s, announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 600)));
  append(s, wire::encode_keepalive());
  append(s, announce(attrs({65000, 65010}, "192.0.2.254", 5), v4_prefixes(600, 400)));
  append(s, announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(0, 300)));
  append(s, wire::encode_end_of_rib(wire::kIpv4Unicast));
  append(s, wire::encode_end_of_rib(wire::kIpv6Unicast));
  append(s, withdraw(v4_prefixes(100, 50)));
  append(s, withdraw(v6_prefixes(10, 5)));
  append(s, announce(attrs({65000, 65020}, "192.0.2.254"), v4_prefixes(0, 10)));  // path change
  append(s, wire::encode_keepalive());
  return s;
}
constexpr size_t kStreamRoutes = 600 + 400 + 300 - 50 - 5;

// The same final table, announced directly.
AdvertisedTable final_table() {
  AdvertisedTable t;
  std::string why;
  Bytes s;
  append(s, announce(attrs({65000, 65020}, "192.0.2.254"), v4_prefixes(0, 10)));
  append(s, announce(attrs({65000}, "192.0.2.254"), v4_prefixes(10, 90)));
  append(s, announce(attrs({65000}, "192.0.2.254"), v4_prefixes(150, 450)));
  append(s, announce(attrs({65000, 65010}, "192.0.2.254", 5), v4_prefixes(600, 400)));
  append(s, announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(0, 10)));
  append(s, announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(15, 285)));
  EXPECT_TRUE(t.feed(s, why)) << why;
  return t;
}

void feed_in_chunks(AdvertisedTable& t, const Bytes& s, const std::vector<size_t>& sizes) {
  std::string why;
  size_t pos = 0, i = 0;
  while (pos < s.size()) {
    size_t n = std::min(sizes[i++ % sizes.size()], s.size() - pos);
    ASSERT_TRUE(t.feed(std::span<const uint8_t>(s).subspan(pos, n), why)) << why << " at " << pos;
    pos += n;
  }
}

size_t diff(const AdvertisedTable& a, const AdvertisedTable& b) {
  std::vector<std::string> ex;
  return AdvertisedTable::diff(a, b, ex, 10);
}

TEST(AdvertisedTable, WholeStreamGivesTheFinalTable) {
  AdvertisedTable t;
  std::string why;
  auto s = session_stream();
  EXPECT_TRUE(t.feed(s, why)) << why;
  EXPECT_FALSE(t.broken());
  EXPECT_EQ(t.size(), kStreamRoutes);
  EXPECT_EQ(diff(t, final_table()), 0u);
}

TEST(AdvertisedTable, AnyChunkingGivesTheSameTable) {
  const auto s = session_stream();
  AdvertisedTable whole;
  std::string why;
  ASSERT_TRUE(whole.feed(s, why)) << why;

  std::vector<std::vector<size_t>> chunkings = {
      {1}, {2}, {3}, {7}, {18}, {19}, {20}, {37}, {4095}, {4096}, {4097}, {1, 18, 1, 4000, 19, 5}};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> len(1, 9000);
  std::vector<size_t> random;
  for (int i = 0; i < 200; ++i) random.push_back(len(rng));
  chunkings.push_back(random);

  for (const auto& sizes : chunkings) {
    AdvertisedTable t;
    feed_in_chunks(t, s, sizes);
    EXPECT_FALSE(t.broken());
    EXPECT_EQ(t.size(), whole.size()) << "chunk " << sizes[0];
    EXPECT_EQ(diff(t, whole), 0u) << "chunk " << sizes[0];
  }
}

TEST(AdvertisedTable, OpenAndKeepaliveAreIgnored) {
  AdvertisedTable t;
  std::string why;
  Bytes s;
  append(s, open_message());
  append(s, wire::encode_keepalive());
  append(s, wire::encode_keepalive());
  EXPECT_TRUE(t.feed(s, why)) << why;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.version(), 0u);
}

TEST(AdvertisedTable, AnnounceThenWithdrawIsEmpty) {
  AdvertisedTable t;
  std::string why;
  ASSERT_TRUE(t.feed(announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 1000)), why)) << why;
  ASSERT_TRUE(t.feed(announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(0, 100)), why)) << why;
  EXPECT_EQ(t.size(), 1100u);
  const auto v = t.version();
  ASSERT_TRUE(t.feed(withdraw(v4_prefixes(0, 1000)), why)) << why;
  ASSERT_TRUE(t.feed(withdraw(v6_prefixes(0, 100)), why)) << why;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_GT(t.version(), v);
  EXPECT_EQ(diff(t, AdvertisedTable{}), 0u);
}

TEST(AdvertisedTable, ApplyUpdateTakesABodyWithoutHeader) {
  AdvertisedTable t;
  std::string why;
  auto msgs = wire::encode_announcements(attrs({65000}, "192.0.2.254"), wire::kIpv4Unicast, v4_prefixes(0, 3), kCodec);
  ASSERT_EQ(msgs.size(), 1u);
  std::span<const uint8_t> body(msgs[0].data() + wire::kHeaderLen, msgs[0].size() - wire::kHeaderLen);
  EXPECT_TRUE(t.apply_update(body, why)) << why;
  EXPECT_EQ(t.size(), 3u);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
}

TEST(AdvertisedTable, DifferentMedIsPathDiffers) {
  AdvertisedTable a, b;
  std::string why;
  ASSERT_TRUE(a.feed(announce(attrs({65000}, "192.0.2.254", 10), v4_prefixes(0, 20)), why)) << why;
  ASSERT_TRUE(b.feed(announce(attrs({65000}, "192.0.2.254", 20), v4_prefixes(0, 20)), why)) << why;
  ASSERT_EQ(a.size(), b.size());
  std::vector<std::string> ex;
  EXPECT_EQ(AdvertisedTable::diff(a, b, ex, 3), 20u);
  ASSERT_EQ(ex.size(), 3u);
  for (const auto& e : ex) EXPECT_NE(e.find("path differs"), std::string::npos) << e;
  EXPECT_EQ(ex[0], "10.0.0.0/24 path differs");

  // Same MED again: equal.
  ASSERT_TRUE(b.feed(announce(attrs({65000}, "192.0.2.254", 10), v4_prefixes(0, 20)), why)) << why;
  EXPECT_EQ(diff(a, b), 0u);
}

TEST(AdvertisedTable, PrefixesOnOneSideAreCounted) {
  AdvertisedTable a, b;
  std::string why;
  const auto at = attrs({65000}, "192.0.2.254");
  ASSERT_TRUE(a.feed(announce(at, v4_prefixes(0, 10)), why)) << why;
  ASSERT_TRUE(b.feed(announce(at, v4_prefixes(0, 10)), why)) << why;
  ASSERT_TRUE(b.feed(announce(at, v4_prefixes(10, 4)), why)) << why;
  ASSERT_TRUE(a.feed(announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(0, 2)), why)) << why;

  std::vector<std::string> ex;
  EXPECT_EQ(AdvertisedTable::diff(a, b, ex, 100), 6u);
  ASSERT_EQ(ex.size(), 6u);
  size_t first = 0, second = 0;
  for (const auto& e : ex) {
    if (e.find("only in the first") != std::string::npos) ++first;
    if (e.find("only in the second") != std::string::npos) ++second;
  }
  EXPECT_EQ(first, 2u);   // the IPv6 prefixes
  EXPECT_EQ(second, 4u);  // 10.0.10.0/24 .. 10.0.13.0/24
  ex.clear();
  EXPECT_EQ(AdvertisedTable::diff(b, a, ex, 0), 6u);  // counted, no examples
  EXPECT_TRUE(ex.empty());
}

TEST(AdvertisedTable, DifferingListsEveryPrefixDiffCounts) {
  AdvertisedTable a, b;
  std::string why;
  const auto at = attrs({65000}, "192.0.2.254");
  ASSERT_TRUE(a.feed(announce(at, v4_prefixes(0, 10)), why)) << why;               // both, same path
  ASSERT_TRUE(b.feed(announce(at, v4_prefixes(0, 8)), why)) << why;
  ASSERT_TRUE(b.feed(announce(attrs({65000}, "192.0.2.254", 5), v4_prefixes(8, 2)), why)) << why;  // MED
  ASSERT_TRUE(b.feed(announce(at, v4_prefixes(20, 3)), why)) << why;               // only in b
  ASSERT_TRUE(a.feed(announce(attrs({65000}, "2001:db8::fe"), v6_prefixes(0, 1)), why)) << why;  // only in a

  const auto d = AdvertisedTable::differing(a, b);
  std::vector<wire::Prefix> expected = v4_prefixes(8, 2);
  for (const auto& p : v4_prefixes(20, 3)) expected.push_back(p);
  expected.push_back(v6_prefixes(0, 1)[0]);
  EXPECT_EQ(std::set<wire::Prefix>(d.begin(), d.end()), std::set<wire::Prefix>(expected.begin(), expected.end()));
  EXPECT_EQ(d.size(), diff(a, b));
  EXPECT_TRUE(AdvertisedTable::differing(a, a).empty());
}

TEST(AdvertisedTable, Ipv6MpReachUpdate) {
  AdvertisedTable t, other;
  std::string why;
  auto a = attrs({65000, 65001}, "2001:db8::fe");
  ASSERT_TRUE(t.feed(announce(a, v6_prefixes(0, 50)), why)) << why;
  EXPECT_EQ(t.size(), 50u);

  // The next hop (from MP_REACH_NLRI) is part of the path.
  auto b = a;
  b.next_hop = A("2001:db8::ff");
  ASSERT_TRUE(other.feed(announce(b, v6_prefixes(0, 50)), why)) << why;
  std::vector<std::string> ex;
  EXPECT_EQ(AdvertisedTable::diff(t, other, ex, 1), 50u);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0], "2001:db8::/48 path differs");

  // And the link-local next hop.
  auto c = a;
  c.next_hop_link_local = A("fe80::1");
  AdvertisedTable ll;
  ASSERT_TRUE(ll.feed(announce(c, v6_prefixes(0, 50)), why)) << why;
  EXPECT_EQ(diff(t, ll), 50u);

  ASSERT_TRUE(t.feed(withdraw(v6_prefixes(0, 25)), why)) << why;
  EXPECT_EQ(t.size(), 25u);
}

TEST(AdvertisedTable, BrokenHeaderStopsTheTable) {
  AdvertisedTable t;
  std::string why;
  ASSERT_TRUE(t.feed(announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 5)), why)) << why;
  Bytes bad = wire::encode_keepalive();
  bad[3] = 0x00;  // marker
  EXPECT_FALSE(t.feed(bad, why));
  EXPECT_FALSE(why.empty());
  EXPECT_TRUE(t.broken());
  const auto v = t.version();
  why.clear();
  EXPECT_FALSE(t.feed(announce(attrs({65000}, "192.0.2.254"), v4_prefixes(5, 5)), why));
  EXPECT_FALSE(t.feed(withdraw(v4_prefixes(0, 5)), why));
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(t.version(), v);
}

TEST(AdvertisedTable, BadLengthSplitAcrossChunks) {
  AdvertisedTable t;
  std::string why;
  Bytes s = announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 5));
  Bytes bad = wire::encode_keepalive();
  bad[16] = 0;
  bad[17] = 18;  // length < 19
  append(s, bad);
  append(s, announce(attrs({65000}, "192.0.2.254"), v4_prefixes(5, 5)));
  bool ok = true;
  for (size_t i = 0; i < s.size() && ok; ++i) ok = t.feed(std::span<const uint8_t>(s).subspan(i, 1), why);
  EXPECT_FALSE(ok);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(t.size(), 5u);
}

TEST(AdvertisedTable, UndecodableUpdateStopsTheTable) {
  AdvertisedTable t;
  std::string why;
  // A whole UPDATE whose withdrawn-routes length overruns the body.
  Bytes bad(wire::kHeaderLen, 0xFF);
  bad[16] = 0;
  bad[17] = 23;
  bad[18] = static_cast<uint8_t>(wire::MessageType::Update);
  for (uint8_t b : {0xFF, 0xFF, 0x00, 0x00}) bad.push_back(b);
  Bytes s = announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 5));
  append(s, bad);
  append(s, announce(attrs({65000}, "192.0.2.254"), v4_prefixes(5, 5)));  // same chunk, after it
  EXPECT_FALSE(t.feed(s, why));
  EXPECT_NE(why.find("UPDATE"), std::string::npos) << why;
  EXPECT_TRUE(t.broken());
  EXPECT_EQ(t.size(), 5u);
  EXPECT_FALSE(t.feed(announce(attrs({65000}, "192.0.2.254"), v4_prefixes(5, 5)), why));
  EXPECT_EQ(t.size(), 5u);
}

// An UPDATE the peer treats as a withdrawal of its NLRI (RFC 7606; here AS 0 in the
// AS_PATH, RFC 7607) withdraws those prefixes from the table.
TEST(AdvertisedTable, TreatAsWithdrawUpdateWithdraws) {
  AdvertisedTable t;
  std::string why;
  ASSERT_TRUE(t.feed(announce(attrs({65000}, "192.0.2.254"), v4_prefixes(0, 5)), why)) << why;
  ASSERT_EQ(t.size(), 5u);
  Bytes s = announce(attrs({65000, 0}, "192.0.2.254"), v4_prefixes(0, 10));
  ASSERT_FALSE(s.empty());
  {
    auto u = wire::decode_update(std::span<const uint8_t>(s).subspan(wire::kHeaderLen), kCodec);
    ASSERT_TRUE(u.ok());
    ASSERT_TRUE(u->treat_as_withdraw);
  }
  EXPECT_TRUE(t.feed(s, why)) << why;
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace tandem::replicator
