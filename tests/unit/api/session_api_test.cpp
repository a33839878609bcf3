// The API against a real BGP session: two speakers in one process over 127.0.0.1
// (daemon A listens, speaker B dials it). Counters, negotiated capabilities, Adj-RIBs,
// soft resets, and API routes surviving a configuration reload.
#include <thread>

#include "api_test_util.hpp"
#include "tandem/v1/peer.grpc.pb.h"
#include "tandem/v1/rib.grpc.pb.h"

namespace api_test {
namespace {

namespace v1 = tandem::v1;

uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

class SessionApi : public ::testing::Test {
 protected:
  void SetUp() override {
    port = free_port();
    config::Config ca = daemon_config();
    ca.listen = {*wire::IpAddr::parse("127.0.0.1")};
    ca.port = port;
    config::PeerConfig pb;
    pb.address = *wire::IpAddr::parse("127.0.0.1");
    pb.remote_as = 65002;
    pb.passive = true;
    ca.peers.push_back(pb);
    config::NetworkConfig n;
    n.prefix = *wire::Prefix::parse("198.51.100.0/24");
    ca.networks.push_back(n);
    config::ApiConfig api;
    api.socket = "";
    d = std::make_unique<Daemon>(api, ca);
    ASSERT_TRUE(d->started()) << d->error();
    // Speaker B (AS 65002) on the same loop, dialling A.
    d->on_loop([&](session::Speaker&) {
      config::Config cb = daemon_config();
      cb.router_id = 0x0A000002;
      cb.local_as = 65002;
      config::PeerConfig pa;
      pa.address = *wire::IpAddr::parse("127.0.0.1");
      pa.remote_as = 65000;
      pa.port = port;
      pa.connect_retry = 1;
      cb.peers.push_back(pa);
      b = std::make_unique<session::Speaker>(d->io(), cb);
      std::string err;
      EXPECT_TRUE(b->start(err)) << err;
    });
    peers = v1::PeerService::NewStub(d->channel());
    ribs = v1::RibService::NewStub(d->channel());
  }
  void TearDown() override {
    if (b) {
      std::promise<void> done;
      d->on_loop([&](session::Speaker&) { b->shutdown([&] { done.set_value(); }); });
      done.get_future().wait();
      d->on_loop([&](session::Speaker&) { b.reset(); });
    }
    d.reset();
  }

  v1::Peer get_peer() {
    v1::GetPeerRequest g;
    g.set_address("127.0.0.1");
    v1::Peer p;
    auto s = peers->GetPeer(ctx().get(), g, &p);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return p;
  }

  bool wait_established() {
    for (int i = 0; i < 100; ++i) {
      if (get_peer().state().state() == v1::SESSION_STATE_ESTABLISHED) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  uint16_t port = 0;
  std::unique_ptr<Daemon> d;
  std::unique_ptr<session::Speaker> b;
  std::unique_ptr<v1::PeerService::Stub> peers;
  std::unique_ptr<v1::RibService::Stub> ribs;
};

TEST_F(SessionApi, EstablishedPeerStateCountersAndSoftResets) {
  ASSERT_TRUE(wait_established());
  // Let keepalives and the initial UPDATEs flow.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  v1::Peer p = get_peer();
  const auto& st = p.state();
  EXPECT_EQ(st.established_transitions(), 1u);
  EXPECT_EQ(st.negotiated().peer_as(), 65002u);
  EXPECT_EQ(st.negotiated().peer_router_id(), "10.0.0.2");
  EXPECT_TRUE(st.negotiated().route_refresh());
  EXPECT_TRUE(st.negotiated().four_octet_as());
  EXPECT_EQ(st.negotiated().families_size(), 2);
  EXPECT_EQ(st.messages_received().open(), 1u);
  EXPECT_EQ(st.messages_sent().open(), 1u);
  EXPECT_GE(st.messages_received().keepalive(), 1u);
  EXPECT_GE(st.messages_sent().keepalive(), 1u);
  EXPECT_GE(st.messages_sent().update(), 1u);  // our network + End-of-RIB
  EXPECT_EQ(st.messages_sent().total(), st.messages_sent().open() + st.messages_sent().update() +
                                             st.messages_sent().notification() + st.messages_sent().keepalive() +
                                             st.messages_sent().route_refresh());
  EXPECT_EQ(st.local_address(), "127.0.0.1");
  EXPECT_EQ(st.local_port(), port);
  ASSERT_EQ(st.prefixes_size(), 2);
  EXPECT_EQ(st.prefixes(0).family(), v1::FAMILY_IPV4_UNICAST);
  EXPECT_EQ(st.prefixes(0).advertised(), 1u);

  // Adj-RIB-Out towards the peer holds our network, with our AS prepended.
  v1::ListRoutesRequest lr;
  lr.set_table(v1::TABLE_ADJ_RIB_OUT);
  lr.set_peer("127.0.0.1");
  auto c = ctx();
  auto reader = ribs->ListRoutes(c.get(), lr);
  v1::ListRoutesResponse resp;
  std::vector<v1::Route> out;
  while (reader->Read(&resp))
    for (auto& r : resp.routes()) out.push_back(r);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].prefix(), "198.51.100.0/24");
  ASSERT_EQ(out[0].attributes().as_path_size(), 1);
  EXPECT_EQ(out[0].attributes().as_path(0).asns(0), 65000u);

  // Soft reset in: a ROUTE-REFRESH goes out per negotiated family.
  v1::ResetPeerRequest rr;
  rr.set_address("127.0.0.1");
  rr.set_kind(v1::ResetPeerRequest::KIND_SOFT_IN);
  v1::ResetPeerResponse rresp;
  auto s = peers->ResetPeer(ctx().get(), rr, &rresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(get_peer().state().messages_sent().route_refresh(), 2u);
  // Soft reset out for one family: the Adj-RIB-Out is sent again.
  uint64_t updates = get_peer().state().messages_sent().update();
  rr.set_kind(v1::ResetPeerRequest::KIND_SOFT_OUT);
  rr.set_family(v1::FAMILY_IPV4_UNICAST);
  s = peers->ResetPeer(ctx().get(), rr, &rresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GT(get_peer().state().messages_sent().update(), updates);

  // Hard reset: the session comes back (a second Established transition on a new
  // Peer object: counters restart).
  rr.set_kind(v1::ResetPeerRequest::KIND_HARD);
  ASSERT_TRUE(peers->ResetPeer(ctx().get(), rr, &rresp).ok());
  ASSERT_TRUE(wait_established());
}

TEST_F(SessionApi, ApiRoutesSurviveAReloadAndConfiguredNetworksComeBack) {
  // An API route for the configured network's prefix takes precedence over it.
  v1::AddRouteRequest add;
  add.set_prefix("198.51.100.0/24");
  add.mutable_attributes()->set_med(77);
  v1::AddRouteResponse ar;
  ASSERT_TRUE(ribs->AddRoute(ctx().get(), add, &ar).ok());
  add.set_prefix("203.0.113.0/24");
  ASSERT_TRUE(ribs->AddRoute(ctx().get(), add, &ar).ok());

  // Reload a configuration without any network: both API routes stay.
  d->on_loop([](session::Speaker& sp) {
    config::Config next = sp.config();
    next.networks.clear();
    sp.reconfigure(next);
  });
  auto list = [&] {
    v1::ListRoutesRequest lr;
    auto c = ctx();
    auto reader = ribs->ListRoutes(c.get(), lr);
    v1::ListRoutesResponse resp;
    std::map<std::string, uint32_t> med;
    while (reader->Read(&resp))
      for (auto& r : resp.routes()) med[r.prefix()] = r.attributes().has_med() ? r.attributes().med() : 0;
    EXPECT_TRUE(reader->Finish().ok());
    return med;
  };
  auto m = list();
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["198.51.100.0/24"], 77u);
  EXPECT_EQ(m["203.0.113.0/24"], 77u);

  // Reload with the network again, then delete the API route: the configured one
  // (no MED) is back.
  d->on_loop([](session::Speaker& sp) {
    config::Config next = sp.config();
    config::NetworkConfig n;
    n.prefix = *wire::Prefix::parse("198.51.100.0/24");
    next.networks = {n};
    sp.reconfigure(next);
  });
  EXPECT_EQ(list()["198.51.100.0/24"], 77u);
  v1::DeleteRouteRequest del;
  del.set_prefix("198.51.100.0/24");
  v1::DeleteRouteResponse dr;
  ASSERT_TRUE(ribs->DeleteRoute(ctx().get(), del, &dr).ok());
  m = list();
  ASSERT_TRUE(m.count("198.51.100.0/24"));
  EXPECT_EQ(m["198.51.100.0/24"], 0u);
}

}  // namespace
}  // namespace api_test
