// `tandemctl ha` and `tandemctl ha digests`: parsing, usage, the status and digest
// tables, and --json, from canned responses.
#include <gtest/gtest.h>

#include <sstream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/cli.hpp"
#include "apps/tandemctl/ha.hpp"
#include "apps/tandemctl/output.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

constexpr std::uint64_t kNowUs = 1'700'000'000'000'000ULL;

TEST(CtlHa, Parse) {
  auto inv = parse_invocation({"ha"}, nullptr);
  EXPECT_TRUE(std::holds_alternative<tv1::GetHaStatusRequest>(inv.command));
  inv = parse_invocation({"ha", "status", "--json"}, nullptr);
  EXPECT_TRUE(std::holds_alternative<tv1::GetHaStatusRequest>(inv.command));
  EXPECT_TRUE(inv.options.json);
  inv = parse_invocation({"ha", "digests"}, nullptr);
  const auto* d = std::get_if<tv1::GetTableDigestsRequest>(&inv.command);
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->peer().empty());
  inv = parse_invocation({"--json", "ha", "digests", "--peer", "2001:db8::2"}, nullptr);
  d = std::get_if<tv1::GetTableDigestsRequest>(&inv.command);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->peer(), "2001:db8::2");
  inv = parse_invocation({"ha", "help"}, nullptr);
  ASSERT_TRUE(std::holds_alternative<Help>(inv.command));
  EXPECT_EQ(std::get<Help>(inv.command).topic, "ha");
  inv = parse_invocation({"help", "ha"}, nullptr);
  EXPECT_EQ(std::get<Help>(inv.command).topic, "ha");
  inv = parse_invocation({"ha", "switchover"}, nullptr);
  EXPECT_TRUE(std::holds_alternative<tv1::SwitchoverRequest>(inv.command));
  EXPECT_THROW(parse_invocation({"ha", "switchover", "now"}, nullptr), UsageError);
  EXPECT_NE(usage("ha").find("tandemctl ha switchover"), std::string::npos);
  EXPECT_THROW(parse_invocation({"ha", "nonsense"}, nullptr), UsageError);
  EXPECT_THROW(parse_invocation({"ha", "status", "extra"}, nullptr), UsageError);
  EXPECT_THROW(parse_invocation({"ha", "digests", "--peer"}, nullptr), UsageError);
  EXPECT_THROW(parse_invocation({"ha", "digests", "--peer", "x"}, nullptr), UsageError);
  EXPECT_THROW(parse_invocation({"ha", "digests", "--peer", "192.0.2.2", "--peer", "192.0.2.3"}, nullptr), UsageError);
  EXPECT_NE(usage("ha").find("tandemctl ha digests [--peer ADDR]"), std::string::npos);
  EXPECT_NE(usage("").find("tandemctl ha digests"), std::string::npos);
}

TEST(CtlHa, UsageErrorExitsTwo) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"ha", "digests", "--bogus"}, out, err, nullptr), 2);
  EXPECT_NE(err.str().find("tandemctl ha digests"), std::string::npos) << err.str();
}

TEST(CtlHa, UnreachableDaemonExitsOne) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"--socket", "/nonexistent/tandemd.sock", "ha"}, out, err, nullptr), 1);
  EXPECT_NE(err.str().find("cannot reach tandemd"), std::string::npos) << err.str();
}

tv1::HaStatus sample() {
  tv1::HaStatus st;
  st.set_role("primary");
  st.set_node_id("node-a");
  st.set_epoch(3);
  st.set_peer_node("node-b");
  st.set_peer_address("10.0.0.2:1790");
  st.set_channel_state("in-sync");
  st.set_channel_ups(2);
  st.set_frames_in(48210);
  st.set_frames_out(51377);
  st.set_bytes_in(1204117);
  st.set_bytes_out(90412733);
  st.set_snapshots(2);
  st.set_last_snapshot_ms(812);
  st.set_last_snapshot_routes(950000);
  st.set_max_stall_us(4100);
  auto* s = st.add_sessions();
  s->set_peer("192.0.2.2");
  s->set_sync_state("in-sync");
  s->set_estimated_window(65535);
  s->set_has_checkpoint(true);
  s->set_snd_una(1000000000);
  s->set_snd_nxt(1000000019);
  s->set_rcv_nxt(2000000000);
  s->set_checkpoint_time_us(kNowUs - 120'000);
  s->set_outbound_differences(1);
  s->set_outbound_compared(40);
  s = st.add_sessions();
  s->set_peer("192.0.2.3");
  s->set_sync_state("lagging");
  s->set_lag_bytes(4096);
  s->set_lag_us(1500);
  s->set_standby_queued(77);
  s->set_estimated_window(61439);
  s->set_window_clamp(61439);
  return st;
}

TEST(CtlHa, StatusAndSessionTable) {
  std::ostringstream out;
  render_ha(sample(), kNowUs, out);
  const std::string t = out.str();
  EXPECT_NE(t.find("Role:                 primary\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Node:                 node-a (epoch 3)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Peer node:            node-b at 10.0.0.2:1790\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Channel:              in-sync (up 2 times)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Last error:           -\n"), std::string::npos) << t;
  EXPECT_NE(t.find("48210 in, 51377 out"), std::string::npos) << t;
  EXPECT_NE(t.find("2, last 812 ms with 950000 routes, longest loop stall 4100 us"), std::string::npos) << t;
  // The session table: header, then one row each, columns aligned.
  const auto header = t.find("Peer       Sync     Lag bytes  Lag us  Standby queued  Window  Clamp");
  ASSERT_NE(header, std::string::npos) << t;
  EXPECT_NE(t.find("snd_una     snd_nxt     rcv_nxt  Checkpoint  Out diffs"), std::string::npos) << t;
  EXPECT_NE(t.find("192.0.2.2  in-sync          0       0               0   65535      -  1000000000  1000000019  "
                   "2000000000      120 ms       1/40\n"),
            std::string::npos)
      << t;
  // No checkpoint yet: sequence numbers and age are "-"; a clamp shows its value.
  EXPECT_NE(t.find("192.0.2.3  lagging       4096    1500              77   61439  61439           -           -  "
                   "         -           -        0/0\n"),
            std::string::npos)
      << t;
}

TEST(CtlHa, NotConfigured) {
  tv1::HaStatus st;
  st.set_role("none");
  st.set_channel_state("disabled");
  std::ostringstream out;
  render_ha(st, kNowUs, out);
  EXPECT_EQ(out.str(), "Replication is not configured (no [ha] section)\n");
}

TEST(CtlHa, NoSessions) {
  auto st = sample();
  st.clear_sessions();
  std::ostringstream out;
  render_ha(st, kNowUs, out);
  EXPECT_NE(out.str().find("No replicated sessions\n"), std::string::npos) << out.str();
}

tv1::GetTableDigestsResponse digests() {
  tv1::GetTableDigestsResponse r;
  auto* p = r.add_peers();
  p->set_peer("192.0.2.2");
  p->set_family(tv1::FAMILY_IPV4_UNICAST);
  p->mutable_adj_rib_in()->set_digest("5a0c3e8f7d12b6a4");
  p->mutable_adj_rib_in()->set_routes(950000);
  p->mutable_adj_rib_out()->set_digest("0f4e2d1c9b8a7766");
  p->mutable_adj_rib_out()->set_routes(3);
  auto* l = r.add_loc_rib();
  l->set_family(tv1::FAMILY_IPV4_UNICAST);
  l->mutable_loc_rib()->set_digest("c1d2e3f405162738");
  l->mutable_loc_rib()->set_routes(950003);
  l = r.add_loc_rib();
  l->set_family(tv1::FAMILY_IPV6_UNICAST);
  l->mutable_loc_rib()->set_digest("0000000000000000");
  return r;
}

TEST(CtlHa, DigestTable) {
  std::ostringstream out;
  render_digests(digests(), out);
  EXPECT_EQ(out.str(),
            "Peer       Family        Table        Routes  Digest\n"
            "192.0.2.2  ipv4-unicast  adj-rib-in   950000  5a0c3e8f7d12b6a4\n"
            "192.0.2.2  ipv4-unicast  adj-rib-out       3  0f4e2d1c9b8a7766\n"
            "-          ipv4-unicast  loc-rib      950003  c1d2e3f405162738\n"
            "-          ipv6-unicast  loc-rib           0  0000000000000000\n");
  std::ostringstream none;
  render_digests(tv1::GetTableDigestsResponse{}, none);
  EXPECT_EQ(none.str(), "No tables\n");
}

// --json prints the response as protobuf JSON (what execute() writes).
TEST(CtlHa, Json) {
  const std::string s = to_json(sample(), true);
  EXPECT_NE(s.find("\"role\": \"primary\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"bytes_out\": \"90412733\""), std::string::npos) << s;  // 64-bit: a string
  EXPECT_NE(s.find("\"estimated_window\": 61439"), std::string::npos) << s;
  EXPECT_NE(s.find("\"has_checkpoint\": false"), std::string::npos) << s;  // zero values included
  const std::string d = to_json(digests(), false);
  EXPECT_NE(d.find("\"family\":\"FAMILY_IPV6_UNICAST\""), std::string::npos) << d;
  EXPECT_NE(d.find("\"adj_rib_out\":{\"digest\":\"0f4e2d1c9b8a7766\",\"routes\":\"3\"}"), std::string::npos) << d;
}

}  // namespace
}  // namespace tandemctl
