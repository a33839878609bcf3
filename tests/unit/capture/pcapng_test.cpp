// The pcapng writer: block layout (lengths, padding, options) read back by a small
// parser here, and, when tshark is installed, a file of synthesised BGP packets that
// tshark dissects as BGP with our sequence numbers and comments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bgpd/capture/pcapng.hpp"
#include "bgpd/capture/tcp_packet.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::capture {
namespace {

uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(b[at + i])) << (8 * i);
  return v;
}
uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8));
}

struct Block {
  uint32_t type;
  std::string body;  // between the first length and the trailing length
};

std::vector<Block> blocks(const std::string& file) {
  std::vector<Block> out;
  size_t pos = 0;
  while (pos + 12 <= file.size()) {
    const uint32_t type = le32(file, pos), len = le32(file, pos + 4);
    EXPECT_EQ(len % 4, 0u);
    EXPECT_LE(pos + len, file.size());
    if (len < 12 || pos + len > file.size()) break;
    EXPECT_EQ(le32(file, pos + len - 4), len) << "trailing length of the block at " << pos;
    out.push_back({type, file.substr(pos + 8, len - 12)});
    pos += len;
  }
  EXPECT_EQ(pos, file.size());
  return out;
}

// Options from `at` in a body: code -> value.
std::map<uint16_t, std::string> options(const std::string& body, size_t at) {
  std::map<uint16_t, std::string> out;
  while (at + 4 <= body.size()) {
    uint16_t code = le16(body, at), len = le16(body, at + 2);
    if (code == 0) break;
    out[code] = body.substr(at + 4, len);
    at += 4 + ((len + 3u) & ~3u);
  }
  return out;
}

TEST(Pcapng, BlocksReadBack) {
  std::ostringstream os;
  PcapngWriter w(os, "unit test");
  const std::vector<uint8_t> frame = {1, 2, 3, 4, 5, 6, 7};  // not a multiple of 4
  w.packet(1'700'000'000'123'456'789, frame, "hello, comment");
  w.packet(5, frame, "");
  EXPECT_EQ(w.packets(), 2u);
  auto bs = blocks(os.str());
  ASSERT_EQ(bs.size(), 4u);
  EXPECT_EQ(bs[0].type, 0x0A0D0D0Au);
  EXPECT_EQ(le32(bs[0].body, 0), 0x1A2B3C4Du);
  EXPECT_EQ(le16(bs[0].body, 4), 1);
  EXPECT_EQ(options(bs[0].body, 16)[4], "unit test");
  EXPECT_EQ(bs[1].type, 1u);
  EXPECT_EQ(le16(bs[1].body, 0), kLinkTypeEthernet);
  auto idb = options(bs[1].body, 8);
  EXPECT_EQ(idb[2], "tandem");
  EXPECT_EQ(idb[9], std::string(1, '\x09'));  // nanoseconds
  EXPECT_EQ(bs[2].type, 6u);
  const uint64_t ts = (uint64_t{le32(bs[2].body, 4)} << 32) | le32(bs[2].body, 8);
  EXPECT_EQ(ts, 1'700'000'000'123'456'789u);
  EXPECT_EQ(le32(bs[2].body, 12), 7u);
  EXPECT_EQ(le32(bs[2].body, 16), 7u);
  EXPECT_EQ(bs[2].body.substr(20, 7), std::string("\1\2\3\4\5\6\7", 7));
  EXPECT_EQ(options(bs[2].body, 28)[1], "hello, comment");
  EXPECT_TRUE(options(bs[3].body, 28).empty());  // no comment, no options
}

// Runs a command, returns its standard output.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(Pcapng, TsharkDissectsTheSynthesisedBgpPackets) {
  if (::access("/usr/bin/tshark", X_OK) != 0) GTEST_SKIP() << "tshark is not installed (scripts/setup installs it)";
  std::string want;
  const auto path =
      std::filesystem::temp_directory_path() / ("tandem-pcapng-" + std::to_string(::getpid()) + ".pcapng");
  {
    std::ofstream f(path, std::ios::binary);
    PcapngWriter w(f, "unit test");
    wire::Open o;
    o.caps.four_octet_as = 65001;
    o.bgp_id = 0x0A000001;
    const std::vector<std::vector<uint8_t>> sent = {wire::encode_open(o), wire::encode_keepalive()};
    uint32_t seq = 1000;
    for (const auto& m : sent) {  // BGP type, TCP sequence number, destination, comment
      want += fmt::format("{},{},192.0.2.3,state OpenSent seq {}\n", m[18], seq, seq);
      seq += static_cast<uint32_t>(m.size());
    }
    seq = 1000;
    int64_t t = 1'700'000'000'000'000'000;
    for (const auto& m : sent) {
      TcpSegment s;
      s.src = *wire::IpAddr::parse("192.0.2.1");
      s.dst = *wire::IpAddr::parse("192.0.2.3");
      s.src_port = 40001;
      s.dst_port = 179;
      s.seq = seq;
      s.ack = 7;
      s.payload = m;
      for (const auto& fr : ethernet_frames(s)) w.packet(t += 1000, fr, "state OpenSent seq " + std::to_string(seq));
      seq += static_cast<uint32_t>(m.size());
    }
  }
  const std::string out = run("tshark -r " + path.string() +
                              " -T fields -E separator=, -e bgp.type -e tcp.seq_raw -e ip.dst -e frame.comment"
                              " 2>/dev/null");
  std::filesystem::remove(path);
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace tandem::capture
