// [ha] (the replication pair), describe_peer / describe_global (configuration
// comparison between the two nodes), and the example pair etc/primary.toml, standby.toml.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "bgpd/config/config.hpp"
#include "section_test_util.hpp"

namespace tandem::config {
namespace {

const char* kPrimary = R"(role = "primary"
listen = "203.0.113.10:7179"
key_file = "/etc/tandem/ha.key"
)";

const test::Section kSection("ha");

Config ok(const std::string& keys) { return kSection.ok(keys); }
void expect_error_at(const std::string& keys, int line, const std::string& key, const std::string& words = "") {
  kSection.expect_error_at(keys, line, key, words);
}

TEST(HaConfig, AbsentMeansSingleNode) {
  auto r = parse_config("[global]\nrouter_id = \"192.0.2.7\"\nlocal_as = 1\n", "x.toml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const HaConfig& h = std::get<Config>(r).ha;
  EXPECT_EQ(h.role, "none");
  EXPECT_FALSE(h.enabled());
  EXPECT_EQ(h.node_id, "192.0.2.7");
  EXPECT_FALSE(h.listen);
  EXPECT_FALSE(h.peer);
  // An empty [ha], or role = "none" alone, is the same; no key file needed.
  EXPECT_EQ(ok("").ha.role, "none");
  EXPECT_FALSE(ok("role = \"none\"\n").ha.enabled());
}

TEST(HaConfig, PrimaryWithDefaults) {
  Config c = ok(kPrimary);
  const HaConfig& h = c.ha;
  EXPECT_EQ(h.role, "primary");
  EXPECT_TRUE(h.enabled());
  EXPECT_EQ(h.node_id, "192.0.2.1");  // router id
  ASSERT_TRUE(h.listen);
  EXPECT_EQ(h.listen->first.to_string(), "203.0.113.10");
  EXPECT_EQ(h.listen->second, 7179);
  EXPECT_FALSE(h.peer);
  EXPECT_EQ(h.key_file, "/etc/tandem/ha.key");
  HaConfig d;
  EXPECT_EQ(h.epoch_file, d.epoch_file);
  EXPECT_EQ(h.connect_retry_ms, d.connect_retry_ms);
  EXPECT_EQ(h.channel_dead_ms, d.channel_dead_ms);
  EXPECT_EQ(h.standby_buffer_bytes, d.standby_buffer_bytes);
  EXPECT_EQ(h.window_update_mss, d.window_update_mss);
  EXPECT_EQ(h.window_update_timer_ms, d.window_update_timer_ms);
  EXPECT_EQ(h.max_unreplicated_bytes, d.max_unreplicated_bytes);
  EXPECT_EQ(h.checkpoint_interval_ms, d.checkpoint_interval_ms);
  EXPECT_EQ(h.checkpoint_threshold_bytes, d.checkpoint_threshold_bytes);
  EXPECT_EQ(h.takeover_resend_wait_ms, 1000u);
  EXPECT_TRUE(h.hold_acks);
}

TEST(HaConfig, StandbyWithEveryKey) {
  Config c = ok(R"(role = "standby"
node_id = "bgp-b"
listen = "[2001:db8::11]:7179"
peer = "[2001:db8::10]:7180"
key_file = "/etc/tandem/ha.key"
epoch_file = "/var/lib/tandemd/ha.epoch"
connect_retry_ms = 500
channel_dead_ms = 1500
standby_buffer_bytes = 1048576
window_update_mss = 1
window_update_timer_ms = 5
max_unreplicated_bytes = 65536
checkpoint_interval_ms = 50
checkpoint_threshold_bytes = 8192
takeover_resend_wait_ms = 0
hold_acks = false
)");
  const HaConfig& h = c.ha;
  EXPECT_EQ(h.role, "standby");
  EXPECT_EQ(h.node_id, "bgp-b");
  ASSERT_TRUE(h.peer);
  EXPECT_EQ(h.peer->first.to_string(), "2001:db8::10");
  EXPECT_EQ(h.peer->second, 7180);
  ASSERT_TRUE(h.listen);
  EXPECT_EQ(h.listen->second, 7179);
  EXPECT_EQ(h.epoch_file, "/var/lib/tandemd/ha.epoch");
  EXPECT_EQ(h.connect_retry_ms, 500u);
  EXPECT_EQ(h.channel_dead_ms, 1500u);
  EXPECT_EQ(h.standby_buffer_bytes, 1048576u);
  EXPECT_EQ(h.window_update_mss, 1u);
  EXPECT_EQ(h.window_update_timer_ms, 5u);
  EXPECT_EQ(h.max_unreplicated_bytes, 65536u);
  EXPECT_EQ(h.checkpoint_interval_ms, 50u);
  EXPECT_EQ(h.checkpoint_threshold_bytes, 8192u);
  EXPECT_EQ(h.takeover_resend_wait_ms, 0u);
  EXPECT_FALSE(h.hold_acks);
}

TEST(HaConfig, RoleRequirements) {
  // Missing keys are reported at the [ha] line.
  expect_error_at("role = \"primary\"\nkey_file = \"/k\"\n", 5, "ha.listen", "role = \"primary\"");
  expect_error_at("role = \"standby\"\nkey_file = \"/k\"\nlisten = \"203.0.113.1:1\"\n", 5, "ha.peer",
                  "role = \"standby\"");
  expect_error_at("role = \"primary\"\nlisten = \"203.0.113.1:1\"\n", 5, "ha.key_file", "required");
  expect_error_at("role = \"standby\"\npeer = \"203.0.113.1:1\"\n", 5, "ha.key_file", "required");
  expect_error_at("role = \"master\"\n", 6, "ha.role", "\"none\", \"primary\" or \"standby\"");
  expect_error_at("role = 1\n", 6, "ha.role", "string");
}

TEST(HaConfig, BadValues) {
  const std::string p = kPrimary;  // lines 6..8; the key under test is on line 9
  expect_error_at(p + "node_id = \"\"\n", 9, "ha.node_id");
  expect_error_at(p + "node_id = \"a b\"\n", 9, "ha.node_id", "without spaces");
  expect_error_at(p + "peer = \"203.0.113.1\"\n", 9, "ha.peer", "ADDRESS:PORT");
  expect_error_at(p + "peer = \"203.0.113.1:0\"\n", 9, "ha.peer", "ADDRESS:PORT");
  expect_error_at(p + "peer = \"2001:db8::1:7179\"\n", 9, "ha.peer", "ADDRESS:PORT");
  expect_error_at("role = \"primary\"\nkey_file = \"/k\"\nlisten = \"x:1\"\n", 8, "ha.listen", "ADDRESS:PORT");
  expect_error_at("key_file = \"ha.key\"\n", 6, "ha.key_file", "absolute path");
  expect_error_at(p + "epoch_file = \"epoch\"\n", 9, "ha.epoch_file", "absolute path");
  // Timers must be > 0 (and sizes sensible).
  for (const char* key : {"connect_retry_ms", "channel_dead_ms", "window_update_timer_ms", "checkpoint_interval_ms",
                          "checkpoint_threshold_bytes"}) {
    SCOPED_TRACE(key);
    expect_error_at(p + key + " = 0\n", 9, std::string("ha.") + key, "must be between");
    expect_error_at(p + key + " = -5\n", 9, std::string("ha.") + key, "must be between");
    expect_error_at(p + key + " = \"100\"\n", 9, std::string("ha.") + key, "integer");
  }
  expect_error_at(p + "channel_dead_ms = 600001\n", 9, "ha.channel_dead_ms", "must be between");
  expect_error_at(p + "window_update_mss = 3\n", 9, "ha.window_update_mss", "must be 1 or 2");
  expect_error_at(p + "window_update_mss = 0\n", 9, "ha.window_update_mss", "must be 1 or 2");
  expect_error_at(p + "window_update_mss = \"2\"\n", 9, "ha.window_update_mss", "must be 1 or 2");
  expect_error_at(p + "max_unreplicated_bytes = 16383\n", 9, "ha.max_unreplicated_bytes", "16384");
  EXPECT_EQ(ok(p + "max_unreplicated_bytes = 16384\n").ha.max_unreplicated_bytes, 16384u);
  expect_error_at(p + "standby_buffer_bytes = 1000\n", 9, "ha.standby_buffer_bytes", "must be between");
  expect_error_at(p + "takeover_resend_wait_ms = 60001\n", 9, "ha.takeover_resend_wait_ms", "must be between");
  expect_error_at(p + "hold_acks = 1\n", 9, "ha.hold_acks", "true or false");
}

TEST(HaConfig, StandbyBufferMustHoldTheUnreplicatedBytes) {
  const std::string p = kPrimary;
  expect_error_at(p + "standby_buffer_bytes = 65536\nmax_unreplicated_bytes = 131072\n", 9,
                  "ha.standby_buffer_bytes", "at least max_unreplicated_bytes");
  // Reported where the user wrote something: here only max_unreplicated_bytes.
  expect_error_at(p + "max_unreplicated_bytes = 8388608\n", 9, "ha.max_unreplicated_bytes",
                  "at least max_unreplicated_bytes");
  Config c = ok(p + "standby_buffer_bytes = 131072\nmax_unreplicated_bytes = 131072\n");
  EXPECT_EQ(c.ha.standby_buffer_bytes, 131072u);
}

// The pair's heartbeat: a BFD session with the other node (needs [bfd]).
TEST(HaConfig, Heartbeat) {
  const std::string p = std::string(kPrimary) + "peer = \"203.0.113.11:7179\"\n";  // lines 6..9
  const std::string bfd = "[bfd]\nenabled = true\n";
  Config c = ok(p + "heartbeat = true\n" + bfd);
  EXPECT_TRUE(c.ha.heartbeat);
  EXPECT_EQ(c.ha.heartbeat_interval_ms, 10u);
  EXPECT_EQ(c.ha.heartbeat_detect_mult, 3u);
  EXPECT_EQ(c.ha.takeover_silence_mult, 2u);
  ASSERT_TRUE(c.ha.heartbeat_peer());
  EXPECT_EQ(c.ha.heartbeat_peer()->to_string(), "203.0.113.11");  // the peer's address by default
  EXPECT_FALSE(ok(p).ha.heartbeat);

  c = ok(p + "heartbeat = true\nheartbeat_address = \"198.51.100.11\"\nheartbeat_local_address = \"198.51.100.10\"\n"
             "heartbeat_interval_ms = 50\nheartbeat_detect_mult = 5\ntakeover_silence_mult = 1\n" + bfd);
  EXPECT_EQ(c.ha.heartbeat_peer()->to_string(), "198.51.100.11");
  EXPECT_EQ(c.ha.heartbeat_local_address->to_string(), "198.51.100.10");
  EXPECT_EQ(c.ha.heartbeat_interval_ms, 50u);
  EXPECT_EQ(c.ha.heartbeat_detect_mult, 5u);
  EXPECT_EQ(c.ha.takeover_silence_mult, 1u);

  expect_error_at(p + "heartbeat = true\n", 10, "ha.heartbeat", "[bfd] enabled = true");
  expect_error_at(std::string(kPrimary) + "heartbeat = true\n" + bfd, 9, "ha.heartbeat", "heartbeat_address");
  expect_error_at(p + "heartbeat = true\nheartbeat_address = \"nowhere\"\n" + bfd, 11, "ha.heartbeat_address",
                  "not an IPv4 or IPv6 address");
  expect_error_at(p + "heartbeat = true\nheartbeat_local_address = \"2001:db8::1\"\n" + bfd, 11,
                  "ha.heartbeat_local_address", "one family");
  expect_error_at(p + "heartbeat = true\nheartbeat_interval_ms = 0\n" + bfd, 11, "ha.heartbeat_interval_ms",
                  "must be between");
  expect_error_at(p + "heartbeat = true\nheartbeat_detect_mult = 256\n" + bfd, 11, "ha.heartbeat_detect_mult",
                  "must be between");
  expect_error_at(p + "heartbeat = true\ntakeover_silence_mult = 0\n" + bfd, 11, "ha.takeover_silence_mult",
                  "must be between");
  expect_error_at(p + "heartbeat_interval_ms = 10\n", 10, "ha.heartbeat_interval_ms", "only applies with heartbeat");
  expect_error_at(p + "takeover_silence_mult = 1\n", 10, "ha.takeover_silence_mult", "only applies with heartbeat");
  // One BFD session per address: a BGP peer at the heartbeat's address cannot have bfd.
  auto e = kSection.bad(p + "heartbeat = true\n" + bfd + "[[peer]]\naddress = \"203.0.113.11\"\nremote_as = 65001\nbfd = true\n");
  EXPECT_EQ(e.key, "peer[0].bfd") << e.to_string();
  EXPECT_NE(e.message.find("heartbeat"), std::string::npos) << e.to_string();
}

// The VIPs: held by whichever node is the primary.
TEST(HaConfig, Vips) {
  const std::string p = kPrimary;  // lines 6..8
  Config c = ok(p + "vips = [\"192.0.2.1/24\", \"2001:db8::1/64\"]\nvip_interface = \"eth0\"\n");
  ASSERT_EQ(c.ha.vips.size(), 2u);
  EXPECT_EQ(c.ha.vips[0].first.to_string(), "192.0.2.1");
  EXPECT_EQ(c.ha.vips[0].second, 24);
  EXPECT_EQ(c.ha.vips[1].first.to_string(), "2001:db8::1");
  EXPECT_EQ(c.ha.vips[1].second, 64);
  EXPECT_EQ(c.ha.vip_interface, "eth0");
  EXPECT_TRUE(ok(p).ha.vips.empty());
  expect_error_at(p + "vips = [\"192.0.2.1\"]\nvip_interface = \"eth0\"\n", 9, "ha.vips", "ADDRESS/LENGTH");
  expect_error_at(p + "vips = [\"192.0.2.1/33\"]\nvip_interface = \"eth0\"\n", 9, "ha.vips", "ADDRESS/LENGTH");
  expect_error_at(p + "vips = [\"2001:db8::1/129\"]\nvip_interface = \"eth0\"\n", 9, "ha.vips", "ADDRESS/LENGTH");
  expect_error_at(p + "vips = [\"x/24\"]\nvip_interface = \"eth0\"\n", 9, "ha.vips", "ADDRESS/LENGTH");
  expect_error_at(p + "vips = [\"192.0.2.1/24\"]\n", 9, "ha.vips", "vip_interface");
  expect_error_at(p + "vip_interface = \"a b\"\n", 9, "ha.vip_interface", "not an interface name");
}

// The term beacon: the other node's address on vip_interface's segment.
TEST(HaConfig, WitnessAddress) {
  const std::string p = kPrimary;  // lines 6..8
  Config c = ok(p + "vip_interface = \"eth0\"\nwitness_address = \"192.0.2.11\"\n");
  ASSERT_TRUE(c.ha.witness_address);
  EXPECT_EQ(c.ha.witness_address->to_string(), "192.0.2.11");
  EXPECT_EQ(c.ha.witness_port, 7180);
  EXPECT_FALSE(ok(p).ha.witness_address);
  EXPECT_EQ(ok(p + "vip_interface = \"eth0\"\nwitness_address = \"2001:db8::11\"\nwitness_port = 7000\n")
                .ha.witness_port,
            7000);
  expect_error_at(p + "vip_interface = \"eth0\"\nwitness_address = \"192.0.2\"\n", 10, "ha.witness_address",
                  "not an IPv4 or IPv6 address");
  expect_error_at(p + "witness_address = \"192.0.2.11\"\n", 9, "ha.witness_address", "needs vip_interface");
  expect_error_at(p + "vip_interface = \"eth0\"\nwitness_address = \"192.0.2.11\"\nwitness_port = 0\n", 11,
                  "ha.witness_port", "");
}

TEST(HaConfig, UnknownKeyIsRejected) {
  expect_error_at(std::string(kPrimary) + "keyfile = \"/etc/tandem/ha.key\"\n", 9, "ha.keyfile", "unknown key");
  expect_error_at("[ha.extra]\nx = 1\n", 6, "ha.extra", "unknown key");
}

TEST(HaConfig, ExamplePairIsValidAndMatches) {
  auto load = [](const char* name) {
    auto r = load_config(std::string(TANDEM_SOURCE_DIR) + "/etc/" + name);
    if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->to_string();
    return std::holds_alternative<Config>(r) ? std::get<Config>(r) : Config{};
  };
  Config p = load("primary.toml"), s = load("standby.toml");
  EXPECT_EQ(p.ha.role, "primary");
  EXPECT_EQ(s.ha.role, "standby");
  EXPECT_NE(p.ha.node_id, s.ha.node_id);
  ASSERT_TRUE(p.ha.listen && s.ha.peer);
  EXPECT_EQ(*p.ha.listen, *s.ha.peer);  // the standby dials the primary's listener
  EXPECT_EQ(p.ha.key_file, "/etc/tandem/ha.key");
  EXPECT_EQ(s.ha.key_file, p.ha.key_file);
  // Same BGP configuration on both nodes, as the replicator requires.
  EXPECT_EQ(describe_global(p), describe_global(s));
  ASSERT_EQ(p.peers.size(), s.peers.size());
  ASSERT_FALSE(p.peers.empty());
  for (size_t i = 0; i < p.peers.size(); ++i) EXPECT_EQ(describe_peer(p.peers[i]), describe_peer(s.peers[i]));
}

// ---- describe_peer / describe_global ----

PeerConfig base_peer() {
  PeerConfig p;
  p.address = *wire::IpAddr::parse("192.0.2.2");
  p.remote_as = 65001;
  return p;
}

TEST(DescribePeer, CanonicalText) {
  PeerConfig p = base_peer();
  std::string d = describe_peer(p);
  EXPECT_EQ(d.rfind("192.0.2.2 remote_as=65001 ", 0), 0u) << d;
  EXPECT_NE(d.find(" families=ipv4-unicast,ipv6-unicast "), std::string::npos) << d;
  EXPECT_NE(d.find(" hold=90 "), std::string::npos) << d;
  EXPECT_NE(d.find(" md5=no "), std::string::npos) << d;
  EXPECT_EQ(d.find('\n'), std::string::npos);
  // Stable: same input, same text; family order does not matter; neither does the
  // description.
  EXPECT_EQ(describe_peer(base_peer()), d);
  PeerConfig q = base_peer();
  q.families = {wire::kIpv6Unicast, wire::kIpv4Unicast};
  q.description = "another name";
  EXPECT_EQ(describe_peer(q), d);
}

TEST(DescribePeer, EveryFieldThatShapesTheSessionShows) {
  const std::string base = describe_peer(base_peer());
  std::vector<std::pair<const char*, std::function<void(PeerConfig&)>>> changes = {
      {"address", [](PeerConfig& p) { p.address = *wire::IpAddr::parse("192.0.2.3"); }},
      {"remote_as", [](PeerConfig& p) { p.remote_as = 65002; }},
      {"local_address", [](PeerConfig& p) { p.local_address = *wire::IpAddr::parse("192.0.2.1"); }},
      {"passive", [](PeerConfig& p) { p.passive = true; }},
      {"hold_time", [](PeerConfig& p) { p.hold_time = 30; }},
      {"connect_retry", [](PeerConfig& p) { p.connect_retry = 5; }},
      {"families", [](PeerConfig& p) { p.families = {wire::kIpv4Unicast}; }},
      {"next_hop_self", [](PeerConfig& p) { p.next_hop_self = true; }},
      {"route_reflector_client", [](PeerConfig& p) { p.route_reflector_client = true; }},
      {"port", [](PeerConfig& p) { p.port = 1179; }},
      {"enabled", [](PeerConfig& p) { p.enabled = false; }},
      {"graceful_restart=yes", [](PeerConfig& p) { p.graceful_restart = true; }},
      {"graceful_restart=no", [](PeerConfig& p) { p.graceful_restart = false; }},
      {"max_prefixes", [](PeerConfig& p) { p.max_prefixes = 1000; }},
      {"max_prefixes_warning_only", [](PeerConfig& p) { p.max_prefixes_warning_only = true; }},
      {"max_prefixes_restart", [](PeerConfig& p) { p.max_prefixes_restart = 60; }},
      {"send_hold_time", [](PeerConfig& p) { p.send_hold_time = 600; }},
      {"password", [](PeerConfig& p) { p.password = "s3cret-Key"; }},
      {"ttl_security", [](PeerConfig& p) { p.ttl_security = true; }},
      {"bfd", [](PeerConfig& p) { p.bfd = true; }},
      {"bfd_desired_min_tx_ms", [](PeerConfig& p) { p.bfd_desired_min_tx_ms = 50; }},
      {"bfd_required_min_rx_ms", [](PeerConfig& p) { p.bfd_required_min_rx_ms = 50; }},
      {"bfd_detect_mult", [](PeerConfig& p) { p.bfd_detect_mult = 5; }},
  };
  std::set<std::string> seen{base};
  for (auto& [name, change] : changes) {
    PeerConfig p = base_peer();
    change(p);
    std::string d = describe_peer(p);
    EXPECT_NE(d, base) << name;
    EXPECT_TRUE(seen.insert(d).second) << name << " gives the same text as another change: " << d;
  }
}

TEST(DescribePeer, NeverContainsThePassword) {
  PeerConfig p = base_peer();
  p.password = "Zq9-very-secret";
  std::string d = describe_peer(p);
  EXPECT_EQ(d.find("Zq9"), std::string::npos) << d;
  EXPECT_EQ(d.find("secret"), std::string::npos) << d;
  EXPECT_NE(d.find(" md5=yes "), std::string::npos) << d;
  // A different password is not a different configuration to compare (no hash of it).
  PeerConfig q = p;
  q.password = "another";
  EXPECT_EQ(describe_peer(q), d);
}

TEST(DescribeGlobal, CoversIdentityGracefulRestartAndNetworks) {
  const char* text = R"(
[global]
router_id = "192.0.2.1"
local_as = 65000
[[network]]
prefix = "198.51.100.0/24"
communities = ["65000:1"]
[[network]]
prefix = "10.0.0.0/8"
med = 5
)";
  auto r = parse_config(text, "g.toml");
  ASSERT_TRUE(std::holds_alternative<Config>(r));
  const Config c = std::get<Config>(r);
  std::string d = describe_global(c);
  EXPECT_EQ(d.rfind("router_id=192.0.2.1 local_as=65000 ", 0), 0u) << d;
  EXPECT_NE(d.find("network=198.51.100.0/24[next_hop=- communities=65000:1 "), std::string::npos) << d;
  EXPECT_LT(d.find("network=10.0.0.0/8"), d.find("network=198.51.100.0/24")) << "sorted by prefix: " << d;
  EXPECT_EQ(d.find('\n'), std::string::npos);

  // Network order in the file does not matter.
  Config swapped = c;
  std::swap(swapped.networks[0], swapped.networks[1]);
  EXPECT_EQ(describe_global(swapped), d);
  // Node-local things do not count.
  Config local = c;
  local.ha.role = "primary";
  local.ha.node_id = "x";
  local.graceful_restart.marker_file = "/run/other";
  local.api.socket = "/run/other.sock";
  local.fib.enabled = true;
  EXPECT_EQ(describe_global(local), d);

  std::vector<std::pair<const char*, std::function<void(Config&)>>> changes = {
      {"router_id", [](Config& x) { x.router_id = 0xC0000063; }},
      {"local_as", [](Config& x) { x.local_as = 65001; }},
      {"port", [](Config& x) { x.port = 1179; }},
      {"gr.enabled", [](Config& x) { x.graceful_restart.enabled = false; }},
      {"gr.restart_time", [](Config& x) { x.graceful_restart.restart_time = 60; }},
      {"gr.notification", [](Config& x) { x.graceful_restart.notification = false; }},
      {"gr.stale_time", [](Config& x) { x.graceful_restart.stale_time = 10; }},
      {"gr.families", [](Config& x) { x.graceful_restart.families = {wire::kIpv4Unicast}; }},
      {"gr.forwarding_state", [](Config& x) { x.graceful_restart.forwarding_state = {}; }},
      {"gr.selection_deferral_time", [](Config& x) { x.graceful_restart.selection_deferral_time = 9; }},
      {"gr.long_lived_stale_time", [](Config& x) { x.graceful_restart.long_lived_stale_time = 99; }},
      {"bfd.desired_min_tx_ms", [](Config& x) { x.bfd.desired_min_tx_ms = 50; }},
      {"network.med", [](Config& x) { x.networks[0].med = 7; }},
      {"network.local_pref", [](Config& x) { x.networks[0].local_pref = 200; }},
      {"network.next_hop", [](Config& x) { x.networks[0].next_hop = *wire::IpAddr::parse("192.0.2.9"); }},
      {"network.communities", [](Config& x) { x.networks[1].communities.push_back(1); }},
      {"network.large", [](Config& x) { x.networks[1].large_communities.push_back({1, 2, 3}); }},
      {"network.origin", [](Config& x) { x.networks[1].origin = wire::Origin::Egp; }},
      {"network.removed", [](Config& x) { x.networks.pop_back(); }},
  };
  for (auto& [name, change] : changes) {
    Config x = c;
    change(x);
    EXPECT_NE(describe_global(x), d) << name;
  }
}

}  // namespace
}  // namespace tandem::config
