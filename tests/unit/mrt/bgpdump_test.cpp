// Read-back by bgpdump (Debian package): files written by tandem's writer, with
// BGP4MP messages, state changes and a TABLE_DUMP_V2 dump, must be read without error
// and show what was written (peers, prefixes, AS paths, next hops, attributes).
#include <gtest/gtest.h>

#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "bgpd/mrt/writer.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

const Bgp4mpPeer kPeerA{65001, 65000, 0, ip("192.0.2.1"), ip("192.0.2.254")};
const Bgp4mpPeer kPeerB{4200000001u, 65000, 0, ip("2001:db8::1"), ip("2001:db8::fe")};

wire::PathAttributes path(std::vector<uint32_t> asns, const char* nh) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.origin = wire::Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments.push_back({wire::AsPathSegment::Sequence, std::move(asns)});
  a.next_hop = ip(nh);
  return a;
}

// The records of the scenario, in order.
std::vector<Bytes> scenario() {
  std::vector<Bytes> out;
  const wire::CodecOptions as4;  // 4-octet AS session
  auto states = [&](const Bgp4mpPeer& p, uint32_t t) {
    const FsmState seq[] = {FsmState::Idle, FsmState::Connect, FsmState::OpenSent,
                            FsmState::OpenConfirm, FsmState::Established};
    for (int i = 0; i < 4; ++i)
      out.push_back(encode_bgp4mp_state_change(Timestamp{t, 0}, p, seq[i], seq[i + 1]));
  };
  states(kPeerA, 1000);
  out.push_back(encode_bgp4mp_message(Timestamp{1001, 0}, kPeerA, wire::encode_keepalive()));
  wire::PathAttributes a = path({65001, 65010}, "192.0.2.1");
  a.med = 10;
  a.communities = {(65001u << 16) | 100};
  const std::vector<wire::Prefix> v4 = {pfx("10.1.0.0/16"), pfx("10.2.0.0/16")};
  out.push_back(encode_bgp4mp_message(Timestamp{1002, 0}, kPeerA,
                                      wire::encode_announcements(a, wire::kIpv4Unicast, v4, as4).at(0)));
  // What tandem sent to A (an announcement of its own prefix).
  const std::vector<wire::Prefix> own = {pfx("198.51.100.0/24")};
  out.push_back(encode_bgp4mp_message(
      Timestamp{1002, 0}, kPeerA,
      wire::encode_announcements(path({65000}, "192.0.2.254"), wire::kIpv4Unicast, own, as4).at(0),
      false, Direction::Sent));
  const std::vector<wire::Prefix> w4 = {pfx("10.2.0.0/16")};
  out.push_back(encode_bgp4mp_message(Timestamp{1003, 0}, kPeerA,
                                      wire::encode_withdrawals(wire::kIpv4Unicast, w4, as4).at(0)));
  states(kPeerB, 1004);
  wire::PathAttributes b = path({4200000001u, 65020}, "2001:db8::1");
  const std::vector<wire::Prefix> v6 = {pfx("2001:db8:100::/48")};
  out.push_back(encode_bgp4mp_message(Timestamp{1005, 250000}, kPeerB,
                                      wire::encode_announcements(b, wire::kIpv6Unicast, v6, as4).at(0),
                                      /*extended_time=*/true));
  out.push_back(encode_bgp4mp_message(Timestamp{1006, 0}, kPeerB,
                                      wire::encode_withdrawals(wire::kIpv6Unicast, v6, as4).at(0)));

  PeerIndexTable t;
  t.collector_id = 0xC00002FE;
  t.view_name = "tandem";
  t.peers.push_back(PeerEntry{0x01010101, kPeerA.peer_ip, kPeerA.peer_as});
  t.peers.push_back(PeerEntry{0x02020202, kPeerB.peer_ip, kPeerB.peer_as});
  TableDumpWriter dump(Timestamp{2000, 0}, t);
  out.push_back(dump.peer_index_table());
  wire::PathAttributes ra = path({65001, 65010}, "192.0.2.1");
  ra.local_pref = 100;
  wire::PathAttributes rb4 = path({4200000001u, 65030}, "192.0.2.7");
  const std::vector<RibEntry> e1 = {RibEntry{0, 1500, encode_rib_attributes(ra, wire::Afi::Ipv4)}};
  const std::vector<RibEntry> e2 = {RibEntry{0, 1500, encode_rib_attributes(ra, wire::Afi::Ipv4)},
                                    RibEntry{1, 1600, encode_rib_attributes(rb4, wire::Afi::Ipv4)}};
  const std::vector<RibEntry> e3 = {
      RibEntry{1, 1700, encode_rib_attributes(path({4200000001u, 65020}, "2001:db8::1"), wire::Afi::Ipv6)}};
  out.push_back(dump.rib(pfx("10.1.0.0/16"), e1));
  out.push_back(dump.rib(pfx("10.3.0.0/24"), e2));
  out.push_back(dump.rib(pfx("2001:db8:100::/48"), e3));
  return out;
}

const std::vector<std::string> kExpected = {
    "BGP4MP|1000|STATE|192.0.2.1|65001|1|2",
    "BGP4MP|1000|STATE|192.0.2.1|65001|2|4",
    "BGP4MP|1000|STATE|192.0.2.1|65001|4|5",
    "BGP4MP|1000|STATE|192.0.2.1|65001|5|6",
    "BGP4MP|1002|A|192.0.2.1|65001|10.1.0.0/16|65001 65010|IGP|192.0.2.1|0|10|65001:100|NAG||",
    "BGP4MP|1002|A|192.0.2.1|65001|10.2.0.0/16|65001 65010|IGP|192.0.2.1|0|10|65001:100|NAG||",
    "BGP4MP_LOCAL|1002|A|192.0.2.1|65001|198.51.100.0/24|65000|IGP|192.0.2.254|0|0||NAG||",
    "BGP4MP|1003|W|192.0.2.1|65001|10.2.0.0/16",
    "BGP4MP|1004|STATE|2001:db8::1|4200000001|1|2",
    "BGP4MP|1004|STATE|2001:db8::1|4200000001|2|4",
    "BGP4MP|1004|STATE|2001:db8::1|4200000001|4|5",
    "BGP4MP|1004|STATE|2001:db8::1|4200000001|5|6",
    "BGP4MP_ET|1005.250000|A|2001:db8::1|4200000001|2001:db8:100::/48|4200000001 65020|IGP|2001:db8::1|0|0||NAG||",
    "BGP4MP|1006|W|2001:db8::1|4200000001|2001:db8:100::/48",
    "TABLE_DUMP2|2000|B|192.0.2.1|65001|10.1.0.0/16|65001 65010|IGP|192.0.2.1|100|0||NAG||",
    "TABLE_DUMP2|2000|B|192.0.2.1|65001|10.3.0.0/24|65001 65010|IGP|192.0.2.1|100|0||NAG||",
    "TABLE_DUMP2|2000|B|2001:db8::1|4200000001|10.3.0.0/24|4200000001 65030|IGP|192.0.2.7|0|0||NAG||",
    "TABLE_DUMP2|2000|B|2001:db8::1|4200000001|2001:db8:100::/48|4200000001 65020|IGP|2001:db8::1|0|0||NAG||",
};

class MrtBgpdump : public ::testing::TestWithParam<Compression> {};

TEST_P(MrtBgpdump, ReadsWhatWasWritten) {
  if (!have_bgpdump()) GTEST_SKIP() << "bgpdump not installed at " TANDEM_BGPDUMP " (Debian package bgpdump)";
  TempDir dir;
  const char* ext = GetParam() == Compression::Gzip ? ".gz" : GetParam() == Compression::Bzip2 ? ".bz2" : "";
  const std::string file = dir.file(std::string("dump.mrt") + ext);
  WriterOptions o;
  o.path_pattern = file;
  o.compression = GetParam();
  Writer w(o);
  w.start();
  const auto records = scenario();
  for (const Bytes& r : records) ASSERT_TRUE(w.submit(r));
  w.close();
  ASSERT_EQ(w.stats().records_written, records.size());

  const auto lines = run_lines(std::string(TANDEM_BGPDUMP) + " -m '" + file + "'");
  EXPECT_EQ(lines, kExpected);

  // tandem's own reader sees the same records, byte for byte.
  auto back = read_all(file);
  EXPECT_TRUE(back.errors.empty());
  ASSERT_EQ(back.records.size(), records.size());
}

INSTANTIATE_TEST_SUITE_P(All, MrtBgpdump,
                         ::testing::Values(Compression::None, Compression::Gzip, Compression::Bzip2),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace tandem::mrt
