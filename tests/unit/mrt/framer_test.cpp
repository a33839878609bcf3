// MessageFramer: whole BGP messages out of a byte stream cut anywhere.
#include <gtest/gtest.h>

#include <random>

#include "bgpd/mrt/framer.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

std::vector<Bytes> messages() {
  wire::Open open;
  open.bgp_id = 0x01020304;
  open.caps.four_octet_as = 65001;
  wire::PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  a.next_hop = ip("192.0.2.1");
  std::vector<wire::Prefix> many;
  for (uint32_t i = 0; i < 900; ++i) many.push_back(wire::Prefix(wire::IpAddr::v4(0x0A000000 | (i << 8)), 24));
  std::vector<Bytes> out = {wire::encode_open(open), wire::encode_keepalive()};
  for (auto& m : wire::encode_announcements(a, wire::kIpv4Unicast, many, wire::CodecOptions{})) out.push_back(m);
  out.push_back(wire::encode_keepalive());
  return out;
}

TEST(MrtFramer, AnyChunking) {
  const auto msgs = messages();
  Bytes stream;
  for (const auto& m : msgs) stream.insert(stream.end(), m.begin(), m.end());
  std::mt19937 rng(7);
  for (size_t max_chunk : {size_t{1}, size_t{5}, size_t{19}, size_t{20}, size_t{777}, stream.size()}) {
    MessageFramer f;
    std::vector<Bytes> got;
    for (size_t pos = 0; pos < stream.size();) {
      const size_t n = std::min<size_t>(stream.size() - pos, 1 + rng() % max_chunk);
      ASSERT_TRUE(f.feed(std::span<const uint8_t>(stream.data() + pos, n),
                         [&](std::span<const uint8_t> m) { got.emplace_back(m.begin(), m.end()); }));
      pos += n;
    }
    EXPECT_EQ(got, msgs) << "max chunk " << max_chunk;
    EXPECT_EQ(f.buffered(), 0u);
  }
}

TEST(MrtFramer, BadHeaderStops) {
  Bytes bad = wire::encode_keepalive();
  bad[3] = 0;  // marker
  MessageFramer f;
  int n = 0;
  const Bytes ok = wire::encode_keepalive();
  EXPECT_TRUE(f.feed(ok, [&](auto) { ++n; }));
  EXPECT_FALSE(f.feed(bad, [&](auto) { ++n; }));
  EXPECT_TRUE(f.broken());
  EXPECT_FALSE(f.feed(ok, [&](auto) { ++n; }));
  EXPECT_EQ(n, 1);

  Bytes too_long = wire::encode_keepalive();
  too_long[16] = 0x10;  // length 4115 > 4096
  too_long[17] = 0x13;
  MessageFramer small(4096);
  EXPECT_FALSE(small.feed(too_long, [&](auto) { ++n; }));
}

}  // namespace
}  // namespace tandem::mrt
