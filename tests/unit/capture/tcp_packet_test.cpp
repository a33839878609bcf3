// Synthesised Ethernet/IP/TCP frames: field layout, checksums that verify, IPv6, and
// the split of payloads larger than one segment.
#include <gtest/gtest.h>

#include "bgpd/capture/tcp_packet.hpp"

namespace tandem::capture {
namespace {

uint16_t be16(const std::vector<uint8_t>& f, size_t at) { return static_cast<uint16_t>((f[at] << 8) | f[at + 1]); }
uint32_t be32(const std::vector<uint8_t>& f, size_t at) {
  return (uint32_t{f[at]} << 24) | (uint32_t{f[at + 1]} << 16) | (uint32_t{f[at + 2]} << 8) | f[at + 3];
}

// The TCP checksum over the pseudo-header and segment comes out 0 when correct.
uint16_t tcp_check(const std::vector<uint8_t>& f, bool v6) {
  const size_t ip = 14, tcp = ip + (v6 ? 40 : 20);
  const size_t alen = v6 ? 16 : 4;
  const size_t src = ip + (v6 ? 8 : 12);
  std::vector<uint8_t> pseudo(f.begin() + static_cast<std::ptrdiff_t>(src),
                              f.begin() + static_cast<std::ptrdiff_t>(src + 2 * alen));
  const size_t len = f.size() - tcp;
  if (v6) {
    pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), 0, 0, 0, 6});
  } else {
    pseudo.insert(pseudo.end(), {0, 6, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
  }
  uint32_t partial = 0;
  for (size_t i = 0; i + 1 < pseudo.size(); i += 2) partial += static_cast<uint32_t>((pseudo[i] << 8) | pseudo[i + 1]);
  return internet_checksum(std::span<const uint8_t>(f).subspan(tcp), partial);
}

TEST(TcpPacket, Ipv4FrameLayoutAndChecksums) {
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  TcpSegment s;
  s.src = *wire::IpAddr::parse("192.0.2.1");
  s.dst = *wire::IpAddr::parse("192.0.2.3");
  s.src_port = 179;
  s.dst_port = 40000;
  s.seq = 0xDEADBEEF;
  s.ack = 42;
  s.payload = payload;
  auto f = ethernet_frame(s);
  ASSERT_EQ(f.size(), 14u + 20 + 20 + 5);
  EXPECT_EQ(be16(f, 12), 0x0800);
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(be16(f, 16), 45);  // IP total length
  EXPECT_EQ(f[23], 6);         // TCP
  EXPECT_EQ(internet_checksum(std::span<const uint8_t>(f).subspan(14, 20)), 0);  // header checksum verifies
  EXPECT_EQ(be32(f, 26), 0xC0000201u);
  EXPECT_EQ(be32(f, 30), 0xC0000203u);
  EXPECT_EQ(be16(f, 34), 179);
  EXPECT_EQ(be16(f, 36), 40000);
  EXPECT_EQ(be32(f, 38), 0xDEADBEEFu);
  EXPECT_EQ(be32(f, 42), 42u);
  EXPECT_EQ(f[47], tcp_flag::kPsh | tcp_flag::kAck);
  EXPECT_EQ(tcp_check(f, false), 0);
  EXPECT_EQ(std::vector<uint8_t>(f.end() - 5, f.end()), payload);
}

TEST(TcpPacket, Ipv6AndMixedFamilies) {
  const std::vector<uint8_t> payload(101, 0xAB);  // odd length: padded in the sum
  TcpSegment s;
  s.src = *wire::IpAddr::parse("2001:db8::1");
  s.dst = *wire::IpAddr::parse("2001:db8::3");
  s.src_port = 50000;
  s.dst_port = 179;
  s.payload = payload;
  auto f = ethernet_frame(s);
  ASSERT_EQ(f.size(), 14u + 40 + 20 + 101);
  EXPECT_EQ(be16(f, 12), 0x86DD);
  EXPECT_EQ(f[14] >> 4, 6);
  EXPECT_EQ(be16(f, 18), 121);  // payload length
  EXPECT_EQ(f[20], 6);
  EXPECT_EQ(tcp_check(f, true), 0);
  // IPv4 with IPv6: the IPv4 address IPv4-mapped.
  s.dst = *wire::IpAddr::parse("192.0.2.3");
  f = ethernet_frame(s);
  EXPECT_EQ(be16(f, 12), 0x86DD);
  EXPECT_EQ(f[14 + 24 + 10], 0xFF);
  EXPECT_EQ(f[14 + 24 + 12], 192);
  EXPECT_EQ(tcp_check(f, true), 0);
}

TEST(TcpPacket, LargePayloadIsSplit) {
  const std::vector<uint8_t> payload(65535, 0x11);
  TcpSegment s;
  s.src = *wire::IpAddr::parse("192.0.2.1");
  s.dst = *wire::IpAddr::parse("192.0.2.2");
  s.seq = 0xFFFFFFF0;  // wraps
  s.payload = payload;
  auto frames = ethernet_frames(s);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].size(), 14 + 40 + kMaxSegmentPayload);
  EXPECT_EQ(be16(frames[0], 16), 65535);
  EXPECT_EQ(be32(frames[1], 38), static_cast<uint32_t>(0xFFFFFFF0u + kMaxSegmentPayload));
  EXPECT_EQ(frames[1].size() - 54, payload.size() - kMaxSegmentPayload);
  for (const auto& f : frames) EXPECT_EQ(tcp_check(f, false), 0);
  s.payload = {};
  EXPECT_EQ(ethernet_frames(s).size(), 1u);  // an empty segment still makes one frame
}

}  // namespace
}  // namespace tandem::capture
