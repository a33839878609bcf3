// `tandemctl mrt inject`'s conversion: MRT files written with tandem's MRT encoders
// (TABLE_DUMP_V2, BGP4MP, gzip) read into routes, the first path per prefix, withdrawals
// and other records skipped, attributes the daemon would refuse dropped, --nexthop,
// grouping into requests, and malformed input reported with its offset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <zlib.h>

#include "apps/tandemctl/mrt_routes.hpp"
#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "bgpd/wire/message.hpp"

namespace tandemctl {
namespace {

namespace wire = tandem::wire;
namespace mrt = tandem::mrt;
namespace tv1 = tandem::v1;
using Bytes = std::vector<uint8_t>;

wire::IpAddr ip(const char* s) { return *wire::IpAddr::parse(s); }
wire::Prefix pfx(const char* s) { return *wire::Prefix::parse(s); }

wire::PathAttributes attrs(std::vector<uint32_t> path, const char* nh, uint32_t med = 0) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.origin = wire::Origin::Egp;
  a.has_as_path = true;
  if (!path.empty()) a.as_path.segments.push_back({wire::AsPathSegment::Sequence, std::move(path)});
  a.next_hop = ip(nh);
  if (med) a.med = med;
  a.communities = {0xFDE80001};
  a.large_communities = {{65000, 1, 2}};
  return a;
}

class MrtFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandemctl-mrt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const Bytes& data, bool gzip = false) {
    const std::string path = dir_ + "/" + name;
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, data.data(), static_cast<unsigned>(data.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                                  static_cast<std::streamsize>(data.size()));
    }
    return path;
  }
  // A TABLE_DUMP_V2 file: two peers; each prefix has a path from each (peer 0 first).
  Bytes table_dump(const std::vector<std::pair<wire::Prefix, wire::PathAttributes>>& routes) {
    mrt::PeerIndexTable t;
    t.collector_id = 1;
    t.peers = {{1, ip("198.18.0.9"), 65010}, {2, ip("198.18.0.8"), 65011}};
    mrt::TableDumpWriter w(mrt::Timestamp{1700000000, 0}, t);
    Bytes out = w.peer_index_table();
    for (const auto& [p, a] : routes) {
      wire::PathAttributes other = a;
      other.as_path.segments = {{wire::AsPathSegment::Sequence, {64999}}};
      std::vector<mrt::RibEntry> es = {{0, 1700000000, mrt::encode_rib_attributes(a, p.afi())},
                                       {1, 1700000000, mrt::encode_rib_attributes(other, p.afi())}};
      auto rec = w.rib(p, es);
      out.insert(out.end(), rec.begin(), rec.end());
    }
    return out;
  }
  std::vector<MrtRoute> read_all(const std::string& path, MrtRouteStats* stats = nullptr, size_t batch = 3) {
    std::string err;
    auto r = MrtRouteReader::open(path, err);
    EXPECT_TRUE(r) << err;
    std::vector<MrtRoute> out;
    if (!r) return out;
    while (true) {
      std::vector<MrtRoute> b;
      bool more = r->next(b, batch);
      EXPECT_LE(b.size(), batch);
      out.insert(out.end(), b.begin(), b.end());
      if (!more) break;
    }
    if (stats) *stats = r->stats();
    return out;
  }
  std::string dir_;
};

TEST_F(MrtFiles, TableDumpV2FirstPathOfEachPrefix) {
  const auto a4 = attrs({4200001000, 65100}, "198.18.0.9", 5);
  const auto a6 = attrs({65020}, "2001:db8::99");
  const auto path = write("rib.mrt", table_dump({{pfx("10.1.0.0/24"), a4}, {pfx("10.1.1.0/24"), a4},
                                                  {pfx("2001:db8:1::/48"), a6}, {pfx("10.1.2.0/24"), a4}}));
  MrtRouteStats s;
  auto routes = read_all(path, &s);
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].prefix, pfx("10.1.0.0/24"));
  EXPECT_EQ(routes[0].attrs.as_path.to_string(), "4200001000 65100");
  EXPECT_EQ(routes[0].attrs.med, 5u);
  EXPECT_EQ(routes[0].attrs.next_hop, ip("198.18.0.9"));
  EXPECT_EQ(routes[0].attrs.communities, a4.communities);
  EXPECT_EQ(routes[0].attrs.large_communities, a4.large_communities);
  EXPECT_EQ(routes[2].prefix, pfx("2001:db8:1::/48"));
  EXPECT_EQ(routes[2].attrs.next_hop, ip("2001:db8::99"));
  EXPECT_EQ(s.records, 5u);
  EXPECT_EQ(s.routes, 4u);
  EXPECT_EQ(s.other_paths, 4u);
  EXPECT_EQ(s.malformed, 0u);
  EXPECT_FALSE(s.first_error);
}

TEST_F(MrtFiles, Bgp4mpAnnouncementsGzip) {
  mrt::Bgp4mpPeer peer{65020, 65000, 0, ip("198.18.0.7"), ip("198.18.0.1")};
  const mrt::Timestamp t{1700000000, 0};
  Bytes data = mrt::encode_bgp4mp_state_change(t, peer, mrt::FsmState::OpenConfirm, mrt::FsmState::Established);
  const std::vector<wire::Prefix> ps = {pfx("10.2.0.0/24"), pfx("10.2.1.0/24")};
  for (const auto& m : wire::encode_announcements(attrs({65020}, "198.18.0.7"), wire::kIpv4Unicast, ps, {})) {
    auto rec = mrt::encode_bgp4mp_message(t, peer, m);
    data.insert(data.end(), rec.begin(), rec.end());
  }
  const std::vector<wire::Prefix> p6 = {pfx("2001:db8:2::/48")};
  mrt::Bgp4mpPeer peer6{65020, 65000, 0, ip("2001:db8::7"), ip("2001:db8::1")};
  for (const auto& m : wire::encode_announcements(attrs({65020}, "2001:db8::7"), wire::kIpv6Unicast, p6, {})) {
    auto rec = mrt::encode_bgp4mp_message(t, peer6, m);
    data.insert(data.end(), rec.begin(), rec.end());
  }
  for (const auto& m : wire::encode_withdrawals(wire::kIpv4Unicast, ps, {})) {
    auto rec = mrt::encode_bgp4mp_message(t, peer, m);
    data.insert(data.end(), rec.begin(), rec.end());
  }
  auto ka = mrt::encode_bgp4mp_message(t, peer, wire::encode_keepalive());
  data.insert(data.end(), ka.begin(), ka.end());
  MrtRouteStats s;
  auto routes = read_all(write("updates.mrt.gz", data, true), &s);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[1].prefix, pfx("10.2.1.0/24"));
  EXPECT_EQ(routes[1].attrs.next_hop, ip("198.18.0.7"));
  EXPECT_EQ(routes[2].attrs.next_hop, ip("2001:db8::7"));
  EXPECT_EQ(routes[2].attrs.as_path.to_string(), "65020");
  EXPECT_EQ(s.withdrawals, 2u);
  EXPECT_EQ(s.skipped_records, 2u);  // the state change and the KEEPALIVE
}

TEST_F(MrtFiles, MalformedRecordsAreReportedWithTheirOffsets) {
  const auto a4 = attrs({65030}, "198.18.0.9");
  Bytes data = table_dump({{pfx("10.3.0.0/24"), a4}});
  const uint64_t bad_at = data.size();
  // A RIB record whose entry names peer 7 of 2: the reader reports it, the next follows.
  {
    mrt::PeerIndexTable t;
    for (uint32_t k = 0; k < 8; ++k) t.peers.push_back({k + 1, wire::IpAddr::v4(0xC6120009 - k), 65010 + k});
    mrt::TableDumpWriter w(mrt::Timestamp{1700000000, 0}, t);
    std::vector<mrt::RibEntry> es = {{7, 1700000000, mrt::encode_rib_attributes(a4, wire::Afi::Ipv4)}};
    auto rec = w.rib(pfx("10.3.1.0/24"), es);
    data.insert(data.end(), rec.begin(), rec.end());
  }
  {
    mrt::PeerIndexTable t;
    t.peers = {{1, ip("198.18.0.9"), 65010}};
    mrt::TableDumpWriter w(mrt::Timestamp{1700000000, 0}, t);
    std::vector<mrt::RibEntry> es = {{0, 1700000000, mrt::encode_rib_attributes(a4, wire::Afi::Ipv4)}};
    auto rec = w.rib(pfx("10.3.2.0/24"), es);
    data.insert(data.end(), rec.begin(), rec.end());
    const uint64_t trunc_at = data.size();
    rec = w.rib(pfx("10.3.3.0/24"), es);
    data.insert(data.end(), rec.begin(), rec.end() - 4);
    MrtRouteStats s;
    auto routes = read_all(write("bad.mrt", data), &s);
    ASSERT_EQ(routes.size(), 2u);
    EXPECT_EQ(routes[1].prefix, pfx("10.3.2.0/24"));
    EXPECT_EQ(s.malformed, 2u);
    ASSERT_TRUE(s.first_error);
    EXPECT_EQ(s.first_error->offset, bad_at);
    EXPECT_TRUE(s.fatal);
    ASSERT_TRUE(s.fatal_error);
    EXPECT_EQ(s.fatal_error->offset, trunc_at);
  }
}

TEST_F(MrtFiles, NotMrtAtAllNeverCrashes) {
  Bytes junk(5000);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
  MrtRouteStats s;
  auto routes = read_all(write("junk.mrt", junk), &s);
  EXPECT_TRUE(routes.empty());
  EXPECT_TRUE(s.first_error);
  std::string err;
  EXPECT_FALSE(MrtRouteReader::open(dir_ + "/missing.mrt", err));
  EXPECT_FALSE(err.empty());
}

TEST(MrtRoutes, SanitizeKeepsWhatTheDaemonAccepts) {
  auto a = attrs({65001}, "198.18.0.9");
  a.as_path.segments.push_back({wire::AsPathSegment::Set, {}});  // empty segment
  a.unknown = {{0xC0, 99, {1, 2}},   // optional transitive: kept
               {0x80, 98, {3}},      // optional non-transitive: dropped
               {0x40, 97, {4}},      // well-known unknown: dropped
               {0xC0, 17, {5}}};     // AS4_PATH as unknown: dropped
  EXPECT_EQ(sanitize(a, wire::Afi::Ipv4), 3u);
  EXPECT_EQ(a.as_path.segments.size(), 1u);
  ASSERT_EQ(a.unknown.size(), 1u);
  EXPECT_EQ(a.unknown[0].type, 99);
  // A next hop of the other family goes (the daemon uses its own address).
  auto b = attrs({65001}, "198.18.0.9");
  EXPECT_EQ(sanitize(b, wire::Afi::Ipv6), 1u);
  EXPECT_FALSE(b.next_hop);
}

TEST(MrtRoutes, NextHopRewrite) {
  MrtRoute r4{pfx("10.0.0.0/24"), attrs({1}, "198.18.0.9")};
  MrtRoute r6{pfx("2001:db8::/48"), attrs({1}, "2001:db8::9")};
  NextHopRewrite v4_only;
  v4_only.v4 = ip("192.0.2.1");
  auto x = r4, y = r6;
  v4_only.apply(x);
  v4_only.apply(y);
  EXPECT_EQ(x.attrs.next_hop, ip("192.0.2.1"));
  EXPECT_EQ(y.attrs.next_hop, ip("2001:db8::9"));  // untouched
  NextHopRewrite self;
  self.self_v4 = self.self_v6 = true;
  self.apply(x);
  self.apply(y);
  EXPECT_FALSE(x.attrs.next_hop);
  EXPECT_FALSE(y.attrs.next_hop);
}

TEST(MrtRoutes, RequestsGroupRoutesByAttributes) {
  const auto a = attrs({65001, 65002}, "198.18.0.9", 7);
  const auto b = attrs({65003}, "198.18.0.9");
  std::vector<MrtRoute> routes = {{pfx("10.0.0.0/24"), a}, {pfx("10.0.1.0/24"), b}, {pfx("10.0.2.0/24"), a},
                                  {pfx("2001:db8::/48"), attrs({65001, 65002}, "2001:db8::9", 7)}};
  tv1::InjectRoutesRequest req;
  add_routes(routes, req);
  ASSERT_EQ(req.groups_size(), 3);
  EXPECT_EQ(req.groups(0).prefixes_size(), 2);
  EXPECT_EQ(req.groups(0).prefixes(1), "10.0.2.0/24");
  const auto& pa = req.groups(0).attributes();
  EXPECT_EQ(pa.origin(), tv1::ORIGIN_EGP);
  ASSERT_EQ(pa.as_path_size(), 1);
  EXPECT_EQ(pa.as_path(0).type(), tv1::AsPathSegment::AS_SEQUENCE);
  EXPECT_EQ(pa.as_path(0).asns_size(), 2);
  EXPECT_EQ(pa.next_hop(), "198.18.0.9");
  EXPECT_EQ(pa.med(), 7u);
  EXPECT_EQ(pa.communities(0), 0xFDE80001u);
  EXPECT_EQ(pa.large_communities(0).local_data2(), 2u);
  EXPECT_EQ(req.groups(1).prefixes(0), "10.0.1.0/24");
  EXPECT_EQ(req.groups(2).prefixes(0), "2001:db8::/48");
}

}  // namespace
}  // namespace tandemctl
