// The exposition text for a fixed snapshot, byte for byte: HELP/TYPE lines, label
// order, label escaping, number formatting.
#include "apps/tandemd/metrics_render.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tandem::app {
namespace {

MetricsSnapshot two_peers() {
  MetricsSnapshot s;
  PeerMetrics a;
  a.address = "192.0.2.2";
  a.remote_as = 4200000100;
  a.description = "frr \"core\" \\ rack\n2";
  a.state = fsm::State::Established;
  a.uptime_seconds = 3600.5;
  a.prefixes_received = 10000;
  a.prefixes_accepted = 9999;
  a.prefixes_advertised = 150;
  a.messages_received = 123;
  a.messages_sent = 45;
  a.updates_received = 100;
  a.updates_sent = 20;
  s.peers.push_back(a);
  PeerMetrics b;
  b.address = "2001:db8::3";
  b.remote_as = 64512;
  b.enabled = false;
  b.state = fsm::State::Idle;
  s.peers.push_back(b);
  s.rib = {{"ipv4-unicast", 10150}, {"ipv6-unicast", 0}};
  s.attribute_sets = 42;
  s.connections_refused = 1005;
  ProcessMetrics p;
  p.cpu_seconds = 1.25;
  p.resident_memory_bytes = 10485760;
  p.virtual_memory_bytes = 104857600;
  p.start_time_seconds = 1700000000.5;
  p.open_fds = 17;
  p.max_fds = 1024;
  s.process = p;
  return s;
}

TEST(MetricsRender, ExactOutputForTwoPeers) {
  const std::string a = R"({peer="192.0.2.2",remote_as="4200000100",description="frr \"core\" \\ rack\n2"})";
  const std::string b = R"({peer="2001:db8::3",remote_as="64512",description=""})";
  const std::string expected =
      "# HELP tandem_peer_state BGP session state: 0 disabled, 1 Idle, 2 Connect, 3 Active, 4 OpenSent, "
      "5 OpenConfirm, 6 Established.\n"
      "# TYPE tandem_peer_state gauge\n"
      "tandem_peer_state" + a + " 6\n"
      "tandem_peer_state" + b + " 0\n"
      "# HELP tandem_peer_up 1 if the BGP session is Established, else 0.\n"
      "# TYPE tandem_peer_up gauge\n"
      "tandem_peer_up" + a + " 1\n"
      "tandem_peer_up" + b + " 0\n"
      "# HELP tandem_peer_uptime_seconds Seconds since the session reached Established (0 when it is not "
      "Established).\n"
      "# TYPE tandem_peer_uptime_seconds gauge\n"
      "tandem_peer_uptime_seconds" + a + " 3600.5\n"
      "tandem_peer_uptime_seconds" + b + " 0\n"
      "# HELP tandem_peer_prefixes_received Prefixes in the peer's Adj-RIB-In (all address families).\n"
      "# TYPE tandem_peer_prefixes_received gauge\n"
      "tandem_peer_prefixes_received" + a + " 10000\n"
      "tandem_peer_prefixes_received" + b + " 0\n"
      "# HELP tandem_peer_prefixes_accepted Prefixes from the peer eligible for best-path selection (all "
      "address families).\n"
      "# TYPE tandem_peer_prefixes_accepted gauge\n"
      "tandem_peer_prefixes_accepted" + a + " 9999\n"
      "tandem_peer_prefixes_accepted" + b + " 0\n"
      "# HELP tandem_peer_prefixes_advertised Prefixes in the peer's Adj-RIB-Out (all address families).\n"
      "# TYPE tandem_peer_prefixes_advertised gauge\n"
      "tandem_peer_prefixes_advertised" + a + " 150\n"
      "tandem_peer_prefixes_advertised" + b + " 0\n"
      "# HELP tandem_peer_messages_received_total BGP messages received from the peer.\n"
      "# TYPE tandem_peer_messages_received_total counter\n"
      "tandem_peer_messages_received_total" + a + " 123\n"
      "tandem_peer_messages_received_total" + b + " 0\n"
      "# HELP tandem_peer_messages_sent_total BGP messages sent to the peer.\n"
      "# TYPE tandem_peer_messages_sent_total counter\n"
      "tandem_peer_messages_sent_total" + a + " 45\n"
      "tandem_peer_messages_sent_total" + b + " 0\n"
      "# HELP tandem_peer_updates_received_total UPDATE messages received from the peer.\n"
      "# TYPE tandem_peer_updates_received_total counter\n"
      "tandem_peer_updates_received_total" + a + " 100\n"
      "tandem_peer_updates_received_total" + b + " 0\n"
      "# HELP tandem_peer_updates_sent_total UPDATE messages sent to the peer.\n"
      "# TYPE tandem_peer_updates_sent_total counter\n"
      "tandem_peer_updates_sent_total" + a + " 20\n"
      "tandem_peer_updates_sent_total" + b + " 0\n"
      "# HELP tandem_rib_prefixes Prefixes with a best path in the Loc-RIB.\n"
      "# TYPE tandem_rib_prefixes gauge\n"
      "tandem_rib_prefixes{family=\"ipv4-unicast\"} 10150\n"
      "tandem_rib_prefixes{family=\"ipv6-unicast\"} 0\n"
      "# HELP tandem_rib_attribute_sets Distinct interned path attribute sets.\n"
      "# TYPE tandem_rib_attribute_sets gauge\n"
      "tandem_rib_attribute_sets 42\n"
      "# HELP tandem_connections_refused_total TCP connections refused at accept (not a configured peer, or "
      "shutting down) since tandemd started.\n"
      "# TYPE tandem_connections_refused_total counter\n"
      "tandem_connections_refused_total 1005\n"
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total 1.25\n"
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes 10485760\n"
      "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
      "# TYPE process_virtual_memory_bytes gauge\n"
      "process_virtual_memory_bytes 104857600\n"
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
      "# TYPE process_start_time_seconds gauge\n"
      "process_start_time_seconds 1700000000.5\n"
      "# HELP process_open_fds Number of open file descriptors.\n"
      "# TYPE process_open_fds gauge\n"
      "process_open_fds 17\n"
      "# HELP process_max_fds Maximum number of open file descriptors.\n"
      "# TYPE process_max_fds gauge\n"
      "process_max_fds 1024\n";
  EXPECT_EQ(render_metrics(two_peers()), expected);
}

TEST(MetricsRender, NoPeersStillDeclaresEveryFamily) {
  MetricsSnapshot s;
  s.rib = {{"ipv4-unicast", 0}, {"ipv6-unicast", 0}};
  std::string text = render_metrics(s);
  EXPECT_NE(text.find("# TYPE tandem_peer_up gauge\n# HELP tandem_peer_uptime_seconds"), std::string::npos);
  EXPECT_NE(text.find("\ntandem_rib_attribute_sets 0\n"), std::string::npos);
  EXPECT_NE(text.find("\n# TYPE tandem_connections_refused_total counter\ntandem_connections_refused_total 0\n"),
            std::string::npos);
  EXPECT_EQ(text.find("process_"), std::string::npos);  // no /proc snapshot: no process metrics
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsRender, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("a\nb"), "a\\nb");
  EXPECT_EQ(escape_label_value("ünïcode\tstays"), "ünïcode\tstays");
}

TEST(MetricsRender, StateValues) {
  EXPECT_EQ(peer_state_value(false, fsm::State::Established), 0);
  EXPECT_EQ(peer_state_value(true, fsm::State::Idle), 1);
  EXPECT_EQ(peer_state_value(true, fsm::State::Connect), 2);
  EXPECT_EQ(peer_state_value(true, fsm::State::Active), 3);
  EXPECT_EQ(peer_state_value(true, fsm::State::OpenSent), 4);
  EXPECT_EQ(peer_state_value(true, fsm::State::OpenConfirm), 5);
  EXPECT_EQ(peer_state_value(true, fsm::State::Established), 6);
}

TEST(MetricsRender, SpecialFloats) {
  MetricsSnapshot s;
  PeerMetrics p;
  p.address = "192.0.2.9";
  p.uptime_seconds = std::numeric_limits<double>::quiet_NaN();
  s.peers.push_back(p);
  ProcessMetrics pm;
  pm.cpu_seconds = std::numeric_limits<double>::infinity();
  s.process = pm;
  std::string text = render_metrics(s);
  EXPECT_NE(text.find("description=\"\"} NaN\n"), std::string::npos);
  EXPECT_NE(text.find("process_cpu_seconds_total +Inf\n"), std::string::npos);
}

}  // namespace
}  // namespace tandem::app
