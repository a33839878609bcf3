#include "bgpd/config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace tandem::config {
namespace {

const char* kMinimal = R"(
[global]
router_id = "192.0.2.1"
local_as = 4200000100
)";

Config ok(std::string_view text) {
  auto r = parse_config(text, "t.toml");
  if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->to_string();
  return std::get<Config>(r);
}

ConfigError bad(std::string_view text) {
  auto r = parse_config(text, "t.toml");
  EXPECT_TRUE(std::holds_alternative<ConfigError>(r)) << "config was accepted";
  return std::holds_alternative<ConfigError>(r) ? std::get<ConfigError>(r) : ConfigError{};
}

TEST(Config, MinimalHasDefaults) {
  Config c = ok(kMinimal);
  EXPECT_EQ(c.router_id, 0xC0000201u);
  EXPECT_EQ(c.local_as, 4200000100u);
  EXPECT_EQ(c.port, 179);
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_FALSE(c.fib.enabled);
  EXPECT_TRUE(c.peers.empty());
}

TEST(Config, PeerWithDefaultsAndOverrides) {
  Config c = ok(std::string(kMinimal) + R"(
[peer_defaults]
hold_time = 30
families = ["ipv4-unicast"]

[[peer]]
address = "192.0.2.2"
remote_as = 4200000001
description = "frr"

[[peer]]
address = "2001:db8::2"
remote_as = 4200000100
hold_time = 0
families = ["ipv6-unicast"]
passive = true
route_reflector_client = true
port = 1179
)");
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].hold_time, 30);
  EXPECT_EQ(c.peers[0].families, std::vector<wire::Family>{wire::kIpv4Unicast});
  EXPECT_EQ(c.peers[0].description, "frr");
  EXPECT_EQ(c.peers[1].hold_time, 0);
  EXPECT_TRUE(c.peers[1].passive);
  EXPECT_TRUE(c.peers[1].route_reflector_client);
  EXPECT_EQ(c.peers[1].port, 1179);
  EXPECT_TRUE(c.peers[1].address.is_v6());
  EXPECT_NE(c.find_peer(*wire::IpAddr::parse("2001:db8::2")), nullptr);
}

TEST(Config, Networks) {
  Config c = ok(std::string(kMinimal) + R"(
[[network]]
prefix = "198.51.100.0/24"
communities = ["65000:1", "65535:65281"]
large_communities = ["4200000100:1:2"]
med = 10
origin = "incomplete"
)");
  ASSERT_EQ(c.networks.size(), 1u);
  const auto& n = c.networks[0];
  EXPECT_EQ(n.prefix.to_string(), "198.51.100.0/24");
  EXPECT_EQ(n.communities, (std::vector<uint32_t>{0xFDE80001u, 0xFFFFFF01u}));
  ASSERT_EQ(n.large_communities.size(), 1u);
  EXPECT_EQ(n.large_communities[0].global_admin, 4200000100u);
  EXPECT_EQ(n.med, 10u);
  EXPECT_EQ(n.origin, wire::Origin::Incomplete);
}

TEST(Config, ErrorsNameFileLineAndKey) {
  auto e = bad(R"(
[global]
router_id = "192.0.2.1"
local_as = "not a number"
)");
  EXPECT_EQ(e.file, "t.toml");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.key, "global.local_as");
  EXPECT_NE(e.to_string().find("t.toml:4: global.local_as"), std::string::npos) << e.to_string();
}

TEST(Config, MissingRequiredKeys) {
  EXPECT_EQ(bad("[global]\nlocal_as = 1\n").key, "global.router_id");
  EXPECT_EQ(bad("[global]\nrouter_id = \"1.2.3.4\"\n").key, "global.local_as");
  EXPECT_EQ(bad("").key, "global");
  EXPECT_EQ(bad(std::string(kMinimal) + "[[peer]]\nremote_as = 1\n").key, "peer[0].address");
  EXPECT_EQ(bad(std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.9\"\n").key, "peer[0].remote_as");
}

TEST(Config, RejectsBadValues) {
  EXPECT_EQ(bad("[global]\nrouter_id = \"0.0.0.0\"\nlocal_as = 1\n").key, "global.router_id");
  EXPECT_EQ(bad("[global]\nrouter_id = \"2001:db8::1\"\nlocal_as = 1\n").key, "global.router_id");
  EXPECT_EQ(bad("[global]\nrouter_id = \"1.2.3.4\"\nlocal_as = 0\n").key, "global.local_as");
  EXPECT_EQ(bad("[global]\nrouter_id = \"1.2.3.4\"\nlocal_as = 4294967296\n").key, "global.local_as");
  std::string base = std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n";
  EXPECT_EQ(bad(base + "hold_time = 2\n").key, "peer[0].hold_time");
  EXPECT_EQ(bad(base + "families = [\"ipv4-multicast\"]\n").key, "peer[0].families");
  EXPECT_EQ(bad(base + "families = []\n").key, "peer[0].families");
  EXPECT_EQ(bad(base + "local_address = \"2001:db8::1\"\n").key, "peer[0].local_address");
  EXPECT_EQ(bad(base + "route_reflector_client = true\n").key, "peer[0].route_reflector_client");
  EXPECT_EQ(bad(base + "passive = \"yes\"\n").key, "peer[0].passive");
  EXPECT_EQ(bad(std::string(kMinimal) + "[[network]]\nprefix = \"10.0.0.0/33\"\n").key, "network[0].prefix");
  EXPECT_EQ(bad(std::string(kMinimal) + "[[network]]\nprefix = \"10.0.0.0/8\"\ncommunities = [\"70000:1\"]\n").key,
            "network[0].communities");
}

TEST(Config, RejectsUnknownKeysAndDuplicates) {
  auto e = bad(std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\nremote_ass = 2\n");
  EXPECT_EQ(e.key, "peer[0].remote_ass");
  EXPECT_NE(e.message.find("unknown"), std::string::npos);
  EXPECT_EQ(bad(std::string(kMinimal) + "[bogus]\nx = 1\n").key, "bogus");
  auto d = bad(std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n"
                                       "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 2\n");
  EXPECT_EQ(d.key, "peer[1].address");
  EXPECT_NE(d.message.find("twice"), std::string::npos);
}

TEST(Config, SyntaxErrorHasLine) {
  auto e = bad("[global]\nrouter_id = \"1.2.3.4\"\nlocal_as = = 3\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("syntax"), std::string::npos);
}

TEST(Config, Communities) {
  EXPECT_EQ(parse_community("65000:1"), 0xFDE80001u);
  EXPECT_FALSE(parse_community("65536:1"));
  EXPECT_FALSE(parse_community("1"));
  EXPECT_FALSE(parse_community("1:"));
  auto l = parse_large_community("1:2:3");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->local2, 3u);
  EXPECT_FALSE(parse_large_community("1:2"));
  EXPECT_FALSE(parse_large_community("1:2:3:4"));
}

TEST(Config, ApiAndMetricsDefaults) {
  Config c = ok(kMinimal);
  EXPECT_EQ(c.api.socket, "/run/tandemd/tandemd.sock");
  EXPECT_EQ(c.api.socket_mode, 0660u);
  EXPECT_EQ(c.api.tcp_listen, "");
  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9179");
}

TEST(Config, ApiAndMetrics) {
  Config c = ok(std::string(kMinimal) + R"(
[api]
socket = "/tmp/t.sock"
socket_mode = "0600"
tcp_listen = "[::1]:50051"
tls_cert = "/etc/tandemd/server.pem"
tls_key = "/etc/tandemd/server.key"
tls_client_ca = "/etc/tandemd/ca.pem"

[metrics]
enabled = true
listen = "0.0.0.0:9179"
)");
  EXPECT_EQ(c.api.socket, "/tmp/t.sock");
  EXPECT_EQ(c.api.socket_mode, 0600u);
  EXPECT_EQ(c.api.tcp_listen, "[::1]:50051");
  EXPECT_EQ(c.api.tls_client_ca, "/etc/tandemd/ca.pem");
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "0.0.0.0:9179");
}

TEST(Config, ApiAndMetricsErrors) {
  struct Case {
    const char* text;
    int line;
    const char* key;
    const char* message;
  };
  const Case cases[] = {
      {"[api]\nsocket = \"relative.sock\"\n", 6, "api.socket", "absolute path"},
      {"[api]\nsocket_mode = \"0999\"\n", 6, "api.socket_mode", "octal mode"},
      {"[api]\nsocket_mode = 660\n", 6, "api.socket_mode", "must be a string"},
      {"[api]\ntcp_listen = \"localhost:50051\"\n", 6, "api.tcp_listen", "ADDRESS:PORT"},
      {"[api]\ntcp_listen = \"::1:50051\"\n", 6, "api.tcp_listen", "ADDRESS:PORT"},
      {"[api]\ntcp_listen = \"127.0.0.1:50051\"\n", 6, "api.tls_cert", "required when tcp_listen is set"},
      {"[api]\ntcp_listen = \"127.0.0.1:50051\"\ntls_cert = \"c\"\ntls_key = \"k\"\n", 6, "api.tls_client_ca",
       "mutual TLS"},
      {"[api]\nsocket = \"/x\"\nport = 1\n", 7, "api.port", "unknown key"},
      {"[metrics]\nenabled = \"yes\"\n", 6, "metrics.enabled", "true or false"},
      {"[metrics]\nlisten = \"9179\"\n", 6, "metrics.listen", "ADDRESS:PORT"},
      {"[metrics]\nlisten = \"127.0.0.1:70000\"\n", 6, "metrics.listen", "ADDRESS:PORT"},
  };
  for (const auto& c : cases) {
    auto e = bad(std::string(kMinimal) + c.text);
    EXPECT_EQ(e.key, c.key) << c.text;
    EXPECT_EQ(e.line, c.line) << c.text;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.text << " -> " << e.to_string();
  }
}

TEST(Config, ParseHostPort) {
  auto a = parse_host_port("127.0.0.1:50051");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first.to_string(), "127.0.0.1");
  EXPECT_EQ(a->second, 50051);
  auto b = parse_host_port("[2001:db8::1]:9179");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->second, 9179);
  EXPECT_FALSE(parse_host_port("[127.0.0.1]:1"));
  EXPECT_FALSE(parse_host_port("127.0.0.1"));
  EXPECT_FALSE(parse_host_port("127.0.0.1:"));
  EXPECT_FALSE(parse_host_port("[::1]"));
}

TEST(Config, ShippedExamplesAreValid) {
  for (const char* f : {"/etc/tandemd.toml", "/etc/lab/tandemd.toml"}) {
    std::string path = std::string(TANDEM_SOURCE_DIR) + f;
    if (f == std::string("/etc/lab/tandemd.toml") && !std::ifstream(path)) continue;
    auto r = load_config(path);
    if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->to_string();
  }
}

TEST(Config, GracefulRestartDefaults) {
  Config c = ok(std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n");
  EXPECT_TRUE(c.graceful_restart.enabled);
  EXPECT_EQ(c.graceful_restart.restart_time, 120);
  EXPECT_TRUE(c.graceful_restart.notification);
  EXPECT_EQ(c.graceful_restart.stale_time, 360u);
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_FALSE(c.peers[0].graceful_restart.has_value());
}

TEST(Config, GracefulRestartTableAndPeerOverride) {
  Config c = ok(std::string(kMinimal) + R"(
[graceful_restart]
enabled = false
restart_time = 30
notification = false
stale_time = 90

[[peer]]
address = "192.0.2.2"
remote_as = 1
graceful_restart = true

[[peer]]
address = "192.0.2.3"
remote_as = 1
)");
  EXPECT_FALSE(c.graceful_restart.enabled);
  EXPECT_EQ(c.graceful_restart.restart_time, 30);
  EXPECT_FALSE(c.graceful_restart.notification);
  EXPECT_EQ(c.graceful_restart.stale_time, 90u);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].graceful_restart, std::optional<bool>(true));
  EXPECT_FALSE(c.peers[1].graceful_restart.has_value());
}

TEST(Config, GracefulRestartErrors) {
  std::string gr = std::string(kMinimal) + "[graceful_restart]\n";
  auto e = bad(gr + "restart_time = 4096\n");
  EXPECT_EQ(e.key, "graceful_restart.restart_time");
  EXPECT_EQ(e.line, 6);
  EXPECT_NE(e.to_string().find("t.toml:6: graceful_restart.restart_time"), std::string::npos) << e.to_string();
  EXPECT_EQ(bad(gr + "restart_time = 0\n").key, "graceful_restart.restart_time");
  EXPECT_EQ(bad(gr + "stale_time = 0\n").key, "graceful_restart.stale_time");
  EXPECT_EQ(bad(gr + "enabled = \"yes\"\n").key, "graceful_restart.enabled");
  EXPECT_EQ(bad(gr + "notification = 1\n").key, "graceful_restart.notification");
  EXPECT_EQ(bad(gr + "restart = 1\n").key, "graceful_restart.restart");
  EXPECT_EQ(bad(std::string(kMinimal) + "graceful_restart = true\n").key, "global.graceful_restart");
  EXPECT_EQ(bad(std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\ngraceful_restart = 1\n").key,
            "peer[0].graceful_restart");
}

}  // namespace
}  // namespace tandem::config

namespace tandem::config {
namespace {

TEST(Config, SessionProtectionKeys) {
  Config c = ok(std::string(kMinimal) + R"(
[[peer]]
address = "192.0.2.2"
remote_as = 1
password = "s3cret"
ttl_security = true

[[peer]]
address = "192.0.2.3"
remote_as = 1
)");
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].password, "s3cret");
  EXPECT_TRUE(c.peers[0].ttl_security);
  EXPECT_TRUE(c.peers[1].password.empty());
  EXPECT_FALSE(c.peers[1].ttl_security);
}

TEST(Config, SessionProtectionErrors) {
  std::string peer = std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n";
  auto e = bad(peer + "password = \"\"\n");
  EXPECT_EQ(e.key, "peer[0].password");
  EXPECT_NE(e.message.find("1..80"), std::string::npos) << e.to_string();
  EXPECT_EQ(bad(peer + "password = \"" + std::string(81, 'x') + "\"\n").key, "peer[0].password");
  EXPECT_EQ(bad(peer + "ttl_security = \"yes\"\n").key, "peer[0].ttl_security");
}

TEST(Config, PrefixLimitKeys) {
  std::string peer = std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n";
  Config c = ok(peer + "max_prefixes = 1000\nmax_prefixes_restart = 300\nmax_prefixes_warning_only = true\n");
  EXPECT_EQ(c.peers[0].max_prefixes, 1000u);
  EXPECT_EQ(c.peers[0].max_prefixes_restart, 300u);
  EXPECT_TRUE(c.peers[0].max_prefixes_warning_only);
  EXPECT_EQ(ok(peer).peers[0].max_prefixes, 0u);  // no limit by default
  auto e = bad(peer + "max_prefixes_restart = 60\n");
  EXPECT_EQ(e.key, "peer[0].max_prefixes_restart");
  EXPECT_NE(e.message.find("max_prefixes > 0"), std::string::npos) << e.to_string();
  EXPECT_EQ(bad(peer + "max_prefixes = -1\n").key, "peer[0].max_prefixes");
}

TEST(Config, MemoryBudget) {
  EXPECT_EQ(ok(kMinimal).memory_budget_mb, 0u);  // no budget by default
  const std::string global = "[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 1\n";
  EXPECT_EQ(ok(global + "memory_budget_mb = 2048\n").memory_budget_mb, 2048u);
  EXPECT_EQ(bad(global + "memory_budget_mb = -5\n").key, "global.memory_budget_mb");
}

TEST(Config, MaxAsPathLength) {
  std::string peer = std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n";
  EXPECT_EQ(ok(peer).peers[0].max_as_path_length, 0u);  // no limit by default
  EXPECT_EQ(ok(peer + "max_as_path_length = 100\n").peers[0].max_as_path_length, 100u);
  EXPECT_EQ(bad(peer + "max_as_path_length = 70000\n").key, "peer[0].max_as_path_length");
  EXPECT_EQ(bad(peer + "max_as_path_length = -1\n").key, "peer[0].max_as_path_length");
}

TEST(Config, SendHoldTime) {
  std::string peer = std::string(kMinimal) + "[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 1\n";
  EXPECT_EQ(ok(peer).peers[0].send_hold_time, 0u);  // RFC 9687 default: max(8 min, 2 x hold time)
  EXPECT_EQ(ok(peer + "send_hold_time = 600\n").peers[0].send_hold_time, 600u);
  EXPECT_EQ(bad(peer + "send_hold_time = 100000\n").key, "peer[0].send_hold_time");
}

}  // namespace
}  // namespace tandem::config
