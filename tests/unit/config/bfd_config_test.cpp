// [bfd] and the per-peer bfd keys.
#include <gtest/gtest.h>

#include "bgpd/config/config.hpp"
#include "section_test_util.hpp"

namespace tandem::config {
namespace {

const test::Section kSection("bfd");

Config ok(const std::string& keys) { return kSection.ok(keys); }
void expect_error_at(const std::string& keys, int line, const std::string& key, const std::string& words = "") {
  kSection.expect_error_at(keys, line, key, words);
}

TEST(BfdConfig, DefaultsWhenAbsent) {
  auto r = parse_config("[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 65000\n[[peer]]\naddress = \"192.0.2.2\"\n"
                        "remote_as = 65001\n", "x.toml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const auto& c = std::get<Config>(r);
  EXPECT_FALSE(c.bfd.enabled);
  EXPECT_EQ(c.bfd.receive_path, "auto");
  EXPECT_EQ(c.bfd.xdp_mode, "auto");
  EXPECT_EQ(c.bfd.transmit_path, "auto");
  EXPECT_TRUE(c.bfd.interfaces.empty());
  EXPECT_EQ(c.bfd.desired_min_tx_ms, 300u);
  EXPECT_EQ(c.bfd.required_min_rx_ms, 300u);
  EXPECT_EQ(c.bfd.detect_mult, 3u);
  EXPECT_FALSE(c.peers.at(0).bfd);
  EXPECT_FALSE(c.peers.at(0).bfd_detect_mult);
}

TEST(BfdConfig, AllKeys) {
  Config c = ok(R"(enabled = true
receive_path = "xdp"
interfaces = ["eth0", "eth1"]
xdp_mode = "generic"
transmit_path = "xdp"
desired_min_tx_ms = 10
required_min_rx_ms = 20
detect_mult = 5
[[peer]]
address = "192.0.2.2"
remote_as = 65001
bfd = true
[[peer]]
address = "2001:db8::2"
remote_as = 65001
bfd = true
bfd_desired_min_tx_ms = 50
bfd_required_min_rx_ms = 60
bfd_detect_mult = 4
)");
  EXPECT_TRUE(c.bfd.enabled);
  EXPECT_EQ(c.bfd.receive_path, "xdp");
  EXPECT_EQ(c.bfd.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(c.bfd.xdp_mode, "generic");
  EXPECT_EQ(c.bfd.transmit_path, "xdp");
  EXPECT_EQ(c.bfd.desired_min_tx_ms, 10u);
  EXPECT_EQ(c.bfd.required_min_rx_ms, 20u);
  EXPECT_EQ(c.bfd.detect_mult, 5u);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_TRUE(c.peers[0].bfd);
  EXPECT_FALSE(c.peers[0].bfd_desired_min_tx_ms);
  EXPECT_EQ(c.peers[1].bfd_desired_min_tx_ms, 50u);
  EXPECT_EQ(c.peers[1].bfd_required_min_rx_ms, 60u);
  EXPECT_EQ(c.peers[1].bfd_detect_mult, 4u);
}

TEST(BfdConfig, UserSpaceNeedsNoInterfaces) {
  Config c = ok("enabled = true\nreceive_path = \"user-space\"\n");
  EXPECT_EQ(c.bfd.receive_path, "user-space");
}

TEST(BfdConfig, ErrorsNameFileLineAndKey) {
  expect_error_at("enabled = 1\n", 6, "bfd.enabled", "true or false");
  expect_error_at("receive_path = \"kernel\"\n", 6, "bfd.receive_path", "\"auto\", \"xdp\" or \"user-space\"");
  expect_error_at("enabled = true\nreceive_path = \"xdp\"\n", 7, "bfd.receive_path", "interfaces");
  expect_error_at("interfaces = \"eth0\"\n", 6, "bfd.interfaces", "array of strings");
  expect_error_at("interfaces = [\"eth0\", \"eth0\"]\n", 6, "bfd.interfaces", "twice");
  expect_error_at("interfaces = [\"a-very-long-interface-name\"]\n", 6, "bfd.interfaces", "not an interface name");
  expect_error_at("xdp_mode = \"driver\"\n", 6, "bfd.xdp_mode", "\"auto\", \"native\" or \"generic\"");
  expect_error_at("transmit_path = \"kernel\"\n", 6, "bfd.transmit_path", "\"auto\", \"xdp\" or \"user-space\"");
  expect_error_at("enabled = true\nreceive_path = \"user-space\"\ntransmit_path = \"xdp\"\n", 8,
                  "bfd.transmit_path", "XDP receive path");
  expect_error_at("enabled = true\ndesired_min_tx_ms = 0\n", 7, "bfd.desired_min_tx_ms", "between 1 and 60000");
  expect_error_at("required_min_rx_ms = 60001\n", 6, "bfd.required_min_rx_ms", "between 1 and 60000");
  expect_error_at("detect_mult = 0\n", 6, "bfd.detect_mult", "between 1 and 255");
  expect_error_at("detect_multiplier = 3\n", 6, "bfd.detect_multiplier", "unknown key");
}

TEST(BfdConfig, PeerBfdNeedsBfdEnabled) {
  // [bfd] present but disabled.
  expect_error_at("enabled = false\n[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 65001\nbfd = true\n", 10,
                  "peer[0].bfd", "[bfd] enabled = true");
  // [bfd] absent altogether.
  auto r = parse_config("[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 65000\n[[peer]]\naddress = \"192.0.2.2\"\n"
                        "remote_as = 65001\nbfd = true\n", "x.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).to_string(),
            "x.toml:7: peer[0].bfd: BFD is not enabled: set [bfd] enabled = true (or remove bfd = true)");
}

TEST(BfdConfig, PeerKeys) {
  const std::string peer = "enabled = true\n[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 65001\n";  // lines 6-9
  expect_error_at(peer + "bfd = \"yes\"\n", 10, "peer[0].bfd", "true or false");
  expect_error_at(peer + "bfd = true\nbfd_detect_mult = 256\n", 11, "peer[0].bfd_detect_mult", "between 1 and 255");
  expect_error_at(peer + "bfd_desired_min_tx_ms = 10\n", 10, "peer[0].bfd_desired_min_tx_ms", "bfd = true");
}

}  // namespace
}  // namespace tandem::config
