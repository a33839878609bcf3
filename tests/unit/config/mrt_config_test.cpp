// [mrt] keys: file patterns, intervals, compression, extended time, queue bound.
#include <gtest/gtest.h>

#include "bgpd/config/config.hpp"

namespace tandem::config {
namespace {

// [mrt] is on line 5; the first key below it on line 6.
const char* kHead = R"(
[global]
router_id = "192.0.2.1"
local_as = 65000
[mrt]
)";

LoadResult parse(const std::string& keys) { return parse_config(std::string(kHead) + keys, "mrt.toml"); }

void expect_error(const std::string& keys, const std::string& key, const std::string& words) {
  auto r = parse(keys);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r)) << "accepted:\n" << keys;
  const auto& e = std::get<ConfigError>(r);
  EXPECT_EQ(e.key, "mrt." + key) << e.to_string();
  EXPECT_EQ(e.line, 6) << e.to_string();
  EXPECT_NE(e.message.find(words), std::string::npos) << e.to_string();
}

TEST(MrtConfig, OffByDefault) {
  auto r = parse("");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const auto& m = std::get<Config>(r).mrt;
  EXPECT_TRUE(m.updates_file.empty());
  EXPECT_TRUE(m.rib_file.empty());
  EXPECT_EQ(m.updates_interval, 300u);
  EXPECT_EQ(m.rib_interval, 7200u);
  EXPECT_EQ(m.compression, "none");
  EXPECT_FALSE(m.extended_time);
}

TEST(MrtConfig, AllKeys) {
  auto r = parse(R"(updates_file = "/var/lib/tandemd/updates.%Y%m%d.%H%M.mrt"
updates_interval = 900
rib_file = "/var/lib/tandemd/rib.%Y%m%d.%H%M.mrt"
rib_interval = 3600
compression = "bzip2"
extended_time = true
queue_max_bytes = 2097152
)");
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const auto& m = std::get<Config>(r).mrt;
  EXPECT_EQ(m.updates_file, "/var/lib/tandemd/updates.%Y%m%d.%H%M.mrt");
  EXPECT_EQ(m.updates_interval, 900u);
  EXPECT_EQ(m.rib_file, "/var/lib/tandemd/rib.%Y%m%d.%H%M.mrt");
  EXPECT_EQ(m.rib_interval, 3600u);
  EXPECT_EQ(m.compression, "bzip2");
  EXPECT_TRUE(m.extended_time);
  EXPECT_EQ(m.queue_max_bytes, 2097152u);
}

TEST(MrtConfig, RejectsRelativePaths) {
  expect_error("updates_file = \"updates.mrt\"\n", "updates_file", "absolute");
  expect_error("rib_file = \"\"\n", "rib_file", "absolute");
}

TEST(MrtConfig, RejectsUnknownCompression) { expect_error("compression = \"zstd\"\n", "compression", "zstd"); }

TEST(MrtConfig, RejectsIntervalsOutOfRange) {
  EXPECT_FALSE(std::holds_alternative<Config>(parse("updates_interval = 5\n")));
  EXPECT_FALSE(std::holds_alternative<Config>(parse("rib_interval = 0\n")));
  EXPECT_FALSE(std::holds_alternative<Config>(parse("queue_max_bytes = 1000\n")));
}

TEST(MrtConfig, RejectsUnknownKeys) {
  auto r = parse("update_file = \"/tmp/x\"\n");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).key, "mrt.update_file");
}

}  // namespace
}  // namespace tandem::config
