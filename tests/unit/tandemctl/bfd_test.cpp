// `tandemctl bfd`: parsing, usage, and the table / detail rendering.
#include <gtest/gtest.h>

#include <sstream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/bfd.hpp"
#include "apps/tandemctl/cli.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

TEST(CtlBfd, Parse) {
  auto inv = parse_invocation({"bfd"}, nullptr);
  const auto* r = std::get_if<tv1::ListBfdSessionsRequest>(&inv.command);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->peer().empty());
  inv = parse_invocation({"--json", "bfd", "192.0.2.2"}, nullptr);
  r = std::get_if<tv1::ListBfdSessionsRequest>(&inv.command);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->peer(), "192.0.2.2");
  EXPECT_TRUE(inv.options.json);
  inv = parse_invocation({"bfd", "help"}, nullptr);
  ASSERT_TRUE(std::holds_alternative<Help>(inv.command));
  EXPECT_EQ(std::get<Help>(inv.command).topic, "bfd");
  EXPECT_THROW(parse_invocation({"bfd", "nonsense"}, nullptr), UsageError);
  EXPECT_THROW(parse_invocation({"bfd", "192.0.2.2", "extra"}, nullptr), UsageError);
  EXPECT_NE(usage("bfd").find("tandemctl bfd PEER"), std::string::npos);
  EXPECT_NE(usage("").find("tandemctl bfd"), std::string::npos);
}

TEST(CtlBfd, UsageErrorExitsTwo) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"bfd", "not-an-address"}, out, err, nullptr), 2);
  EXPECT_NE(err.str().find("tandemctl bfd"), std::string::npos) << err.str();
}

tv1::ListBfdSessionsResponse sample() {
  tv1::ListBfdSessionsResponse r;
  r.set_enabled(true);
  r.set_path("xdp-native");
  r.add_interfaces("eth0 (native)");
  auto* c = r.add_counters();
  c->set_name("valid");
  c->set_value(1234);
  c = r.add_counters();
  c->set_name("bad_ttl");
  c->set_value(0);
  auto* s = r.add_sessions();
  s->set_peer("192.0.2.2");
  s->set_local_discriminator(7);
  s->set_remote_discriminator(99);
  s->set_local_state("Up");
  s->set_remote_state("Up");
  s->set_local_diag("No Diagnostic");
  s->set_remote_diag("No Diagnostic");
  s->set_desired_min_tx_us(10'000);
  s->set_required_min_rx_us(10'000);
  s->set_detect_mult(3);
  s->set_tx_interval_us(10'000);
  s->set_rx_interval_us(10'000);
  s->set_detect_time_us(30'000);
  s->set_last_rx_age_ms(4);
  s->set_packets_in(500);
  s->set_packets_out(501);
  s->set_down_transitions(1);
  s->set_up_transitions(2);
  s->set_last_change_age_ms(-1);
  return r;
}

TEST(CtlBfd, Table) {
  std::ostringstream out;
  render_bfd(sample(), false, out);
  const std::string t = out.str();
  EXPECT_NE(t.find("Receive path: xdp-native on eth0 (native)"), std::string::npos) << t;
  EXPECT_NE(t.find("Peer"), std::string::npos) << t;
  EXPECT_NE(t.find("Detect ms"), std::string::npos) << t;
  EXPECT_NE(t.find("192.0.2.2"), std::string::npos) << t;
  EXPECT_NE(t.find("4 ms"), std::string::npos) << t;
  EXPECT_NE(t.find("30"), std::string::npos) << t;
  EXPECT_NE(t.find("Transmit path: user-space"), std::string::npos) << t;
}

TEST(CtlBfd, KernelReplies) {
  auto r = sample();
  r.add_reply_interfaces("eth0");
  r.mutable_sessions(0)->set_packets_out_kernel(480);
  r.mutable_sessions(0)->set_kernel_replies(true);
  std::ostringstream table, detail;
  render_bfd(r, false, table);
  render_bfd(r, true, detail);
  EXPECT_NE(table.str().find("Transmit path: XDP program answers in steady state on eth0, user-space otherwise"),
            std::string::npos) << table.str();
  EXPECT_NE(detail.str().find("500 in, 501 out (480 by the XDP program, answering now)"), std::string::npos)
      << detail.str();
}

TEST(CtlBfd, Detail) {
  std::ostringstream out;
  render_bfd(sample(), true, out);
  const std::string t = out.str();
  EXPECT_NE(t.find("local 7, remote 99"), std::string::npos) << t;
  EXPECT_NE(t.find("tx 10 ms, rx 10 ms, detect time 30 ms"), std::string::npos) << t;
  EXPECT_NE(t.find("500 in, 501 out (0 by the XDP program)"), std::string::npos) << t;
  EXPECT_NE(t.find("valid 1234"), std::string::npos) << t;
  EXPECT_EQ(t.find("bad_ttl"), std::string::npos) << "zero counters are left out:\n" << t;
  EXPECT_NE(t.find("last change never"), std::string::npos) << t;
}

TEST(CtlBfd, Disabled) {
  std::ostringstream out;
  render_bfd(tv1::ListBfdSessionsResponse{}, false, out);
  EXPECT_EQ(out.str(), "BFD is disabled ([bfd] enabled = false)\n");
}

}  // namespace
}  // namespace tandemctl
