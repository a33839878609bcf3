// Request validation: every INVALID_ARGUMENT case, and the message names the field.
#include <gtest/gtest.h>

#include "api/validate.hpp"

namespace {

namespace v1 = tandem::v1;
using tandem::api::validate;

// The message must mention `needle`.
#define EXPECT_INVALID(req, needle)                                               \
  do {                                                                            \
    std::string m_ = validate(req);                                               \
    EXPECT_FALSE(m_.empty()) << "accepted but should not be";                     \
    EXPECT_NE(m_.find(needle), std::string::npos) << "message: " << m_;           \
  } while (0)

v1::AddPeerRequest good_peer() {
  v1::AddPeerRequest r;
  r.mutable_peer()->set_address("192.0.2.2");
  r.mutable_peer()->set_remote_as(65001);
  return r;
}

TEST(Validate, AddPeer) {
  EXPECT_EQ(validate(good_peer()), "");
  v1::AddPeerRequest r;
  EXPECT_INVALID(r, "peer: missing");
  r = good_peer();
  r.mutable_peer()->set_address("");
  EXPECT_INVALID(r, "peer.address: missing");
  r.mutable_peer()->set_address("192.0.2.300");
  EXPECT_INVALID(r, "peer.address: '192.0.2.300' is not");
  r = good_peer();
  r.mutable_peer()->set_remote_as(0);
  EXPECT_INVALID(r, "peer.remote_as");
  r = good_peer();
  r.mutable_peer()->set_local_address("x");
  EXPECT_INVALID(r, "peer.local_address");
  r.mutable_peer()->set_local_address("2001:db8::1");
  EXPECT_INVALID(r, "same family");
  r = good_peer();
  r.mutable_peer()->set_hold_time(2);
  EXPECT_INVALID(r, "peer.hold_time: must be 0 or at least 3");
  r.mutable_peer()->set_hold_time(70000);
  EXPECT_INVALID(r, "peer.hold_time: must be between 0 and 65535");
  r.mutable_peer()->set_hold_time(0);
  EXPECT_EQ(validate(r), "");
  r = good_peer();
  r.mutable_peer()->set_connect_retry(0);
  EXPECT_INVALID(r, "peer.connect_retry");
  r = good_peer();
  r.mutable_peer()->add_families(v1::FAMILY_UNSPECIFIED);
  EXPECT_INVALID(r, "peer.families[0]: FAMILY_UNSPECIFIED");
  r = good_peer();
  r.mutable_peer()->add_families(static_cast<v1::Family>(42));
  EXPECT_INVALID(r, "peer.families[0]: unknown family value 42");
  r = good_peer();
  r.mutable_peer()->add_families(v1::FAMILY_IPV4_UNICAST);
  r.mutable_peer()->add_families(v1::FAMILY_IPV4_UNICAST);
  EXPECT_INVALID(r, "peer.families[1]: FAMILY_IPV4_UNICAST listed twice");
  r = good_peer();
  r.mutable_peer()->set_port(0);
  EXPECT_INVALID(r, "peer.port");
  r.mutable_peer()->set_port(65536);
  EXPECT_INVALID(r, "peer.port");
}

TEST(Validate, ResetPeer) {
  v1::ResetPeerRequest r;
  EXPECT_INVALID(r, "address: missing");
  r.set_address("192.0.2.2");
  EXPECT_EQ(validate(r), "");
  r.set_kind(static_cast<v1::ResetPeerRequest::Kind>(9));
  EXPECT_INVALID(r, "kind: unknown value 9");
  r.set_kind(v1::ResetPeerRequest::KIND_SOFT_IN);
  r.set_family(static_cast<v1::Family>(7));
  EXPECT_INVALID(r, "family: unknown family value 7");
  EXPECT_EQ(tandem::api::validate_address("address", "::1"), "");
}

TEST(Validate, SetGlobal) {
  v1::SetGlobalRequest r;
  EXPECT_INVALID(r, "update_fields: name at least one");
  r.add_update_fields("hostname");
  EXPECT_INVALID(r, "update_fields: unknown field 'hostname'");
  r.clear_update_fields();
  r.add_update_fields("port");
  r.add_update_fields("port");
  EXPECT_INVALID(r, "'port' listed twice");
  r.clear_update_fields();
  r.add_update_fields("router_id");
  r.mutable_global()->set_router_id("2001:db8::1");
  EXPECT_INVALID(r, "global.router_id");
  r.mutable_global()->set_router_id("0.0.0.0");
  EXPECT_INVALID(r, "global.router_id");
  r.mutable_global()->set_router_id("192.0.2.1");
  EXPECT_EQ(validate(r), "");
  r.add_update_fields("local_as");
  EXPECT_INVALID(r, "global.local_as");
  r.mutable_global()->set_local_as(65000);
  r.add_update_fields("port");
  EXPECT_INVALID(r, "global.port");
  r.mutable_global()->set_port(1179);
  r.add_update_fields("listen_addresses");
  r.mutable_global()->add_listen_addresses("0.0.0.0");
  r.mutable_global()->add_listen_addresses("nope");
  EXPECT_INVALID(r, "global.listen_addresses[1]");
  r.mutable_global()->set_listen_addresses(1, "0.0.0.0");
  EXPECT_INVALID(r, "listed twice");
  r.mutable_global()->set_listen_addresses(1, "::");
  EXPECT_EQ(validate(r), "");
}

TEST(Validate, ListRoutes) {
  v1::ListRoutesRequest r;
  EXPECT_EQ(validate(r), "");
  r.set_table(static_cast<v1::Table>(5));
  EXPECT_INVALID(r, "table: unknown value 5");
  r.set_table(v1::TABLE_ADJ_RIB_OUT);
  EXPECT_INVALID(r, "peer: required for TABLE_ADJ_RIB_OUT");
  r.set_peer("bad");
  EXPECT_INVALID(r, "peer: 'bad'");
  r.set_peer("192.0.2.2");
  EXPECT_EQ(validate(r), "");
  r.set_best_only(true);
  EXPECT_INVALID(r, "best_only");
  r = {};
  r.set_family(static_cast<v1::Family>(3));
  EXPECT_INVALID(r, "family: unknown family value 3");
  r = {};
  r.mutable_prefix_filter()->set_prefix("");
  EXPECT_INVALID(r, "prefix_filter.prefix: missing");
  r.mutable_prefix_filter()->set_prefix("10.0.0.0/33");
  EXPECT_INVALID(r, "prefix_filter.prefix: '10.0.0.0/33' is not a prefix");
  r.mutable_prefix_filter()->set_prefix("2001:db8::/32");
  EXPECT_INVALID(r, "is not of family FAMILY_IPV4_UNICAST");
  r.set_family(v1::FAMILY_IPV6_UNICAST);
  EXPECT_EQ(validate(r), "");
  r.mutable_prefix_filter()->set_match(static_cast<v1::PrefixFilter::Match>(8));
  EXPECT_INVALID(r, "prefix_filter.match: unknown value 8");
  r = {};
  r.set_batch_size(tandem::api::kMaxBatchSize + 1);
  EXPECT_INVALID(r, "batch_size: must be at most");
}

v1::AddRouteRequest good_route() {
  v1::AddRouteRequest r;
  r.set_prefix("198.51.100.0/24");
  r.mutable_attributes()->set_next_hop("192.0.2.1");
  return r;
}

TEST(Validate, AddRoute) {
  EXPECT_EQ(validate(good_route()), "");
  v1::AddRouteRequest r;
  EXPECT_INVALID(r, "prefix: missing");
  r.set_prefix("198.51.100.0");
  EXPECT_INVALID(r, "prefix: '198.51.100.0' is not a prefix");
  r = good_route();
  r.mutable_attributes()->set_origin(static_cast<v1::Origin>(4));
  EXPECT_INVALID(r, "attributes.origin: unknown value 4");
  r = good_route();
  r.mutable_attributes()->add_as_path();
  EXPECT_INVALID(r, "attributes.as_path[0].type");
  r.mutable_attributes()->mutable_as_path(0)->set_type(v1::AsPathSegment::AS_SEQUENCE);
  EXPECT_INVALID(r, "attributes.as_path[0].asns: a segment needs at least one AS");
  for (int i = 0; i < 256; ++i) r.mutable_attributes()->mutable_as_path(0)->add_asns(65000);
  EXPECT_INVALID(r, "at most 255");
  r = good_route();
  r.mutable_attributes()->set_next_hop("x");
  EXPECT_INVALID(r, "attributes.next_hop: 'x'");
  r.mutable_attributes()->set_next_hop("2001:db8::1");
  EXPECT_INVALID(r, "attributes.next_hop: '2001:db8::1' is not of the family");
  r = good_route();
  r.mutable_attributes()->set_next_hop_link_local("2001:db8::1");
  EXPECT_INVALID(r, "attributes.next_hop_link_local");
  r.mutable_attributes()->set_next_hop_link_local("fe80::1");
  EXPECT_INVALID(r, "only for IPv6 prefixes");
  r = good_route();
  r.mutable_attributes()->set_aggregator_as(65000);
  EXPECT_INVALID(r, "attributes.aggregator_address");
  r = good_route();
  r.mutable_attributes()->set_aggregator_address("192.0.2.1");
  EXPECT_INVALID(r, "set without attributes.aggregator_as");
  r = good_route();
  r.mutable_attributes()->set_originator_id("::1");
  EXPECT_INVALID(r, "attributes.originator_id");
  r = good_route();
  r.mutable_attributes()->add_cluster_list("1.2.3");
  EXPECT_INVALID(r, "attributes.cluster_list[0]");
  r = good_route();
  auto* u = r.mutable_attributes()->add_unknown();
  u->set_flags(0x1C0);
  u->set_type(99);
  EXPECT_INVALID(r, "attributes.unknown[0].flags: must be 0..255");
  u->set_flags(0xC0);
  u->set_type(300);
  EXPECT_INVALID(r, "attributes.unknown[0].type: must be 0..255");
  u->set_type(8);
  EXPECT_INVALID(r, "attributes.unknown[0].type: 8 is an attribute tandem interprets");
  u->set_type(99);
  u->set_flags(0x40);
  EXPECT_INVALID(r, "must be optional");
  u->set_flags(0xC0);
  EXPECT_EQ(validate(r), "");
  r.mutable_attributes()->add_unknown()->CopyFrom(*u);
  EXPECT_INVALID(r, "attributes.unknown[1].type: 99 given twice");
  r = good_route();
  r.mutable_attributes()->add_unknown()->set_flags(0xC0);
  r.mutable_attributes()->mutable_unknown(0)->set_type(99);
  r.mutable_attributes()->mutable_unknown(0)->set_value(std::string(70000, 'x'));
  EXPECT_INVALID(r, "longer than 65535");
}

TEST(Validate, DeleteRouteAndWatchEvents) {
  v1::DeleteRouteRequest d;
  EXPECT_INVALID(d, "prefix: missing");
  d.set_prefix("2001:db8::/129");
  EXPECT_INVALID(d, "is not a prefix");
  d.set_prefix("2001:db8::/32");
  EXPECT_EQ(validate(d), "");
  v1::WatchEventsRequest w;
  EXPECT_INVALID(w, "set at least one");
  w.set_best_path(true);
  EXPECT_EQ(validate(w), "");
  w.set_peer("192.0.2.x");
  EXPECT_INVALID(w, "peer: '192.0.2.x'");
}

}  // namespace
