// Real data (optional): decode every BGP message of the MRT BGP4MP update streams in
// ../shared/data/updates beside the checkout (or $TANDEM_DATA_DIR/updates) and compare the announced /
// withdrawn prefix counts with what bgpdump reports for the same files. Skipped when
// the data is absent: the project never depends on it.
#include <bzlib.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
namespace fs = std::filesystem;
using test::Bytes;

fs::path data_dir() {
  if (const char* d = std::getenv("TANDEM_DATA_DIR")) return d;
  return TANDEM_SHARED_DATA;  // ../shared/data beside the checkout
}

bool read_gz(const fs::path& p, Bytes& out) {
  gzFile f = gzopen(p.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return n == 0;
}

bool read_bz2(const fs::path& p, Bytes& out) {
  FILE* fp = std::fopen(p.c_str(), "rb");
  if (fp == nullptr) return false;
  int err = BZ_OK;
  BZFILE* f = BZ2_bzReadOpen(&err, fp, 0, 0, nullptr, 0);
  char buf[1 << 16];
  while (err == BZ_OK) {
    const int n = BZ2_bzRead(&err, f, buf, sizeof(buf));
    if (n > 0) out.insert(out.end(), buf, buf + n);
  }
  BZ2_bzReadClose(&err, f);
  std::fclose(fp);
  return true;
}

uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

struct Counts {
  size_t messages = 0, updates = 0, announced = 0, withdrawn = 0, resets = 0, withdraw_treated = 0,
         discarded = 0, eor = 0;
};

Counts decode_mrt(const Bytes& data) {
  Counts c;
  size_t pos = 0;
  while (pos + 12 <= data.size()) {
    const uint16_t type = be16(&data[pos + 4]);
    const uint16_t subtype = be16(&data[pos + 6]);
    const size_t len = be32(&data[pos + 8]);
    size_t rec = pos + 12;
    const size_t end = rec + len;
    if (end > data.size()) break;
    pos = end;
    if (type != 16 && type != 17) continue;  // BGP4MP, BGP4MP_ET
    if (type == 17) rec += 4;                // microseconds
    // MESSAGE (1), MESSAGE_AS4 (4), *_LOCAL (6, 7), *_ADDPATH (8..11)
    const bool as4 = subtype == 4 || subtype == 7 || subtype == 9 || subtype == 11;
    const bool addpath = subtype >= 8 && subtype <= 11;
    if (!(subtype == 1 || subtype == 4 || subtype == 6 || subtype == 7 || addpath)) continue;
    rec += as4 ? 8 : 4;  // peer AS, local AS
    rec += 2;            // interface index
    if (rec + 2 > end) continue;
    const uint16_t afi = be16(&data[rec]);
    rec += 2 + (afi == 2 ? 32 : 8);
    if (rec > end) continue;
    std::span<const uint8_t> msg(&data[rec], end - rec);
    ++c.messages;
    auto h = decode_header(msg, kMaxExtendedMessageLen);
    if (!h.ok() || h->length > msg.size()) {
      ++c.resets;
      continue;
    }
    if (h->type != MessageType::Update) continue;
    ++c.updates;
    CodecOptions o;
    o.four_octet_as = as4;
    o.ebgp = false;  // keep every attribute
    o.extended_message = true;
    o.add_path_rx_ipv4 = o.add_path_rx_ipv6 = addpath;
    auto u = decode_update(msg.subspan(kHeaderLen, h->length - kHeaderLen), o);
    if (!u.ok()) {
      ++c.resets;
      ADD_FAILURE() << "session reset on real data: " << u.error().reason;
      continue;
    }
    for (const auto& s : u->announced) c.announced += s.prefixes.size();
    for (const auto& s : u->withdrawn) c.withdrawn += s.prefixes.size();
    c.withdraw_treated += u->treat_as_withdraw;
    c.discarded += u->discarded.size();
    c.eor += u->end_of_rib.has_value();
  }
  return c;
}

struct Expected {
  const char* file;
  size_t announced, withdrawn;  // bgpdump -m line counts (data/README.md)
};

TEST(RealData, MrtUpdateStreams) {
  const fs::path dir = data_dir() / "updates";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " not present (optional real-data test)";
  const Expected files[] = {
      {"ris-rrc23-updates.20220501.2305.gz", 61271, 3909},
      {"ris-rrc23-updates.20220421.0200.gz", 51907, 4094},
      {"routeviews-sydney-updates.20220601.0415.bz2", 120431, 9826},
      {"routeviews-sydney-updates.20220601.0230.bz2", 79071, 6272},
      {"ris-rrc01-updates.20241001.0055.gz", 170373, 14555},
      {"ris-unknown-updates.20190101.0000.gz", 159948, 2626},
      {"ris-rrc01-updates.20100827.0840.gz", 141819, 127472},
  };
  size_t tested = 0;
  for (const auto& e : files) {
    const fs::path p = dir / e.file;
    if (!fs::exists(p)) continue;
    Bytes data;
    const std::string name = e.file;
    const bool ok = name.ends_with(".bz2") ? read_bz2(p, data) : read_gz(p, data);
    ASSERT_TRUE(ok) << p;
    const Counts c = decode_mrt(data);
    ++tested;
    EXPECT_GT(c.updates, 0u) << name;
    EXPECT_EQ(c.resets, 0u) << name;
    EXPECT_EQ(c.announced, e.announced) << name;
    EXPECT_EQ(c.withdrawn, e.withdrawn) << name;
    std::printf("%s: %zu messages, %zu updates, %zu announced, %zu withdrawn, %zu treat-as-withdraw, "
                "%zu discarded attributes, %zu End-of-RIB\n",
                e.file, c.messages, c.updates, c.announced, c.withdrawn, c.withdraw_treated,
                c.discarded, c.eor);
  }
  if (tested == 0) GTEST_SKIP() << "no MRT update files in " << dir;
}

}  // namespace
}  // namespace tandem::wire
