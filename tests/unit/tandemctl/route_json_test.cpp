// append_route_json (the `rib --json` fast path) against protobuf's JSON printer.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "apps/tandemctl/output.hpp"
#include "apps/tandemctl/rib.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

std::string fast(const tv1::Route& route) {
  std::string out;
  append_route_json(out, route);
  return out;
}

// Byte-for-byte, against to_json (MessageToJsonString, the former implementation).
void expect_same(const tv1::Route& route) {
  EXPECT_EQ(fast(route), to_json(route, false)) << route.DebugString();
}

tv1::Route full_route() {
  tv1::Route r;
  r.set_prefix("2001:db8:1::/48");
  r.set_family(tv1::FAMILY_IPV6_UNICAST);
  r.set_peer("2001:db8::2");
  r.set_best(true);
  r.set_eligible(true);
  auto* a = r.mutable_attributes();
  a->set_origin(tv1::ORIGIN_INCOMPLETE);
  auto* seq = a->add_as_path();
  seq->set_type(tv1::AsPathSegment::AS_SEQUENCE);
  seq->add_asns(65001);
  seq->add_asns(4294967295u);
  auto* set = a->add_as_path();
  set->set_type(tv1::AsPathSegment::AS_SET);
  set->add_asns(1);
  set->add_asns(2);
  a->add_as_path()->set_type(tv1::AsPathSegment::CONFED_SET);  // no ASNs: "asns":[]
  a->set_next_hop("2001:db8::2");
  a->set_next_hop_link_local("fe80::1");
  a->set_med(4294967295u);
  a->set_local_pref(200);
  a->set_atomic_aggregate(true);
  a->set_aggregator_as(65010);
  a->set_aggregator_address("192.0.2.9");
  a->add_communities(0xFFFFFF01);
  a->add_communities(65000u << 16 | 100);
  a->add_ext_communities(0x0002FDE800000064ULL);
  a->add_ext_communities(0xFFFFFFFFFFFFFFFFULL);
  a->add_ext_communities(0);
  auto* lc = a->add_large_communities();
  lc->set_global_admin(65000);
  lc->set_local_data1(1);
  lc->set_local_data2(4294967295u);
  a->set_originator_id("192.0.2.1");
  a->add_cluster_list("192.0.2.2");
  a->add_cluster_list("192.0.2.3");
  auto* u = a->add_unknown();
  u->set_flags(0xC0);
  u->set_type(99);
  u->set_value(std::string("\x00\x01\xff\xfe\x80", 5));
  return r;
}

// A field added to Route or PathAttributes (or below) needs append_route_json updated
// (until then it falls back to the slow printer, so the output stays right).
TEST(CtlRouteJson, EncoderKnowsTheSchema) { EXPECT_TRUE(route_json_schema_known()); }

TEST(CtlRouteJson, EveryFieldSet) { expect_same(full_route()); }

TEST(CtlRouteJson, EmptyRouteAndEmptyAttributes) {
  tv1::Route r;
  expect_same(r);  // no attributes message: "attributes" absent
  r.mutable_attributes();
  expect_same(r);  // empty attributes: every non-optional field, zero
}

TEST(CtlRouteJson, UnsetAndZeroOptionals) {
  auto r = full_route();
  auto* a = r.mutable_attributes();
  a->clear_med();
  a->clear_local_pref();
  a->clear_aggregator_as();
  expect_same(r);
  a->set_med(0);  // set to zero: printed
  expect_same(r);
  a->clear_med();
  a->set_local_pref(0);
  expect_same(r);
  a->clear_local_pref();
  a->set_aggregator_as(0);
  expect_same(r);
  a->set_med(7);
  expect_same(r);
}

TEST(CtlRouteJson, UnknownAttributesBase64EveryPadding) {
  auto r = full_route();
  auto* a = r.mutable_attributes();
  a->clear_unknown();
  std::string value;
  for (int len = 0; len < 10; ++len) {
    auto* u = a->add_unknown();
    u->set_flags(static_cast<std::uint32_t>(len));
    u->set_type(200 + static_cast<std::uint32_t>(len));
    u->set_value(value);
    value += static_cast<char>(0xF0 + len);
    expect_same(r);
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  a->add_unknown()->set_value(all);
  expect_same(r);
}

TEST(CtlRouteJson, ExtCommunitiesAs64BitStrings) {
  tv1::Route r;
  auto* a = r.mutable_attributes();
  for (std::uint64_t v : {0ULL, 1ULL, 0x0002FDE800000064ULL, 0x7FFFFFFFFFFFFFFFULL, 0x8000000000000000ULL,
                          0xFFFFFFFFFFFFFFFFULL}) {
    a->add_ext_communities(v);
  }
  expect_same(r);
  EXPECT_NE(fast(r).find("\"ext_communities\":[\"0\",\"1\","), std::string::npos);
}

TEST(CtlRouteJson, StringsNeedingEscapes) {
  std::string every_ascii;
  for (int c = 0; c < 128; ++c) every_ascii += static_cast<char>(c);
  auto r = full_route();
  r.set_prefix(every_ascii);
  r.set_peer("quote\" backslash\\ slash/ <tag> & 'x'\t\n\r\b\f\x01\x1f\x7f");
  auto* a = r.mutable_attributes();
  a->set_next_hop(every_ascii);
  a->set_next_hop_link_local("\\u0041");
  a->set_aggregator_address("</script>");
  a->set_originator_id(std::string("nul\0inside", 10));
  a->add_cluster_list(every_ascii);
  a->add_cluster_list("");
  expect_same(r);
}

TEST(CtlRouteJson, NonAsciiStringsFallBackToProtobuf) {
  auto r = full_route();
  for (const char* s : {"caf\xc3\xa9", "soft\xc2\xadhyphen", "line\xe2\x80\xa8sep", "\xef\xbb\xbf" "bom",
                        "emoji \xf0\x9f\x98\x80"}) {
    r.set_peer(s);
    expect_same(r);
    r.set_peer("192.0.2.1");
    r.mutable_attributes()->add_cluster_list(s);
    expect_same(r);
    r.mutable_attributes()->clear_cluster_list();
  }
}

TEST(CtlRouteJson, EnumValuesUnknownToTheSchemaAsNumbers) {
  auto r = full_route();
  r.set_family(static_cast<tv1::Family>(42));
  r.mutable_attributes()->set_origin(static_cast<tv1::Origin>(-3));
  r.mutable_attributes()->mutable_as_path(0)->set_type(static_cast<tv1::AsPathSegment::Type>(9));
  expect_same(r);
}

tv1::Route random_route(std::mt19937& rng) {
  auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  auto text = [&]() {
    static const std::string chars = "0123456789abcdef.:/ \"\\<>\t\x01\x7f";
    std::string s;
    const auto len = pick(12);
    for (std::uint32_t i = 0; i < len; ++i) s += chars[pick(static_cast<std::uint32_t>(chars.size()))];
    return s;
  };
  tv1::Route r;
  r.set_prefix(text());
  r.set_family(static_cast<tv1::Family>(pick(4)));
  r.set_peer(text());
  r.set_best(pick(2));
  r.set_eligible(pick(2));
  if (pick(5) == 0) return r;
  auto* a = r.mutable_attributes();
  a->set_origin(static_cast<tv1::Origin>(pick(4)));
  for (auto n = pick(4); n > 0; --n) {
    auto* seg = a->add_as_path();
    seg->set_type(static_cast<tv1::AsPathSegment::Type>(pick(6)));
    for (auto k = pick(5); k > 0; --k) seg->add_asns(static_cast<std::uint32_t>(rng()));
  }
  a->set_next_hop(text());
  a->set_next_hop_link_local(text());
  if (pick(2)) a->set_med(static_cast<std::uint32_t>(rng()));
  if (pick(2)) a->set_local_pref(pick(3) == 0 ? 0 : static_cast<std::uint32_t>(rng()));
  a->set_atomic_aggregate(pick(2));
  if (pick(2)) a->set_aggregator_as(static_cast<std::uint32_t>(rng()));
  a->set_aggregator_address(text());
  for (auto n = pick(4); n > 0; --n) a->add_communities(static_cast<std::uint32_t>(rng()));
  for (auto n = pick(4); n > 0; --n) a->add_ext_communities((std::uint64_t{rng()} << 32) | rng());
  for (auto n = pick(3); n > 0; --n) {
    auto* lc = a->add_large_communities();
    lc->set_global_admin(static_cast<std::uint32_t>(rng()));
    lc->set_local_data1(static_cast<std::uint32_t>(rng()));
    lc->set_local_data2(static_cast<std::uint32_t>(rng()));
  }
  a->set_originator_id(text());
  for (auto n = pick(3); n > 0; --n) a->add_cluster_list(text());
  for (auto n = pick(3); n > 0; --n) {
    auto* u = a->add_unknown();
    u->set_flags(pick(256));
    u->set_type(pick(256));
    std::string v;
    for (auto k = pick(9); k > 0; --k) v += static_cast<char>(rng());
    u->set_value(v);
  }
  return r;
}

TEST(CtlRouteJson, RandomRoutes) {
  std::mt19937 rng(20261121);
  for (int i = 0; i < 3000; ++i) expect_same(random_route(rng));
}

// The printer's whole --json output is what it was with to_json() per route.
TEST(CtlRouteJson, PrinterOutputUnchanged) {
  std::mt19937 rng(7);
  std::vector<tv1::ListRoutesResponse> batches(3);
  for (auto& b : batches) {
    for (int i = 0; i < 50; ++i) *b.add_routes() = random_route(rng);
  }
  std::ostringstream out;
  RoutePrinter printer(out, true);
  std::string expected;
  std::size_t n = 0;
  for (const auto& b : batches) {
    printer.add(b);
    for (const auto& r : b.routes()) expected += (n++ == 0 ? "[\n" : ",\n") + to_json(r, false);
  }
  printer.finish();
  expected += "\n]\n";
  EXPECT_EQ(out.str(), expected);
}

// Timing, not a check: run with --gtest_also_run_disabled_tests
// --gtest_filter=CtlRouteJson.DISABLED_Timing100k
TEST(CtlRouteJson, DISABLED_Timing100k) {
  std::vector<tv1::Route> routes;
  for (std::uint32_t i = 0; i < 100000; ++i) {
    auto r = full_route();
    r.set_prefix(std::to_string(10 + i % 200) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) +
                 ".0/24");
    r.set_family(tv1::FAMILY_IPV4_UNICAST);
    r.set_peer("192.0.2.1");
    auto* a = r.mutable_attributes();
    a->set_next_hop("192.0.2.1");
    a->clear_next_hop_link_local();
    a->clear_unknown();
    a->clear_cluster_list();
    a->clear_originator_id();
    routes.push_back(std::move(r));
  }
  using clock = std::chrono::steady_clock;
  std::size_t bytes = 0;
  auto t0 = clock::now();
  for (const auto& r : routes) bytes += to_json(r, false).size();
  auto t1 = clock::now();
  std::string out;
  std::size_t fast_bytes = 0;
  for (const auto& r : routes) {
    out.clear();
    append_route_json(out, r);
    fast_bytes += out.size();
  }
  auto t2 = clock::now();
  const double old_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double new_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  std::printf("100000 routes: MessageToJsonString %.1f ms (%.2f us/route), append_route_json %.1f ms (%.3f us/route), "
              "%.0fx; bytes %zu / %zu\n",
              old_ms, old_ms / 100, new_ms, new_ms / 100, old_ms / new_ms, bytes, fast_bytes);
  EXPECT_EQ(bytes, fast_bytes);
}

}  // namespace
}  // namespace tandemctl
