// [graceful_restart] keys of the restarting-speaker role and LLGR: families,
// forwarding_state, selection_deferral_time, marker_file, long_lived_stale_time.
#include <gtest/gtest.h>

#include "bgpd/config/config.hpp"

namespace tandem::config {
namespace {

// [graceful_restart] is on line 5; the first key below it on line 6.
const char* kHead = R"(
[global]
router_id = "192.0.2.1"
local_as = 65000
[graceful_restart]
)";

Config ok(const std::string& keys) {
  auto r = parse_config(std::string(kHead) + keys, "gr.toml");
  if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << "expected the config accepted, got " << e->to_string();
  return std::holds_alternative<Config>(r) ? std::get<Config>(r) : Config{};
}

ConfigError bad(const std::string& keys) {
  auto r = parse_config(std::string(kHead) + keys, "gr.toml");
  EXPECT_TRUE(std::holds_alternative<ConfigError>(r)) << "expected an error, config was accepted:\n" << keys;
  return std::holds_alternative<ConfigError>(r) ? std::get<ConfigError>(r) : ConfigError{};
}

// The error names FILE:LINE: KEY.
void expect_error_at(const std::string& keys, int line, const std::string& key) {
  auto e = bad(keys);
  EXPECT_EQ(e.key, "graceful_restart." + key) << e.to_string();
  EXPECT_EQ(e.line, line) << e.to_string();
  std::string where = "gr.toml:" + std::to_string(line) + ": graceful_restart." + key;
  EXPECT_NE(e.to_string().find(where), std::string::npos) << "expected '" << where << "' in: " << e.to_string();
}

const std::vector<wire::Family> kBoth{wire::kIpv4Unicast, wire::kIpv6Unicast};
const std::vector<wire::Family> kV4{wire::kIpv4Unicast};
const std::vector<wire::Family> kV6{wire::kIpv6Unicast};

TEST(GracefulRestartConfig, Defaults) {
  Config c = ok("");
  const auto& g = c.graceful_restart;
  EXPECT_EQ(g.families, kBoth) << "default: restarting speaker for both families";
  EXPECT_EQ(g.forwarding_state, kBoth) << "default: forwarding state kept for both families";
  EXPECT_EQ(g.selection_deferral_time, 360u);
  EXPECT_EQ(g.marker_file, "/run/tandemd/running");
  EXPECT_EQ(g.long_lived_stale_time, 0u) << "LLGR off by default";
}

TEST(GracefulRestartConfig, AllKeys) {
  Config c = ok(R"(families = ["ipv6-unicast", "ipv4-unicast"]
forwarding_state = ["ipv4-unicast"]
selection_deferral_time = 45
marker_file = "/var/lib/tandemd/marker"
long_lived_stale_time = 86400
)");
  const auto& g = c.graceful_restart;
  EXPECT_EQ(g.families, (std::vector<wire::Family>{wire::kIpv6Unicast, wire::kIpv4Unicast}));
  EXPECT_EQ(g.forwarding_state, kV4);
  EXPECT_EQ(g.selection_deferral_time, 45u);
  EXPECT_EQ(g.marker_file, "/var/lib/tandemd/marker");
  EXPECT_EQ(g.long_lived_stale_time, 86400u);
}

TEST(GracefulRestartConfig, EmptyFamiliesMeansHelperOnly) {
  Config c = ok("families = []\n");
  EXPECT_TRUE(c.graceful_restart.families.empty()) << "families = [] must be accepted (helper only)";
  EXPECT_TRUE(c.graceful_restart.forwarding_state.empty()) << "forwarding_state defaults to families (empty)";
}

TEST(GracefulRestartConfig, ForwardingStateDefaultsToFamilies) {
  Config c = ok("families = [\"ipv6-unicast\"]\n");
  EXPECT_EQ(c.graceful_restart.forwarding_state, kV6) << "forwarding_state must default to the families listed";
}

TEST(GracefulRestartConfig, ForwardingStateMayBeEmpty) {
  Config c = ok("forwarding_state = []\n");
  EXPECT_EQ(c.graceful_restart.families, kBoth);
  EXPECT_TRUE(c.graceful_restart.forwarding_state.empty()) << "forwarding_state = [] must be accepted";
}

TEST(GracefulRestartConfig, ForwardingStateMustBeSubsetOfFamilies) {
  expect_error_at("families = [\"ipv4-unicast\"]\nforwarding_state = [\"ipv6-unicast\"]\n", 7, "forwarding_state");
  auto e = bad("families = [\"ipv4-unicast\"]\nforwarding_state = [\"ipv6-unicast\"]\n");
  EXPECT_NE(e.message.find("ipv6-unicast"), std::string::npos) << "the message must name the family: " << e.message;
  expect_error_at("families = []\nforwarding_state = [\"ipv4-unicast\"]\n", 7, "forwarding_state");
}

TEST(GracefulRestartConfig, FamilyListsRejectUnknownAndRepeatedFamilies) {
  expect_error_at("families = [\"ipv4-multicast\"]\n", 6, "families");
  expect_error_at("families = [\"ipv4-unicast\", \"ipv4-unicast\"]\n", 6, "families");
  expect_error_at("forwarding_state = [\"l2vpn-evpn\"]\n", 6, "forwarding_state");
  expect_error_at("families = \"ipv4-unicast\"\n", 6, "families");
}

TEST(GracefulRestartConfig, SelectionDeferralTimeBounds) {
  EXPECT_EQ(ok("selection_deferral_time = 1\n").graceful_restart.selection_deferral_time, 1u);
  EXPECT_EQ(ok("selection_deferral_time = 3600\n").graceful_restart.selection_deferral_time, 3600u);
  expect_error_at("selection_deferral_time = 0\n", 6, "selection_deferral_time");
  expect_error_at("selection_deferral_time = 3601\n", 6, "selection_deferral_time");
  expect_error_at("selection_deferral_time = \"60\"\n", 6, "selection_deferral_time");
}

TEST(GracefulRestartConfig, MarkerFileMustBeAbsolute) {
  EXPECT_EQ(ok("marker_file = \"/tmp/m\"\n").graceful_restart.marker_file, "/tmp/m");
  expect_error_at("marker_file = \"run/tandemd/running\"\n", 6, "marker_file");
  expect_error_at("marker_file = \"\"\n", 6, "marker_file");
  expect_error_at("marker_file = 1\n", 6, "marker_file");
}

TEST(GracefulRestartConfig, LongLivedStaleTimeIs24Bits) {
  EXPECT_EQ(ok("long_lived_stale_time = 0\n").graceful_restart.long_lived_stale_time, 0u);
  EXPECT_EQ(ok("long_lived_stale_time = 16777215\n").graceful_restart.long_lived_stale_time, 16777215u);
  expect_error_at("long_lived_stale_time = 16777216\n", 6, "long_lived_stale_time");
  expect_error_at("long_lived_stale_time = -1\n", 6, "long_lived_stale_time");
}

TEST(GracefulRestartConfig, ErrorLineIsTheKeysLine) {
  // A bad key further down: its own line, not the table's.
  expect_error_at("restart_time = 30\nstale_time = 60\nlong_lived_stale_time = 99999999\n", 8,
                  "long_lived_stale_time");
}

}  // namespace
}  // namespace tandem::config
