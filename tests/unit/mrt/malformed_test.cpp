// Malformed input: every fault is an error value with the record's offset and a
// reason; framing faults stop the reader, body faults skip one record.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "bgpd/mrt/decode.hpp"
#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

Bytes state_change() {
  return encode_bgp4mp_state_change(Timestamp{1, 0}, Bgp4mpPeer{1, 2, 0, ip("10.0.0.1"), ip("10.0.0.2")},
                                    FsmState::Idle, FsmState::Connect);
}

std::vector<Result<Record>> read_mem(const Bytes& b) {
  std::vector<Result<Record>> out;
  MemoryReader r(b);
  while (auto rec = r.next()) out.push_back(std::move(*rec));
  return out;
}

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                              static_cast<std::streamsize>(b.size()));
}

TEST(MrtMalformed, TruncatedHeader) {
  const Bytes good = state_change();
  Bytes b = good;
  b.insert(b.end(), {0, 0, 0, 1, 0, 16});  // 6 of 12 header bytes
  auto got = read_mem(b);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].ok());
  ASSERT_FALSE(got[1].ok());
  EXPECT_EQ(got[1].error().offset, good.size());
  EXPECT_TRUE(got[1].error().fatal);
  EXPECT_NE(got[1].error().reason.find("truncated record header"), std::string::npos);
}

TEST(MrtMalformed, LengthOverLimit) {
  const Bytes good = state_change();
  Bytes b = cat({good, u32(1), u16(16), u16(4), u32(0xFFFFFFF0u)});
  auto got = read_mem(b);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_FALSE(got[1].ok());
  EXPECT_EQ(got[1].error().offset, good.size());
  EXPECT_NE(got[1].error().reason.find("exceeds the limit"), std::string::npos);
}

TEST(MrtMalformed, LengthOverrunsData) {
  Bytes b = state_change();
  b[11] = static_cast<uint8_t>(b[11] + 10);  // claims 10 more bytes than there are
  auto got = read_mem(b);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_EQ(got[0].error().offset, 0u);
  EXPECT_NE(got[0].error().reason.find("truncated record"), std::string::npos);
}

TEST(MrtMalformed, ShortBodyIsNonFatal) {
  const Bytes bad = cat({u32(1), u16(16), u16(5), u32(6), {0, 0, 0, 1, 0, 0}});
  const Bytes good = state_change();
  auto got = read_mem(cat({bad, good}));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_FALSE(got[0].error().fatal);
  EXPECT_EQ(got[0].error().offset, 0u);
  ASSERT_TRUE(got[1].ok());
  EXPECT_EQ(got[1].value().offset, bad.size());
}

TEST(MrtMalformed, BadPeerIndex) {
  PeerIndexTable t;
  t.peers.push_back(PeerEntry{1, ip("10.0.0.1"), 65001});
  const Bytes pit = encode_peer_index_table(Timestamp{1, 0}, t);
  const std::vector<RibEntry> entries = {RibEntry{3, 0, {}}};  // 3 >= 1 peer
  const Bytes rib = encode_rib_record(Timestamp{1, 0}, 0, pfx("10.0.0.0/8"), entries);
  auto got = read_mem(cat({pit, rib}));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_FALSE(got[1].ok());
  EXPECT_EQ(got[1].error().offset, pit.size());
  EXPECT_NE(got[1].error().reason.find("peer index 3"), std::string::npos) << got[1].error().reason;
}

TEST(MrtMalformed, RibBeforePeerIndexTable) {
  const Bytes rib = encode_rib_record(Timestamp{1, 0}, 0, pfx("10.0.0.0/8"), {});
  auto got = read_mem(rib);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_NE(got[0].error().reason.find("before any PEER_INDEX_TABLE"), std::string::npos);
}

TEST(MrtMalformed, BadPrefixLength) {
  PeerIndexTable t;
  t.peers.push_back(PeerEntry{1, ip("10.0.0.1"), 65001});
  const Bytes pit = encode_peer_index_table(Timestamp{1, 0}, t);
  Bytes rib = encode_rib_record(Timestamp{1, 0}, 0, pfx("10.0.0.0/8"), {});
  rib[12 + 4] = 33;  // prefix length of an IPv4 RIB record
  auto got = read_mem(cat({pit, rib}));
  ASSERT_EQ(got.size(), 2u);
  ASSERT_FALSE(got[1].ok());
  EXPECT_EQ(got[1].error().offset, pit.size());
  EXPECT_NE(got[1].error().reason.find("prefix length 33"), std::string::npos);
}

TEST(MrtMalformed, BgpLengthDisagreesWithRecord) {
  Bytes b = encode_bgp4mp_message(Timestamp{1, 0}, Bgp4mpPeer{1, 2, 0, ip("10.0.0.1"), ip("10.0.0.2")},
                                  wire::encode_keepalive());
  b.push_back(0);  // one byte after the BGP message
  b[11] = static_cast<uint8_t>(b[11] + 1);
  auto got = read_mem(b);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_NE(got[0].error().reason.find("BGP length 19"), std::string::npos);
}

TEST(MrtMalformed, FileErrors) {
  TempDir dir;
  EXPECT_FALSE(read_all(dir.file("missing.mrt")).errors.empty());

  // A plain file cut inside the second record.
  const Bytes good = state_change();
  const Bytes two = cat({good, good});
  write_file(dir.file("cut.mrt"), Bytes(two.begin(), two.end() - 5));
  auto r = read_all(dir.file("cut.mrt"));
  EXPECT_EQ(r.records.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].offset, good.size());

  // A gzip file cut in the middle: the records before the cut, then an error.
  Bytes many;
  for (int i = 0; i < 2000; ++i) many.insert(many.end(), good.begin(), good.end());
  uLongf zlen = compressBound(many.size()) + 64;
  Bytes z(zlen);
  {
    gzFile g = gzopen(dir.file("full.gz").c_str(), "wb");
    gzwrite(g, many.data(), static_cast<unsigned>(many.size()));
    gzclose(g);
    std::ifstream in(dir.file("full.gz"), std::ios::binary);
    z.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(dir.file("cut.gz"), Bytes(z.begin(), z.begin() + static_cast<long>(z.size() / 2)));
  r = read_all(dir.file("cut.gz"));
  EXPECT_LT(r.records.size(), 2000u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.errors[0].fatal);
  EXPECT_EQ(r.errors[0].offset % good.size(), 0u);

  // Garbage: a header whose length is far over the limit.
  write_file(dir.file("junk.mrt"), Bytes(64, 0xEE));
  r = read_all(dir.file("junk.mrt"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].offset, 0u);
}

}  // namespace
}  // namespace tandem::mrt
