// StreamFramer: messages with their stream offsets whatever the chunking, a start
// mid-stream with a partial message, and gaps or bad headers stopping it.
#include <gtest/gtest.h>

#include <random>

#include "bgpd/capture/stream_framer.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::capture {
namespace {

std::vector<std::vector<uint8_t>> messages() {
  wire::Open o;
  o.caps.four_octet_as = 65001;
  o.bgp_id = 1;
  wire::PathAttributes a;
  a.has_origin = a.has_as_path = true;
  a.next_hop = wire::IpAddr::parse("192.0.2.1");
  std::vector<wire::Prefix> ps;
  for (uint32_t i = 0; i < 700; ++i) ps.emplace_back(wire::IpAddr::v4(0x0A000000 | (i << 8)), 24);
  std::vector<std::vector<uint8_t>> out = {wire::encode_open(o), wire::encode_keepalive()};
  for (auto& m : wire::encode_announcements(a, wire::kIpv4Unicast, ps, wire::CodecOptions{})) out.push_back(m);
  out.push_back(wire::encode_keepalive());
  return out;
}

TEST(StreamFramer, OffsetsUnderAnyChunking) {
  const auto msgs = messages();
  std::vector<uint8_t> stream;
  std::vector<uint64_t> want;
  for (const auto& m : msgs) {
    want.push_back(stream.size());
    stream.insert(stream.end(), m.begin(), m.end());
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    StreamFramer f;
    f.start(0);
    std::vector<uint64_t> got;
    std::vector<std::vector<uint8_t>> bodies;
    size_t pos = 0;
    while (pos < stream.size()) {
      size_t n = std::min<size_t>(stream.size() - pos, 1 + rng() % 3000);
      ASSERT_TRUE(f.feed(pos, std::span<const uint8_t>(stream).subspan(pos, n), [&](uint64_t at, auto msg) {
        got.push_back(at);
        bodies.emplace_back(msg.begin(), msg.end());
      }));
      pos += n;
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(bodies, msgs);
    EXPECT_EQ(f.end(), stream.size());
  }
}

TEST(StreamFramer, StartsMidStreamWithAPartialMessage) {
  const auto msgs = messages();
  std::vector<uint8_t> stream;
  for (const auto& m : msgs) stream.insert(stream.end(), m.begin(), m.end());
  const uint64_t boundary = msgs[0].size() + msgs[1].size();  // after OPEN, KEEPALIVE
  const size_t partial = 10;                                   // of the first UPDATE
  StreamFramer f;
  f.start(1000 + boundary, std::span<const uint8_t>(stream).subspan(boundary, partial));
  EXPECT_EQ(f.end(), 1000 + boundary + partial);
  std::vector<uint64_t> got;
  ASSERT_TRUE(f.feed(1000 + boundary + partial, std::span<const uint8_t>(stream).subspan(boundary + partial),
                     [&](uint64_t at, auto) { got.push_back(at); }));
  ASSERT_EQ(got.size(), msgs.size() - 2);
  EXPECT_EQ(got.front(), 1000 + boundary);
}

TEST(StreamFramer, GapOrBadHeaderStops) {
  auto ka = wire::encode_keepalive();
  StreamFramer f;
  EXPECT_FALSE(f.feed(0, ka, [](uint64_t, auto) {}));  // not started
  f.start(0);
  int n = 0;
  EXPECT_TRUE(f.feed(0, ka, [&](uint64_t, auto) { ++n; }));
  EXPECT_FALSE(f.feed(100, ka, [&](uint64_t, auto) { ++n; }));  // a gap
  EXPECT_FALSE(f.running());
  f.start(0);
  std::vector<uint8_t> junk(19, 0x00);
  EXPECT_FALSE(f.feed(0, junk, [&](uint64_t, auto) { ++n; }));
  EXPECT_FALSE(f.running());
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace tandem::capture
