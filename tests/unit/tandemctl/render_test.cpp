// Table and JSON rendering from protobuf objects.
#include <gtest/gtest.h>

#include <sstream>

#include "apps/tandemctl/events.hpp"
#include "apps/tandemctl/global.hpp"
#include "apps/tandemctl/neighbor.hpp"
#include "apps/tandemctl/output.hpp"
#include "apps/tandemctl/rib.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

tv1::Peer make_peer(const std::string& address, uint32_t as, tv1::SessionState state, const std::string& desc) {
  tv1::Peer p;
  p.mutable_config()->set_address(address);
  p.mutable_config()->set_remote_as(as);
  p.mutable_config()->set_description(desc);
  p.mutable_state()->set_state(state);
  return p;
}

tv1::Route make_route(const std::string& prefix, const std::string& nh, const std::string& peer) {
  tv1::Route r;
  r.set_prefix(prefix);
  r.set_family(tv1::FAMILY_IPV4_UNICAST);
  r.set_peer(peer);
  r.set_best(true);
  r.set_eligible(true);
  auto* a = r.mutable_attributes();
  a->set_next_hop(nh);
  auto* seg = a->add_as_path();
  seg->set_type(tv1::AsPathSegment::AS_SEQUENCE);
  seg->add_asns(65001);
  seg->add_asns(65002);
  return r;
}

TEST(CtlTable, AlignsColumnsAndRightAlignsNumbers) {
  Table t({"Name", "Count", "Note"}, {false, true, false});
  t.add({"a", "1", "x"});
  t.add({"longer", "12345", ""});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(),
            "Name    Count  Note\n"
            "a           1  x\n"
            "longer  12345\n");
}

TEST(CtlTable, HeaderOnceWidthsOnlyGrow) {
  Table t({"A", "B"});
  std::ostringstream out;
  t.add({"xx", "1"});
  t.print(out);
  t.add({"x", "2"});
  t.print(out);
  EXPECT_EQ(out.str(), "A   B\nxx  1\nx   2\n");
  EXPECT_EQ(t.rows_printed(), 2u);
}

TEST(CtlNeighbors, Table) {
  tv1::ListPeersResponse r;
  auto p1 = make_peer("192.0.2.1", 65001, tv1::SESSION_STATE_ESTABLISHED, "upstream");
  p1.mutable_state()->set_uptime_seconds(3723);
  auto* c4 = p1.mutable_state()->add_prefixes();
  c4->set_family(tv1::FAMILY_IPV4_UNICAST);
  c4->set_received(10);
  c4->set_accepted(9);
  c4->set_advertised(3);
  auto* c6 = p1.mutable_state()->add_prefixes();
  c6->set_family(tv1::FAMILY_IPV6_UNICAST);
  c6->set_received(5);
  c6->set_accepted(5);
  c6->set_advertised(1);
  *r.add_peers() = p1;
  auto p2 = make_peer("2001:db8::2", 4200000000u, tv1::SESSION_STATE_ACTIVE, "");
  p2.mutable_config()->set_enabled(false);
  *r.add_peers() = p2;
  std::ostringstream out;
  render_peers(r, out);
  EXPECT_EQ(out.str(),
            "Peer                 AS  State               Up/Down  Received  Accepted  Advertised  Description\n"
            "192.0.2.1         65001  Established        01:02:03        15        14           4  upstream\n"
            "2001:db8::2  4200000000  Active (disabled)     never         0         0           0\n");
}

TEST(CtlNeighbors, EmptyList) {
  std::ostringstream out;
  render_peers(tv1::ListPeersResponse{}, out);
  EXPECT_EQ(out.str(), "No neighbors.\n");
}

TEST(CtlNeighbors, Details) {
  auto p = make_peer("192.0.2.1", 65001, tv1::SESSION_STATE_ESTABLISHED, "upstream");
  p.mutable_config()->set_hold_time(30);
  auto* s = p.mutable_state();
  s->set_uptime_seconds(90061);
  s->set_last_error("Cease / Administrative Reset");
  s->set_local_address("192.0.2.254");
  s->set_local_port(40000);
  s->set_remote_port(179);
  auto* n = s->mutable_negotiated();
  n->set_peer_as(65001);
  n->set_peer_router_id("192.0.2.1");
  n->set_hold_time(30);
  n->set_keepalive_time(10);
  n->add_families(tv1::FAMILY_IPV4_UNICAST);
  n->add_families(tv1::FAMILY_IPV6_UNICAST);
  n->set_four_octet_as(true);
  n->set_route_refresh(true);
  auto* c = s->add_prefixes();
  c->set_family(tv1::FAMILY_IPV6_UNICAST);
  c->set_received(7);
  s->mutable_messages_received()->set_update(42);
  s->mutable_messages_sent()->set_keepalive(17);
  std::ostringstream out;
  render_peer(p, out);
  const std::string text = out.str();
  for (const char* expected : {"BGP neighbor 192.0.2.1, remote AS 65001\n",
                               "  Description:             upstream\n",
                               "  Hold time:               30\n",
                               "  State:                   Established\n",
                               "  Uptime:                  1d01h01m\n",
                               "  Local endpoint:          192.0.2.254 port 40000\n",
                               "  Last error:              Cease / Administrative Reset\n",
                               "Negotiated capabilities:\n",
                               "  Families:                ipv4-unicast,ipv6-unicast\n",
                               "  Four-octet AS:           yes\n",
                               "  Extended message:        no\n",
                               "  ipv6-unicast         7         0           0\n",
                               "  Update            0        42\n",
                               "  Keepalive        17         0\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "in:\n" << text;
  }
}

TEST(CtlNeighbors, DetailsShowGracefulRestartHelperState) {
  auto p = make_peer("192.0.2.1", 65001, tv1::SESSION_STATE_ACTIVE, "");
  auto* s = p.mutable_state();
  s->set_graceful_restart_state(tv1::GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART);
  s->set_restart_timer_remaining_seconds(97);
  s->add_graceful_restart_stale_families(tv1::FAMILY_IPV4_UNICAST);
  auto* c = s->add_prefixes();
  c->set_family(tv1::FAMILY_IPV4_UNICAST);
  c->set_received(5);
  c->set_accepted(5);
  c->set_stale(5);
  std::ostringstream out;
  render_peer(p, out);
  const std::string text = out.str();
  for (const char* expected : {"  Graceful restart:        helper, waiting for the peer to restart (97 s left)\n",
                               "  Stale families:          ipv4-unicast\n", "Stale\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "in:\n" << text;
  }
  // No GR state: no such lines.
  std::ostringstream plain;
  render_peer(make_peer("192.0.2.1", 1, tv1::SESSION_STATE_IDLE, ""), plain);
  EXPECT_EQ(plain.str().find("Graceful restart:"), std::string::npos);
  EXPECT_EQ(plain.str().find("Stale"), std::string::npos);
}

TEST(CtlNeighbors, DetailsWithoutSessionHasNoCapabilities) {
  std::ostringstream out;
  render_peer(make_peer("192.0.2.1", 1, tv1::SESSION_STATE_IDLE, ""), out);
  EXPECT_EQ(out.str().find("Negotiated"), std::string::npos);
  EXPECT_NE(out.str().find("  Uptime:                  never\n"), std::string::npos);
}

TEST(CtlRoutes, TableStreamsBatches) {
  std::ostringstream out;
  RoutePrinter printer(out, false);
  tv1::ListRoutesResponse b1;
  auto r1 = make_route("10.0.0.0/8", "192.0.2.1", "192.0.2.1");
  r1.mutable_attributes()->set_med(5);
  r1.mutable_attributes()->add_communities((65000u << 16) | 1);
  auto* lc = r1.mutable_attributes()->add_large_communities();
  lc->set_global_admin(1);
  lc->set_local_data1(2);
  lc->set_local_data2(3);
  *b1.add_routes() = r1;
  printer.add(b1);
  // The first batch is on the output before the second arrives.
  EXPECT_NE(out.str().find("10.0.0.0/8"), std::string::npos);
  tv1::ListRoutesResponse b2;
  auto r2 = make_route("192.168.0.0/16", "", "");
  r2.set_best(false);
  r2.mutable_attributes()->set_local_pref(100);
  r2.mutable_attributes()->set_origin(tv1::ORIGIN_INCOMPLETE);
  r2.mutable_attributes()->clear_as_path();
  *b2.add_routes() = r2;
  printer.add(b2);
  printer.finish();
  EXPECT_EQ(printer.count(), 2u);
  EXPECT_EQ(out.str(),
            "    Prefix      Next Hop   Peer       MED  LocPrf  Origin  AS Path      Communities\n"
            "*>  10.0.0.0/8  192.0.2.1  192.0.2.1    5          igp     65001 65002  65000:1 1:2:3\n"
            "*   192.168.0.0/16  -          local              100  incomplete\n");
}

TEST(CtlRoutes, NoRoutes) {
  std::ostringstream out;
  RoutePrinter printer(out, false);
  printer.finish();
  EXPECT_EQ(out.str(), "No routes.\n");
  std::ostringstream json;
  RoutePrinter jp(json, true);
  jp.finish();
  EXPECT_EQ(json.str(), "[]\n");
}

TEST(CtlRoutes, JsonIsOneArrayOneRoutePerLine) {
  std::ostringstream out;
  RoutePrinter printer(out, true);
  tv1::ListRoutesResponse b;
  *b.add_routes() = make_route("10.0.0.0/8", "192.0.2.1", "192.0.2.1");
  *b.add_routes() = make_route("10.1.0.0/16", "192.0.2.1", "192.0.2.1");
  printer.add(b);
  printer.finish();
  const std::string s = out.str();
  EXPECT_TRUE(s.starts_with("[\n{\"prefix\":\"10.0.0.0/8\",\"family\":\"FAMILY_IPV4_UNICAST\"")) << s;
  EXPECT_NE(s.find("\"as_path\":[{\"type\":\"AS_SEQUENCE\",\"asns\":[65001,65002]}]"), std::string::npos) << s;
  EXPECT_NE(s.find("},\n{\"prefix\":\"10.1.0.0/16\""), std::string::npos) << s;
  EXPECT_TRUE(s.ends_with("}\n]\n")) << s;
}

TEST(CtlJson, PrimitiveZeroValuesAndSnakeCase) {
  tv1::Peer p = make_peer("192.0.2.1", 65001, tv1::SESSION_STATE_IDLE, "");
  auto json = to_json(p, false);
  EXPECT_NE(json.find("\"remote_as\":65001"), std::string::npos) << json;
  EXPECT_NE(json.find("\"passive\":false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\":\"SESSION_STATE_IDLE\""), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(to_json(p, true).find('\n'), std::string::npos);
}

TEST(CtlRibSummary, Table) {
  tv1::GetRibSummaryResponse r;
  auto* f4 = r.add_families();
  f4->set_family(tv1::FAMILY_IPV4_UNICAST);
  f4->set_prefixes(950000);
  f4->set_paths(1900000);
  auto* f6 = r.add_families();
  f6->set_family(tv1::FAMILY_IPV6_UNICAST);
  f6->set_prefixes(200000);
  f6->set_paths(400000);
  r.set_attribute_sets(123456);
  std::ostringstream out;
  render_rib_summary(r, out);
  EXPECT_EQ(out.str(),
            "Family        Prefixes    Paths\n"
            "ipv4-unicast    950000  1900000\n"
            "ipv6-unicast    200000   400000\n"
            "Attribute sets: 123456\n");
}

TEST(CtlGlobal, Render) {
  tv1::GetGlobalResponse r;
  r.mutable_global()->set_router_id("192.0.2.254");
  r.mutable_global()->set_local_as(65000);
  r.mutable_global()->add_listen_addresses("0.0.0.0");
  r.mutable_global()->add_listen_addresses("::");
  r.mutable_global()->set_port(179);
  r.set_version("0.1.0");
  r.set_uptime_seconds(61);
  r.set_started_unix_seconds(1700000000);
  std::ostringstream out;
  render_global(r, out);
  EXPECT_EQ(out.str(),
            "Router ID:  192.0.2.254\n"
            "Local AS:   65000\n"
            "Listen:     0.0.0.0, ::\n"
            "Port:       179\n"
            "Version:    0.1.0\n"
            "Uptime:     00:01:01 (since 2023-11-14T22:13:20.000Z)\n");
}

TEST(CtlGlobal, RenderMemory) {
  tv1::GetGlobalResponse r;
  auto* m = r.mutable_memory();
  m->set_rss_bytes(3u << 30);
  m->set_budget_bytes(2u << 30);
  m->set_over_budget(true);
  m->set_rib_prefixes(1000000);
  m->set_rib_paths(2000000);
  m->set_attribute_sets(120000);
  m->set_output_queued_bytes(512 << 10);
  std::ostringstream out;
  render_global(r, out);
  EXPECT_NE(out.str().find("Memory:     RSS 3072.0 MiB of a budget of 2048.0 MiB (OVER BUDGET); RIB 1000000 prefixes, "
                           "2000000 paths, 120000 attribute sets; 0.5 MiB queued to peers\n"),
            std::string::npos)
      << out.str();
  m->set_budget_bytes(0);
  m->set_over_budget(false);
  std::ostringstream plain;
  render_global(r, plain);
  EXPECT_NE(plain.str().find("Memory:     RSS 3072.0 MiB; RIB"), std::string::npos) << plain.str();
  m->set_unacked_output_kept_bytes(1u << 20);
  std::ostringstream ha;
  render_global(r, ha);
  EXPECT_NE(ha.str().find("0.5 MiB queued to peers, 1.0 MiB kept until acknowledged\n"), std::string::npos) << ha.str();
}

TEST(CtlGlobal, RenderMrtWriters) {
  tv1::GetGlobalResponse r;
  r.set_version("0.1.0");
  auto* u = r.add_mrt();
  u->set_name("updates");
  u->set_current_file("/var/lib/tandem/updates.20261122.0400");
  u->set_records_written(1200);
  u->set_bytes_written(64000);
  u->set_records_dropped(3);
  u->set_queue_records(2);
  auto* rib = r.add_mrt();
  rib->set_name("rib");
  rib->set_write_errors(1);
  rib->set_last_error("open /ro/rib: Read-only file system");
  std::ostringstream out;
  render_global(r, out);
  const auto text = out.str();
  EXPECT_NE(text.find("MRT:        updates: 1200 records written (64000 bytes), 3 dropped, 0 write errors, 2 queued; "
                      "file /var/lib/tandem/updates.20261122.0400\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("MRT:        rib: 0 records written (0 bytes), 0 dropped, 1 write errors, 0 queued; file -; "
                      "last error: open /ro/rib: Read-only file system\n"),
            std::string::npos)
      << text;
}

TEST(CtlEvents, Lines) {
  tv1::Event e;
  e.set_time_unix_nanos(1700000000123456789);
  auto* ps = e.mutable_peer_state();
  ps->set_address("192.0.2.1");
  ps->set_from(tv1::SESSION_STATE_OPEN_CONFIRM);
  ps->set_to(tv1::SESSION_STATE_ESTABLISHED);
  EXPECT_EQ(event_line(e), "2023-11-14T22:13:20.123Z peer 192.0.2.1 OpenConfirm -> Established");
  ps->set_to(tv1::SESSION_STATE_IDLE);
  ps->set_reason("hold timer expired");
  EXPECT_EQ(event_line(e), "2023-11-14T22:13:20.123Z peer 192.0.2.1 OpenConfirm -> Idle (hold timer expired)");

  tv1::Event b;
  b.set_time_unix_nanos(1700000000000000000);
  auto* bp = b.mutable_best_path();
  bp->set_family(tv1::FAMILY_IPV4_UNICAST);
  bp->set_prefix("10.0.0.0/8");
  *bp->mutable_best() = make_route("10.0.0.0/8", "192.0.2.1", "192.0.2.1");
  EXPECT_EQ(event_line(b),
            "2023-11-14T22:13:20.000Z best ipv4-unicast 10.0.0.0/8 via 192.0.2.1 peer 192.0.2.1 as-path [65001 65002]");
  bp->set_withdrawn(true);
  EXPECT_EQ(event_line(b), "2023-11-14T22:13:20.000Z best ipv4-unicast 10.0.0.0/8 withdrawn");
}

TEST(CtlFormat, Values) {
  EXPECT_EQ(duration_text(0), "00:00:00");
  EXPECT_EQ(duration_text(86399), "23:59:59");
  EXPECT_EQ(duration_text(86400 * 3 + 3600 * 4 + 60 * 5), "3d04h05m");
  EXPECT_EQ(community_text(0xFFFFFF01), "no-export");
  EXPECT_EQ(community_text((65000u << 16) | 7), "65000:7");
  tv1::PathAttributes a;
  auto* s1 = a.add_as_path();
  s1->set_type(tv1::AsPathSegment::CONFED_SEQUENCE);
  s1->add_asns(1);
  auto* s2 = a.add_as_path();
  s2->set_type(tv1::AsPathSegment::AS_SEQUENCE);
  s2->add_asns(2);
  auto* s3 = a.add_as_path();
  s3->set_type(tv1::AsPathSegment::AS_SET);
  s3->add_asns(3);
  s3->add_asns(4);
  EXPECT_EQ(as_path_text(a), "(1) 2 {3 4}");
}

}  // namespace
}  // namespace tandemctl
