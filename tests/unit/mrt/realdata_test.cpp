// Real data (optional): read MRT files of ../shared/data beside the checkout (or
// $TANDEM_DATA_DIR) and compare counts with `bgpdump -m`: RIB entries and distinct
// prefixes of TABLE_DUMP_V2 / TABLE_DUMP files; STATE records and announced / withdrawn
// prefixes (UPDATEs decoded by bgpd/wire) of BGP4MP streams.
// Skipped when the data or bgpdump is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <set>

#include "bgpd/mrt/constants.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

fs::path data_dir() {
  if (const char* d = std::getenv("TANDEM_DATA_DIR")) return d;
  return TANDEM_SHARED_DATA;
}

struct Counts {
  size_t rib_entries = 0;   // TABLE_DUMP2 lines (v2 unicast RIB entries)
  size_t v1_entries = 0;    // TABLE_DUMP lines
  size_t states = 0;        // STATE lines
  size_t announced = 0;     // A lines (BGP4MP UPDATE prefixes, both families)
  size_t withdrawn = 0;     // W lines
  std::set<std::string> prefixes;
  bool operator==(const Counts&) const = default;
};

Counts from_bgpdump(const std::string& file) {
  Counts c;
  for (const std::string& l : run_lines(std::string(TANDEM_BGPDUMP) + " -m '" + file + "'")) {
    const bool v2 = l.rfind("TABLE_DUMP2|", 0) == 0;
    const bool v1 = l.rfind("TABLE_DUMP|", 0) == 0;
    if (v2 || v1) {
      (v2 ? c.rib_entries : c.v1_entries)++;
      // TABLE_DUMP2|ts|B|peer|peeras|prefix|...
      size_t pos = 0;
      for (int i = 0; i < 5; ++i) pos = l.find('|', pos) + 1;
      // Normalised through wire::Prefix: glibc's inet_ntop writes "::" for a single zero
      // field, which RFC 5952 §4.2.2 (and wire::IpAddr::to_string) does not.
      const std::string text = l.substr(pos, l.find('|', pos) - pos);
      const auto p = wire::Prefix::parse(text);
      c.prefixes.insert(p ? p->to_string() : text);
    } else if (l.find("|STATE|") != std::string::npos) {
      c.states++;
    } else if (l.find("|A|") != std::string::npos) {
      c.announced++;
    } else if (l.find("|W|") != std::string::npos) {
      c.withdrawn++;
    }
  }
  return c;
}

// The prefixes of a recorded UPDATE, decoded by tandem's codec with the options the
// record's subtype implies.
void count_update(const Bgp4mpMessage& m, Counts& c) {
  if (m.message.size() < wire::kHeaderLen || m.message[18] != 2) return;
  wire::CodecOptions opts;
  opts.four_octet_as = m.as4;
  opts.extended_message = true;
  opts.add_path_rx_ipv4 = opts.add_path_rx_ipv6 = m.add_path;
  const std::span<const uint8_t> body(m.message.data() + wire::kHeaderLen, m.message.size() - wire::kHeaderLen);
  auto u = wire::decode_update(body, opts);
  if (!u) return;  // bgpdump prints nothing for an UPDATE it cannot parse either
  for (const auto& set : u->announced) c.announced += set.prefixes.size();
  for (const auto& set : u->withdrawn) c.withdrawn += set.prefixes.size();
}

struct Ours {
  Counts counts;
  size_t records = 0;
  std::vector<MrtError> errors;
};

Ours from_reader(const std::string& file) {
  Ours o;
  auto all = read_all(file);
  o.errors = all.errors;
  o.records = all.records.size();
  for (const Record& r : all.records) {
    if (const auto* rib = std::get_if<RibRecord>(&r.body)) {
      o.counts.rib_entries += rib->entries.size();
      if (!rib->entries.empty()) o.counts.prefixes.insert(rib->prefix.to_string());
    } else if (const auto* e = std::get_if<TableDumpEntry>(&r.body)) {
      o.counts.v1_entries++;
      o.counts.prefixes.insert(e->prefix.to_string());
    } else if (std::holds_alternative<Bgp4mpStateChange>(r.body)) {
      o.counts.states++;
    } else if (const auto* m = std::get_if<Bgp4mpMessage>(&r.body)) {
      count_update(*m, o.counts);
    }
  }
  return o;
}

struct Sample {
  const char* path;
  bool truncated;  // cut mid-stream on purpose: exactly one fatal error at the end
};

class MrtRealData : public ::testing::TestWithParam<Sample> {};

TEST_P(MrtRealData, CountsMatchBgpdump) {
  const fs::path file = data_dir() / GetParam().path;
  if (!fs::exists(file)) GTEST_SKIP() << file << " absent (optional real data)";
  if (!have_bgpdump()) GTEST_SKIP() << "bgpdump not installed";
  const Ours ours = from_reader(file.string());
  const Counts theirs = from_bgpdump(file.string());
  EXPECT_GT(ours.records, 0u);
  if (GetParam().truncated) {
    ASSERT_EQ(ours.errors.size(), 1u);
    EXPECT_TRUE(ours.errors[0].fatal);
    EXPECT_GT(ours.errors[0].offset, 0u);
  } else {
    for (const auto& e : ours.errors) ADD_FAILURE() << e.to_string();
  }
  EXPECT_EQ(ours.counts.rib_entries, theirs.rib_entries);
  EXPECT_EQ(ours.counts.v1_entries, theirs.v1_entries);
  EXPECT_EQ(ours.counts.states, theirs.states);
  EXPECT_EQ(ours.counts.announced, theirs.announced);
  EXPECT_EQ(ours.counts.withdrawn, theirs.withdrawn);
  EXPECT_EQ(ours.counts.prefixes.size(), theirs.prefixes.size());
  std::vector<std::string> only_ours, only_theirs;
  std::set_difference(ours.counts.prefixes.begin(), ours.counts.prefixes.end(), theirs.prefixes.begin(),
                      theirs.prefixes.end(), std::back_inserter(only_ours));
  std::set_difference(theirs.prefixes.begin(), theirs.prefixes.end(), ours.counts.prefixes.begin(),
                      ours.counts.prefixes.end(), std::back_inserter(only_theirs));
  EXPECT_TRUE(only_ours.empty()) << only_ours.size() << " prefixes only in ours, e.g. " << only_ours[0];
  EXPECT_TRUE(only_theirs.empty()) << only_theirs.size() << " prefixes only in bgpdump's, e.g. " << only_theirs[0];
}

INSTANTIATE_TEST_SUITE_P(
    Files, MrtRealData,
    ::testing::Values(Sample{"rib/routeviews2-rib.20140523.0600.first1MB.bz2", true},
                      Sample{"rib/routeviews6-rib6.20151101.0600.first1MB.bz2", true},
                      Sample{"rib/routeviews2-rib.20080501.0644.first1MB.bz2", true},
                      Sample{"mrt-samples/mrtparse_openbgpd_rib_table-v2", false},
                      Sample{"mrt-samples/mrtparse_openbgpd_rib_table", false},
                      Sample{"mrt-samples/mrtparse_quagga_rib", false},
                      Sample{"mrt-samples/bgpdump-testdata/bview.64k_stream_overflow.gz", false},
                      Sample{"mrt-samples/bgpdump-testdata/updates.et-header.2015.gz", false},
                      Sample{"mrt-samples/mrtparse_quagga_bgp", false},
                      Sample{"mrt-samples/mrtparse_bird6-mrtdump_bgp", false},
                      Sample{"updates/ris-rrc23-updates.20220421.0200.gz", false}),
    [](const auto& p) {
      std::string n = fs::path(p.param.path).filename().string();
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

}  // namespace
}  // namespace tandem::mrt
