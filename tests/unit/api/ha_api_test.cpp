// HaService over a real gRPC channel: the replicator's status (a fixed ReplStatus
// standing in for the replicator), the no-replication case, and table digests of two
// daemons fed the same routes in different orders (peers configured in different
// orders too, so their node-local PeerIds differ).
#include <algorithm>
#include <map>

#include "api_test_util.hpp"
#include "bgpd/rib/digest.hpp"
#include "bgpd/wire/message.hpp"
#include "tandem/v1/ha.grpc.pb.h"

namespace api_test {
namespace {

namespace v1 = tandem::v1;

replicator::ReplStatus sample() {
  replicator::ReplStatus st;
  st.role = "primary";
  st.node_id = "node-a";
  st.epoch = 3;
  st.peer_node = "node-b";
  st.peer_address = "10.0.0.2:1790";
  st.channel_state = "in-sync";
  st.last_error = "hmac mismatch";
  st.channel_ups = 2;
  st.frames_in = 10;
  st.frames_out = 11;
  st.bytes_in = 12;
  st.bytes_out = 13;
  st.auth_failures = 14;
  st.snapshots = 15;
  st.last_snapshot_ms = 16;
  st.last_snapshot_routes = 17;
  st.max_stall_us = 18;
  replicator::SessionReplStatus s;  // every field distinct, so a mix-up shows
  s.connection_id = 101;
  s.peer = "192.0.2.2";
  s.sync_state = "lagging";
  s.inbound_read = 102;
  s.inbound_sent = 103;
  s.inbound_acked = 104;
  s.inbound_consumed = 105;
  s.outbound_queued = 106;
  s.outbound_sent = 107;
  s.outbound_acked = 108;
  s.outbound_written = 109;
  s.lag_bytes = 110;
  s.lag_us = 111;
  s.standby_queued = 112;
  s.estimated_window = 113;
  s.window_clamp = 114;
  s.window_updates = 115;
  s.has_checkpoint = true;
  s.snd_una = 4'000'000'116u;
  s.snd_nxt = 4'000'000'117u;
  s.rcv_nxt = 118;
  s.peer_window = 119;
  s.checkpoint_time_us = 1'700'000'000'000'120ULL;
  s.checkpoints = 121;
  s.outbound_differences = 122;
  s.outbound_compared = 123;
  st.sessions.push_back(s);
  s.peer = "2001:db8::2";
  s.has_checkpoint = false;
  st.sessions.push_back(s);
  return st;
}

config::ApiConfig api_config() {
  config::ApiConfig a;
  a.socket = "";
  return a;
}

TEST(HaApi, WithoutReplicationRoleIsNone) {
  for (bool with_fn : {false, true}) {
    std::function<std::optional<replicator::ReplStatus>()> fn;
    if (with_fn) fn = [] { return std::optional<replicator::ReplStatus>(); };
    Daemon d(api_config(), daemon_config(), {}, fn);
    ASSERT_TRUE(d.started()) << d.error();
    auto stub = v1::HaService::NewStub(d.channel());
    v1::HaStatus r;
    ASSERT_TRUE(stub->GetStatus(ctx().get(), v1::GetHaStatusRequest{}, &r).ok());
    EXPECT_EQ(r.role(), "none");
    EXPECT_EQ(r.channel_state(), "disabled");
    EXPECT_EQ(r.sessions_size(), 0);
    EXPECT_EQ(r.epoch(), 0u);
  }
}

TEST(HaApi, StatusCarriesEveryField) {
  Daemon d(api_config(), daemon_config(), {}, [] { return std::optional<replicator::ReplStatus>(sample()); });
  ASSERT_TRUE(d.started()) << d.error();
  auto stub = v1::HaService::NewStub(d.channel());
  v1::HaStatus r;
  ASSERT_TRUE(stub->GetStatus(ctx().get(), v1::GetHaStatusRequest{}, &r).ok());
  EXPECT_EQ(r.role(), "primary");
  EXPECT_EQ(r.node_id(), "node-a");
  EXPECT_EQ(r.epoch(), 3u);
  EXPECT_EQ(r.peer_node(), "node-b");
  EXPECT_EQ(r.peer_address(), "10.0.0.2:1790");
  EXPECT_EQ(r.channel_state(), "in-sync");
  EXPECT_EQ(r.last_error(), "hmac mismatch");
  EXPECT_EQ(r.channel_ups(), 2u);
  EXPECT_EQ(r.frames_in(), 10u);
  EXPECT_EQ(r.frames_out(), 11u);
  EXPECT_EQ(r.bytes_in(), 12u);
  EXPECT_EQ(r.bytes_out(), 13u);
  EXPECT_EQ(r.auth_failures(), 14u);
  EXPECT_EQ(r.snapshots(), 15u);
  EXPECT_EQ(r.last_snapshot_ms(), 16u);
  EXPECT_EQ(r.last_snapshot_routes(), 17u);
  EXPECT_EQ(r.max_stall_us(), 18u);
  ASSERT_EQ(r.sessions_size(), 2);
  const auto& s = r.sessions(0);
  EXPECT_EQ(s.connection_id(), 101u);
  EXPECT_EQ(s.peer(), "192.0.2.2");
  EXPECT_EQ(s.sync_state(), "lagging");
  EXPECT_EQ(s.inbound_read(), 102u);
  EXPECT_EQ(s.inbound_sent(), 103u);
  EXPECT_EQ(s.inbound_acked(), 104u);
  EXPECT_EQ(s.inbound_consumed(), 105u);
  EXPECT_EQ(s.outbound_queued(), 106u);
  EXPECT_EQ(s.outbound_sent(), 107u);
  EXPECT_EQ(s.outbound_acked(), 108u);
  EXPECT_EQ(s.outbound_written(), 109u);
  EXPECT_EQ(s.lag_bytes(), 110u);
  EXPECT_EQ(s.lag_us(), 111u);
  EXPECT_EQ(s.standby_queued(), 112u);
  EXPECT_EQ(s.estimated_window(), 113u);
  EXPECT_EQ(s.window_clamp(), 114u);
  EXPECT_EQ(s.window_updates(), 115u);
  EXPECT_TRUE(s.has_checkpoint());
  EXPECT_EQ(s.snd_una(), 4'000'000'116u);
  EXPECT_EQ(s.snd_nxt(), 4'000'000'117u);
  EXPECT_EQ(s.rcv_nxt(), 118u);
  EXPECT_EQ(s.peer_window(), 119u);
  EXPECT_EQ(s.checkpoint_time_us(), 1'700'000'000'000'120ULL);
  EXPECT_EQ(s.checkpoints(), 121u);
  EXPECT_EQ(s.outbound_differences(), 122u);
  EXPECT_EQ(s.outbound_compared(), 123u);
  EXPECT_EQ(r.sessions(1).peer(), "2001:db8::2");
  EXPECT_FALSE(r.sessions(1).has_checkpoint());
}

// Digests -------------------------------------------------------------------------

wire::IpAddr A(const char* s) { return *wire::IpAddr::parse(s); }
wire::Prefix P(const char* s) { return *wire::Prefix::parse(s); }

config::PeerConfig passive_peer(const char* address, uint32_t as, std::vector<wire::Family> families) {
  config::PeerConfig p;
  p.address = A(address);
  p.remote_as = as;
  p.passive = true;  // nothing dials: the test brings the peer up in the RIB itself
  p.families = std::move(families);
  return p;
}

// Two neighbours: an eBGP one with both families and an iBGP one with IPv4 only.
// `reversed` lists them the other way round (other PeerIds).
config::Config digest_config(bool reversed) {
  config::Config c = daemon_config();
  auto e = passive_peer("192.0.2.9", 65001, {wire::kIpv4Unicast, wire::kIpv6Unicast});
  auto i = passive_peer("192.0.2.10", 65000, {wire::kIpv4Unicast});
  c.peers = reversed ? std::vector{i, e} : std::vector{e, i};
  return c;
}

wire::PathAttributes path_attrs(std::vector<uint32_t> as_path, const char* next_hop, uint32_t med = 0) {
  wire::PathAttributes a;
  a.origin = wire::Origin::Igp;
  a.has_origin = true;
  a.has_as_path = true;
  if (!as_path.empty()) a.as_path.segments.push_back(wire::AsPathSegment{wire::AsPathSegment::Sequence, as_path});
  a.next_hop = A(next_hop);
  if (med) a.med = med;
  return a;
}

// On the event loop: what an Established session would tell the RIB, then UPDATEs.
struct Feeder {
  session::Speaker& sp;
  rib::PeerInfo up(const char* address) {
    const session::Peer* p = sp.find_peer(A(address));
    EXPECT_NE(p, nullptr);
    rib::PeerInfo info;
    info.id = p->id();
    info.address = p->config().address;
    info.remote_as = p->config().remote_as;
    info.router_id = info.address.v4_host_order();
    info.local_v4 = A("192.0.2.254");
    info.local_v6 = A("2001:db8::fe");
    info.codec.ebgp = info.remote_as != 65000;
    info.codec.four_octet_as = true;
    info.families = p->config().families;
    sp.rib().peer_up(info);
    return info;
  }
  void announce(const rib::PeerInfo& from, std::vector<wire::Prefix> prefixes, const wire::PathAttributes& a) {
    for (const auto& m : wire::encode_announcements(a, prefixes[0].family(), prefixes, from.codec)) {
      std::vector<uint8_t> body(m.begin() + wire::kHeaderLen, m.end());
      EXPECT_FALSE(sp.rib().ingest_update(from.id, body).session_error);
    }
  }
  // The Adj-RIB-Out holds what was handed to the peer: take it all, as a session would.
  void drain(const rib::PeerInfo& to) {
    std::vector<uint8_t> bytes;
    for (int guard = 0; guard < 1000 && sp.rib().take_output(to.id, 1 << 20, bytes) > 0; ++guard) bytes.clear();
  }
};

void feed(session::Speaker& sp, bool backward) {
  Feeder f{sp};
  auto e = f.up("192.0.2.9");
  auto i = f.up("192.0.2.10");
  std::vector<std::function<void()>> steps = {
      [&] { f.announce(e, {P("10.1.0.0/16"), P("10.2.0.0/16")}, path_attrs({65001}, "192.0.2.9")); },
      [&] { f.announce(i, {P("10.1.0.0/16")}, path_attrs({65010}, "192.0.2.10", 7)); },
      [&] { f.announce(e, {P("10.3.0.0/16")}, path_attrs({65001, 65020}, "192.0.2.9", 5)); },
      [&] { f.announce(e, {P("2001:db8:1::/48")}, path_attrs({65001}, "2001:db8::9")); },
      [&] { sp.rib().originate(P("10.5.0.0/16"), path_attrs({}, "0.0.0.0")); },
  };
  if (backward) std::reverse(steps.begin(), steps.end());
  for (auto& s : steps) s();
  f.drain(e);
  f.drain(i);
}

// "peer family table" -> "digest routes", so that two responses compare whatever their order.
std::map<std::string, std::string> by_table(const v1::GetTableDigestsResponse& r) {
  std::map<std::string, std::string> m;
  auto text = [](const v1::TableDigest& d) { return d.digest() + " " + std::to_string(d.routes()); };
  for (const auto& p : r.peers()) {
    const std::string key = p.peer() + " " + v1::Family_Name(p.family());
    m[key + " in"] = text(p.adj_rib_in());
    m[key + " out"] = text(p.adj_rib_out());
  }
  for (const auto& l : r.loc_rib()) m["loc " + v1::Family_Name(l.family())] = text(l.loc_rib());
  return m;
}

v1::GetTableDigestsResponse get_digests(const Daemon& d, const std::string& peer = "") {
  auto stub = v1::HaService::NewStub(d.channel());
  v1::GetTableDigestsRequest q;
  q.set_peer(peer);
  v1::GetTableDigestsResponse r;
  auto s = stub->GetTableDigests(ctx().get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return r;
}

TEST(HaApi, DigestsOfTheSameRoutesInAnotherOrderAreEqual) {
  Daemon x(api_config(), digest_config(false));
  Daemon y(api_config(), digest_config(true));
  ASSERT_TRUE(x.started()) << x.error();
  ASSERT_TRUE(y.started()) << y.error();
  rib::PeerId x_id = 0, y_id = 0;
  x.on_loop([&](session::Speaker& sp) { x_id = sp.find_peer(A("192.0.2.9"))->id(); feed(sp, false); });
  y.on_loop([&](session::Speaker& sp) { y_id = sp.find_peer(A("192.0.2.9"))->id(); feed(sp, true); });
  ASSERT_NE(x_id, y_id) << "the test wants node-local ids to differ";

  const auto rx = get_digests(x), ry = get_digests(y);
  // eBGP peer: two families; iBGP peer: one. Loc-RIB: both families.
  ASSERT_EQ(rx.peers_size(), 3);
  ASSERT_EQ(rx.loc_rib_size(), 2);
  EXPECT_EQ(rx.peers(0).peer(), "192.0.2.9");  // by address, whatever the configuration order
  EXPECT_EQ(ry.peers(0).peer(), "192.0.2.9");
  const auto mx = by_table(rx), my = by_table(ry);
  EXPECT_EQ(mx, my);
  EXPECT_EQ(mx.at("192.0.2.9 FAMILY_IPV4_UNICAST in").substr(17), "3");
  EXPECT_EQ(mx.at("192.0.2.9 FAMILY_IPV6_UNICAST in").substr(17), "1");
  EXPECT_EQ(mx.at("192.0.2.10 FAMILY_IPV4_UNICAST in").substr(17), "1");
  EXPECT_EQ(mx.at("loc FAMILY_IPV4_UNICAST").substr(17), "4");
  EXPECT_EQ(mx.at("loc FAMILY_IPV6_UNICAST").substr(17), "1");
  // The iBGP peer was sent routes (the eBGP ones, the local one).
  EXPECT_NE(mx.at("192.0.2.10 FAMILY_IPV4_UNICAST out").substr(17), "0");
  EXPECT_EQ(rx.loc_rib(0).loc_rib().digest().size(), 16u);

  // One peer only: its tables, no Loc-RIB.
  const auto one = get_digests(y, "192.0.2.9");
  ASSERT_EQ(one.peers_size(), 2);
  EXPECT_EQ(one.loc_rib_size(), 0);
  EXPECT_EQ(one.peers(0).adj_rib_in().digest(), rx.peers(0).adj_rib_in().digest());

  // One more route on y: its Adj-RIB-In and Loc-RIB digests now differ.
  y.on_loop([&](session::Speaker& sp) {
    Feeder f{sp};
    rib::PeerInfo e;
    e.id = sp.find_peer(A("192.0.2.9"))->id();
    e.codec.ebgp = true;
    e.codec.four_octet_as = true;
    f.announce(e, {P("10.6.0.0/16")}, path_attrs({65001}, "192.0.2.9"));
  });
  const auto my2 = by_table(get_digests(y));
  EXPECT_NE(mx.at("192.0.2.9 FAMILY_IPV4_UNICAST in"), my2.at("192.0.2.9 FAMILY_IPV4_UNICAST in"));
  EXPECT_NE(mx.at("loc FAMILY_IPV4_UNICAST"), my2.at("loc FAMILY_IPV4_UNICAST"));
  EXPECT_EQ(mx.at("192.0.2.9 FAMILY_IPV6_UNICAST in"), my2.at("192.0.2.9 FAMILY_IPV6_UNICAST in"));
}

TEST(HaApi, DigestsOfAnUnknownPeerOrABadAddress) {
  Daemon d(api_config(), digest_config(false));
  ASSERT_TRUE(d.started()) << d.error();
  auto stub = v1::HaService::NewStub(d.channel());
  v1::GetTableDigestsRequest q;
  v1::GetTableDigestsResponse r;
  q.set_peer("192.0.2.200");
  EXPECT_EQ(stub->GetTableDigests(ctx().get(), q, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  q.set_peer("not an address");
  EXPECT_EQ(stub->GetTableDigests(ctx().get(), q, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing learned yet: zero routes everywhere, and the empty digest.
  const auto empty = get_digests(d);
  ASSERT_EQ(empty.peers_size(), 3);
  for (const auto& p : empty.peers()) {
    EXPECT_EQ(p.adj_rib_in().routes(), 0u);
    EXPECT_EQ(p.adj_rib_out().routes(), 0u);
  }
  EXPECT_EQ(empty.loc_rib(0).loc_rib().digest(), "0000000000000000");
}

// Tables larger than one slice (the API digests a few thousand routes per visit to the
// event loop): the API's digests equal the ones computed in one piece on the loop.
TEST(HaApi, DigestsOfTablesLargerThanASlice) {
  Daemon d(api_config(), digest_config(false));
  ASSERT_TRUE(d.started()) << d.error();
  rib::TableDigest in_whole, loc_whole;
  d.on_loop([&](session::Speaker& sp) {
    Feeder f{sp};
    auto e = f.up("192.0.2.9");
    std::vector<wire::Prefix> many;
    for (int i = 0; i < 10000; ++i)
      many.push_back(*wire::Prefix::parse("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
    for (size_t at = 0; at < many.size(); at += 500)
      f.announce(e, {many.begin() + static_cast<std::ptrdiff_t>(at), many.begin() + static_cast<std::ptrdiff_t>(at + 500)},
                 path_attrs({65001}, "192.0.2.9"));
    in_whole = rib::digest_adj_in(sp.rib(), e.id, wire::kIpv4Unicast);
    loc_whole = rib::digest_loc_rib(sp.rib(), wire::kIpv4Unicast, [&sp](rib::PeerId id) -> std::optional<wire::IpAddr> {
      if (const auto* p = sp.peer_by_id(id)) return p->config().address;
      return std::nullopt;
    });
  });
  ASSERT_EQ(in_whole.routes, 10000u);
  const auto m = by_table(get_digests(d));
  EXPECT_EQ(m.at("192.0.2.9 FAMILY_IPV4_UNICAST in"), rib::to_hex(in_whole) + " 10000");
  EXPECT_EQ(m.at("loc FAMILY_IPV4_UNICAST"), rib::to_hex(loc_whole) + " 10000");
}

}  // namespace
}  // namespace api_test
