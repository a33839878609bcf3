// The API's routes mirrored on the standby: a bulk sync gives the standby exactly the
// primary's API routes (dropping its others), live changes follow, the attributes and
// the RIB's routes come out equal.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "replicator/api_routes.hpp"

namespace tandem::replicator {
namespace {

wire::Prefix P(const char* s) { return *wire::Prefix::parse(s); }

config::Config node_config() {
  config::Config c;
  c.file = "test";
  c.router_id = wire::IpAddr::parse("192.0.2.1")->v4_host_order();
  c.local_as = 65001;
  return c;
}

wire::PathAttributes attrs(uint32_t med, const char* next_hop) {
  wire::PathAttributes a;
  a.origin = wire::Origin::Igp;
  a.has_origin = true;
  a.has_as_path = true;
  a.as_path.segments.push_back(wire::AsPathSegment{wire::AsPathSegment::Sequence, {65010, 65011}});
  a.next_hop = wire::IpAddr::parse(next_hop);
  a.med = med;
  a.communities = {(65001u << 16) | 7};
  a.large_communities = {wire::LargeCommunity{65001, 1, 2}};
  return a;
}

size_t best_count(const session::Speaker& s, wire::Family f) {
  size_t n = 0;
  s.rib().for_each_best(f, [&](const wire::Prefix&, const rib::PathView&) { ++n; });
  return n;
}

struct ApiRoutesTest : ::testing::Test {
  boost::asio::io_context io;
  session::Speaker primary{io, node_config()};
  session::Speaker standby{io, node_config()};
  ApiRouteMirror mirror{standby};
  bool connected = false;
  size_t changes_sent = 0;

  void SetUp() override {
    // What the primary replicator does: each change goes over the channel while a
    // standby is attached.
    primary.set_api_route_listener([this](std::span<const wire::Prefix> ps, const wire::PathAttributes* a) {
      if (!connected) return;
      std::string why;
      EXPECT_TRUE(mirror.apply(api_routes_change(ps, a), why)) << why;
      ++changes_sent;
    });
  }
  void bulk_sync(size_t per_message) {
    connected = true;
    std::optional<wire::Prefix> after;
    for (bool done = false; !done;) {
      std::string why;
      ASSERT_TRUE(mirror.apply(api_routes_chunk(primary.api_routes(), after, per_message, done), why)) << why;
    }
  }
};

TEST_F(ApiRoutesTest, BulkSyncThenChangesGiveTheStandbyThePrimarysRoutes) {
  std::vector<wire::Prefix> many;
  for (int i = 0; i < 10; ++i) many.push_back(P(("10.1." + std::to_string(i) + ".0/24").c_str()));
  primary.originate_api(many, attrs(5, "192.0.2.10"));
  primary.originate_api(P("2001:db8:5::/48"), attrs(6, "2001:db8::10"));
  standby.originate_api(P("10.99.0.0/24"), attrs(1, "192.0.2.99"));  // not the primary's: dropped

  bulk_sync(4);  // several messages
  EXPECT_EQ(standby.api_routes(), primary.api_routes());
  EXPECT_EQ(best_count(standby, wire::kIpv4Unicast), 10u);
  EXPECT_EQ(best_count(standby, wire::kIpv6Unicast), 1u);

  primary.withdraw_api(P("10.1.3.0/24"));
  primary.originate_api(P("10.2.0.0/16"), attrs(9, "192.0.2.11"));
  EXPECT_EQ(changes_sent, 2u);
  EXPECT_EQ(standby.api_routes(), primary.api_routes());
  EXPECT_EQ(best_count(standby, wire::kIpv4Unicast), 10u);
}

TEST_F(ApiRoutesTest, ChangesWhileDisconnectedAreCaughtUpByTheNextBulkSync) {
  primary.originate_api(P("10.1.0.0/24"), attrs(5, "192.0.2.10"));
  primary.originate_api(P("10.1.1.0/24"), attrs(5, "192.0.2.10"));
  bulk_sync(4000);
  connected = false;  // the channel goes down
  primary.withdraw_api(P("10.1.0.0/24"));
  primary.originate_api(P("10.1.1.0/24"), attrs(7, "192.0.2.10"));  // new attributes
  EXPECT_NE(standby.api_routes(), primary.api_routes());
  bulk_sync(4000);
  EXPECT_EQ(standby.api_routes(), primary.api_routes());
  EXPECT_EQ(best_count(standby, wire::kIpv4Unicast), 1u);
}

TEST_F(ApiRoutesTest, AnEmptyBulkSyncDropsEverything) {
  standby.originate_api(P("10.99.0.0/24"), attrs(1, "192.0.2.99"));
  bulk_sync(4000);
  EXPECT_TRUE(standby.api_routes().empty());
  EXPECT_EQ(best_count(standby, wire::kIpv4Unicast), 0u);
}

TEST(ApiRoutesChunk, ConsecutiveEqualAttributesShareOneSet) {
  std::map<wire::Prefix, wire::PathAttributes> routes;
  for (int i = 0; i < 5; ++i) routes[P(("10.1." + std::to_string(i) + ".0/24").c_str())] = attrs(5, "192.0.2.10");
  routes[P("10.9.0.0/24")] = attrs(6, "192.0.2.10");
  std::optional<wire::Prefix> after;
  bool done = false;
  auto m = api_routes_chunk(routes, after, 4000, done);
  EXPECT_TRUE(done && m.sync_begin() && m.sync_end());
  ASSERT_EQ(m.announce_size(), 2);
  EXPECT_EQ(m.announce(0).prefixes_size(), 5);
  EXPECT_EQ(m.announce(1).prefixes_size(), 1);
}

TEST(ApiRoutesChunk, StepsResumeAfterTheLastPrefixEvenIfItWasWithdrawn) {
  std::map<wire::Prefix, wire::PathAttributes> routes;
  for (int i = 0; i < 5; ++i) routes[P(("10.1." + std::to_string(i) + ".0/24").c_str())] = attrs(5, "192.0.2.10");
  std::optional<wire::Prefix> after;
  bool done = false;
  auto m = api_routes_chunk(routes, after, 2, done);
  EXPECT_TRUE(m.sync_begin() && !m.sync_end() && !done);
  EXPECT_EQ(*after, P("10.1.1.0/24"));
  routes.erase(P("10.1.1.0/24"));  // withdrawn between two steps
  m = api_routes_chunk(routes, after, 2, done);
  EXPECT_FALSE(m.sync_begin() || done);
  ASSERT_EQ(m.announce_size(), 1);
  EXPECT_EQ(m.announce(0).prefixes(0), "10.1.2.0/24");
  m = api_routes_chunk(routes, after, 2, done);
  EXPECT_TRUE(done && m.sync_end());
  EXPECT_EQ(m.announce(0).prefixes_size(), 1);

  std::map<wire::Prefix, wire::PathAttributes> none;
  after.reset();
  m = api_routes_chunk(none, after, 2, done);
  EXPECT_TRUE(done && m.sync_begin() && m.sync_end() && m.announce_size() == 0);
}

TEST_F(ApiRoutesTest, APrefixThatDoesNotParseIsReportedAndTheRestApplied) {
  repl::ApiRoutes m = api_routes_change(std::vector<wire::Prefix>{P("10.1.0.0/24")}, nullptr);
  m.add_withdraw("not a prefix");
  auto* set = m.add_announce();
  set->add_prefixes("10.5.0.0/24");
  set->add_prefixes("10.5.0.0/99");
  std::string why;
  EXPECT_FALSE(mirror.apply(m, why));
  EXPECT_NE(why.find("2 prefixes do not parse"), std::string::npos) << why;
  EXPECT_EQ(standby.api_routes().size(), 1u);
  EXPECT_TRUE(standby.api_routes().count(P("10.5.0.0/24")));
}

}  // namespace
}  // namespace tandem::replicator
