// The API server in process, with a real gRPC client over a UNIX socket.
#include <sys/stat.h>

#include <map>
#include <set>

#include <grpcpp/generic/generic_stub.h>

#include "api_test_util.hpp"
#include "tandem/v1/events.grpc.pb.h"
#include "tandem/v1/global.grpc.pb.h"
#include "tandem/v1/peer.grpc.pb.h"
#include "tandem/v1/rib.grpc.pb.h"

namespace api_test {
namespace {

using tandem::v1::EventService;
using tandem::v1::GlobalService;
using tandem::v1::PeerService;
using tandem::v1::RibService;
namespace v1 = tandem::v1;

class ApiServer : public ::testing::Test {
 protected:
  void SetUp() override {
    config::ApiConfig a;
    a.socket = "";
    a.socket_mode = 0600;
    d = std::make_unique<Daemon>(a);
    ASSERT_TRUE(d->started()) << d->error();
    ch = d->channel();
  }
  void TearDown() override { d.reset(); }
  std::unique_ptr<Daemon> d;
  std::shared_ptr<grpc::Channel> ch;
};

TEST_F(ApiServer, SocketHasTheConfiguredMode) {
  struct stat st {};
  ASSERT_EQ(::stat((d->dir() / "api.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ApiServer, GetGlobalAndHealth) {
  auto stub = GlobalService::NewStub(ch);
  v1::GetGlobalResponse r;
  auto s = stub->GetGlobal(ctx().get(), {}, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.global().router_id(), "10.0.0.1");
  EXPECT_EQ(r.global().local_as(), 65000u);
  EXPECT_EQ(r.version(), "test");
  EXPECT_GT(r.started_unix_seconds(), 0);

  // grpc.health.v1 answers SERVING (a generic call: HealthCheckRequest{} is empty,
  // HealthCheckResponse{status: SERVING} is the bytes 08 01).
  grpc::GenericStub generic(ch);
  grpc::CompletionQueue cq;
  grpc::ClientContext hc;
  hc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer req(&empty, 1);
  auto call = generic.PrepareUnaryCall(&hc, "/grpc.health.v1.Health/Check", req, &cq);
  call->StartCall();
  grpc::ByteBuffer resp;
  grpc::Status st;
  call->Finish(&resp, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ApiServer, SetGlobalValidatesAndApplies) {
  auto stub = GlobalService::NewStub(ch);
  v1::SetGlobalRequest req;
  v1::SetGlobalResponse resp;
  req.mutable_global()->set_router_id("10.0.0.9");
  req.mutable_global()->set_local_as(0);
  req.add_update_fields("router_id");
  req.add_update_fields("local_as");
  auto s = stub->SetGlobal(ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("global.local_as"), std::string::npos) << s.error_message();
  // Nothing was applied.
  v1::GetGlobalResponse g;
  ASSERT_TRUE(stub->GetGlobal(ctx().get(), {}, &g).ok());
  EXPECT_EQ(g.global().router_id(), "10.0.0.1");

  req.mutable_global()->set_local_as(65010);
  s = stub->SetGlobal(ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.global().router_id(), "10.0.0.9");
  EXPECT_EQ(resp.global().local_as(), 65010u);
}

TEST_F(ApiServer, SetGlobalReopensListenersAndRefusesABusyPort) {
  asio::io_context io;
  asio::ip::tcp::acceptor busy(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  uint16_t busy_port = busy.local_endpoint().port();
  uint16_t free_port;
  {
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    free_port = a.local_endpoint().port();
  }
  auto stub = GlobalService::NewStub(ch);
  v1::SetGlobalRequest req;
  v1::SetGlobalResponse resp;
  req.mutable_global()->add_listen_addresses("127.0.0.1");
  req.mutable_global()->set_port(free_port);
  req.add_update_fields("listen_addresses");
  req.add_update_fields("port");
  auto s = stub->SetGlobal(ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.global().port(), free_port);
  // Something now accepts BGP connections there.
  asio::ip::tcp::socket sock(io);
  boost::system::error_code ec;
  sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), free_port), ec);
  EXPECT_FALSE(ec) << ec.message();
  sock.close();

  req.mutable_global()->set_port(busy_port);
  s = stub->SetGlobal(ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("cannot listen"), std::string::npos) << s.error_message();
  v1::GetGlobalResponse g;
  ASSERT_TRUE(stub->GetGlobal(ctx().get(), {}, &g).ok());
  EXPECT_EQ(g.global().port(), free_port);  // unchanged, and the old listener is back
  sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), free_port), ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST_F(ApiServer, AddListGetDeletePeer) {
  auto stub = PeerService::NewStub(ch);
  v1::AddPeerRequest add;
  add.mutable_peer()->set_address("127.0.0.1");
  add.mutable_peer()->set_remote_as(65001);
  add.mutable_peer()->set_description("test peer");
  add.mutable_peer()->set_port(1);  // nothing listens: the session stays down
  add.mutable_peer()->set_passive(true);
  v1::AddPeerResponse ar;
  auto s = stub->AddPeer(ctx().get(), add, &ar);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::ListPeersResponse list;
  ASSERT_TRUE(stub->ListPeers(ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.peers_size(), 1);
  EXPECT_EQ(list.peers(0).config().address(), "127.0.0.1");
  EXPECT_EQ(list.peers(0).config().remote_as(), 65001u);
  EXPECT_EQ(list.peers(0).config().hold_time(), 90u);
  EXPECT_EQ(list.peers(0).config().families_size(), 2);
  EXPECT_NE(list.peers(0).state().state(), v1::SESSION_STATE_ESTABLISHED);
  EXPECT_EQ(list.peers(0).state().prefixes_size(), 2);

  v1::GetPeerRequest get;
  get.set_address("127.0.0.1");
  v1::Peer p;
  ASSERT_TRUE(stub->GetPeer(ctx().get(), get, &p).ok());
  EXPECT_EQ(p.config().description(), "test peer");

  // Soft reset of a session that is not up: FAILED_PRECONDITION.
  v1::ResetPeerRequest rr;
  rr.set_address("127.0.0.1");
  rr.set_kind(v1::ResetPeerRequest::KIND_SOFT_IN);
  v1::ResetPeerResponse rresp;
  EXPECT_EQ(stub->ResetPeer(ctx().get(), rr, &rresp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  rr.set_kind(v1::ResetPeerRequest::KIND_HARD);
  EXPECT_TRUE(stub->ResetPeer(ctx().get(), rr, &rresp).ok());

  v1::DisablePeerRequest dis;
  dis.set_address("127.0.0.1");
  v1::DisablePeerResponse disr;
  ASSERT_TRUE(stub->DisablePeer(ctx().get(), dis, &disr).ok());
  ASSERT_TRUE(stub->GetPeer(ctx().get(), get, &p).ok());
  EXPECT_FALSE(p.config().enabled());
  v1::EnablePeerRequest en;
  en.set_address("127.0.0.1");
  v1::EnablePeerResponse enr;
  ASSERT_TRUE(stub->EnablePeer(ctx().get(), en, &enr).ok());
  ASSERT_TRUE(stub->GetPeer(ctx().get(), get, &p).ok());
  EXPECT_TRUE(p.config().enabled());

  v1::DeletePeerRequest del;
  del.set_address("127.0.0.1");
  v1::DeletePeerResponse dr;
  ASSERT_TRUE(stub->DeletePeer(ctx().get(), del, &dr).ok());
  EXPECT_EQ(stub->DeletePeer(ctx().get(), del, &dr).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(stub->GetPeer(ctx().get(), get, &p).error_code(), grpc::StatusCode::NOT_FOUND);
  list.Clear();
  ASSERT_TRUE(stub->ListPeers(ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.peers_size(), 0);
}

TEST_F(ApiServer, InvalidRequestsSayWhatIsWrong) {
  auto stub = PeerService::NewStub(ch);
  v1::AddPeerRequest add;
  add.mutable_peer()->set_address("not-an-address");
  add.mutable_peer()->set_remote_as(65001);
  v1::AddPeerResponse ar;
  auto s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("peer.address"), std::string::npos) << s.error_message();
  // route_reflector_client on an eBGP peer is checked against the running local AS.
  add.mutable_peer()->set_address("127.0.0.5");
  add.mutable_peer()->set_route_reflector_client(true);
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("route_reflector_client"), std::string::npos) << s.error_message();
  // BFD: its settings need bfd = true and a range; bfd needs [bfd] enabled (not here).
  add.mutable_peer()->set_route_reflector_client(false);
  add.mutable_peer()->set_bfd_detect_mult(3);
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("peer.bfd_detect_mult: only applies with bfd = true"), std::string::npos)
      << s.error_message();
  add.mutable_peer()->set_bfd(true);
  add.mutable_peer()->set_bfd_detect_mult(0);
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("peer.bfd_detect_mult: must be between 1 and 255"), std::string::npos)
      << s.error_message();
  add.mutable_peer()->set_bfd_detect_mult(3);
  add.mutable_peer()->set_bfd_desired_min_tx_ms(60001);
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  add.mutable_peer()->set_bfd_desired_min_tx_ms(10);
  s = stub->AddPeer(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("BFD is not enabled"), std::string::npos) << s.error_message();
  v1::ListPeersResponse list;
  ASSERT_TRUE(stub->ListPeers(ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.peers_size(), 0);  // nothing half-applied
}

std::vector<v1::Route> list_routes(RibService::Stub& stub, const v1::ListRoutesRequest& req, grpc::Status* status,
                                   size_t* messages = nullptr) {
  std::vector<v1::Route> out;
  auto c = ctx(60);
  auto reader = stub.ListRoutes(c.get(), req);
  v1::ListRoutesResponse resp;
  size_t n = 0;
  while (reader->Read(&resp)) {
    ++n;
    for (auto& r : resp.routes()) out.push_back(r);
  }
  *status = reader->Finish();
  if (messages) *messages = n;
  return out;
}

TEST_F(ApiServer, InjectListAndDeleteRoute) {
  auto stub = RibService::NewStub(ch);
  v1::AddRouteRequest add;
  add.set_prefix("198.51.100.0/24");
  auto* a = add.mutable_attributes();
  a->set_next_hop("192.0.2.7");
  a->set_med(20);
  a->add_communities((65000u << 16) | 7);
  auto* seg = a->add_as_path();
  seg->set_type(v1::AsPathSegment::AS_SEQUENCE);
  seg->add_asns(64512);
  v1::AddRouteResponse ar;
  auto s = stub->AddRoute(ctx().get(), add, &ar);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::ListRoutesRequest req;
  req.mutable_prefix_filter()->set_prefix("198.51.100.0/24");
  auto routes = list_routes(*stub, req, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].prefix(), "198.51.100.0/24");
  EXPECT_EQ(routes[0].peer(), "");
  EXPECT_TRUE(routes[0].best());
  EXPECT_EQ(routes[0].attributes().next_hop(), "192.0.2.7");
  EXPECT_EQ(routes[0].attributes().med(), 20u);
  ASSERT_EQ(routes[0].attributes().communities_size(), 1);
  ASSERT_EQ(routes[0].attributes().as_path_size(), 1);
  EXPECT_EQ(routes[0].attributes().as_path(0).asns(0), 64512u);

  v1::GetRibSummaryResponse sum;
  ASSERT_TRUE(stub->GetRibSummary(ctx().get(), {}, &sum).ok());
  ASSERT_EQ(sum.families_size(), 2);
  EXPECT_EQ(sum.families(0).prefixes(), 1u);
  EXPECT_EQ(sum.families(0).paths(), 1u);

  v1::DeleteRouteRequest del;
  del.set_prefix("198.51.100.0/24");
  v1::DeleteRouteResponse dr;
  ASSERT_TRUE(stub->DeleteRoute(ctx().get(), del, &dr).ok());
  EXPECT_EQ(stub->DeleteRoute(ctx().get(), del, &dr).error_code(), grpc::StatusCode::NOT_FOUND);
  routes = list_routes(*stub, req, &s);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(routes.empty());

  // A next hop of the wrong family is refused with a message naming the field.
  add.set_prefix("2001:db8::/32");
  s = stub->AddRoute(ctx().get(), add, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("attributes.next_hop"), std::string::npos) << s.error_message();
}

TEST_F(ApiServer, ListRoutesNeedsAKnownPeerForAdjRibs) {
  auto stub = RibService::NewStub(ch);
  v1::ListRoutesRequest req;
  req.set_table(v1::TABLE_ADJ_RIB_IN);
  grpc::Status s;
  list_routes(*stub, req, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_peer("192.0.2.99");
  list_routes(*stub, req, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

wire::Prefix nth_prefix(uint32_t i) {
  wire::Prefix p;
  p.addr = wire::IpAddr::v4(0x0A000000u + (i << 8));
  p.len = 24;
  return p;
}

// 100k routes streamed in batches while the RIB changes between batches: every route
// present for the whole listing arrives exactly once.
TEST_F(ApiServer, StreamsAHundredThousandRoutesInBatchesWhileTheRibChanges) {
  constexpr uint32_t kRoutes = 100000;
  d->on_loop([](session::Speaker& sp) {
    wire::PathAttributes a;
    a.next_hop = *wire::IpAddr::parse("192.0.2.1");
    for (uint32_t i = 0; i < kRoutes; ++i) sp.rib().originate(nth_prefix(i), a);
    // Churn: these are withdrawn during the listing.
    for (uint32_t i = kRoutes; i < kRoutes + 5000; ++i) sp.rib().originate(nth_prefix(i), a);
  });
  auto stub = RibService::NewStub(ch);
  v1::ListRoutesRequest req;
  req.set_batch_size(1000);
  auto c = ctx(120);
  auto reader = stub->ListRoutes(c.get(), req);
  v1::ListRoutesResponse resp;
  std::map<std::string, int> seen;
  size_t messages = 0;
  uint32_t next_new = 200000, next_del = kRoutes;
  while (reader->Read(&resp)) {
    ++messages;
    EXPECT_LE(resp.routes_size(), 1000);
    for (auto& r : resp.routes()) ++seen[r.prefix()];
    // Modify the RIB between batches (through the event loop, like any other owner).
    d->on_loop([&](session::Speaker& sp) {
      wire::PathAttributes a;
      a.next_hop = *wire::IpAddr::parse("192.0.2.2");
      for (int k = 0; k < 50 && next_del < kRoutes + 5000; ++k) sp.rib().withdraw_local(nth_prefix(next_del++));
      for (int k = 0; k < 500; ++k) sp.rib().originate(nth_prefix(next_new++), a);
    });
  }
  auto s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(messages, kRoutes / 1000);
  for (uint32_t i = 0; i < kRoutes; ++i) {
    auto it = seen.find(nth_prefix(i).to_string());
    ASSERT_NE(it, seen.end()) << nth_prefix(i).to_string();
    ASSERT_EQ(it->second, 1) << nth_prefix(i).to_string();
  }
  for (auto& [p, n] : seen) ASSERT_EQ(n, 1) << p;
}

TEST_F(ApiServer, EventsStreamReceivesPeerStateChanges) {
  auto events = EventService::NewStub(ch);
  v1::WatchEventsRequest w;
  w.set_peer_state(true);
  auto c = ctx(20);
  auto reader = events->WatchEvents(c.get(), w);
  reader->WaitForInitialMetadata();  // subscribed

  auto peers = PeerService::NewStub(ch);
  v1::AddPeerRequest add;
  add.mutable_peer()->set_address("127.0.0.1");
  add.mutable_peer()->set_remote_as(65001);
  add.mutable_peer()->set_port(1);  // refused at once
  v1::AddPeerResponse ar;
  ASSERT_TRUE(peers->AddPeer(ctx().get(), add, &ar).ok());

  v1::Event ev;
  ASSERT_TRUE(reader->Read(&ev));
  ASSERT_TRUE(ev.has_peer_state());
  EXPECT_EQ(ev.peer_state().address(), "127.0.0.1");
  EXPECT_EQ(ev.peer_state().from(), v1::SESSION_STATE_IDLE);
  EXPECT_EQ(ev.peer_state().to(), v1::SESSION_STATE_CONNECT);
  EXPECT_GT(ev.time_unix_nanos(), 0);
  EXPECT_EQ(ev.dropped_before(), 0u);
  c->TryCancel();
  reader->Finish();
}

TEST_F(ApiServer, EventsStreamReceivesBestPathChanges) {
  auto events = EventService::NewStub(ch);
  v1::WatchEventsRequest w;
  w.set_best_path(true);
  auto c = ctx(20);
  auto reader = events->WatchEvents(c.get(), w);
  reader->WaitForInitialMetadata();
  auto rib = RibService::NewStub(ch);
  v1::AddRouteRequest add;
  add.set_prefix("203.0.113.0/24");
  v1::AddRouteResponse ar;
  ASSERT_TRUE(rib->AddRoute(ctx().get(), add, &ar).ok());
  v1::Event ev;
  ASSERT_TRUE(reader->Read(&ev));
  ASSERT_TRUE(ev.has_best_path());
  EXPECT_EQ(ev.best_path().prefix(), "203.0.113.0/24");
  EXPECT_FALSE(ev.best_path().withdrawn());
  c->TryCancel();
  reader->Finish();
}

// A subscriber that does not read loses events, and is told how many.
TEST(EventHub, FullQueueCountsDropsAndReportsThemOnTheNextEvent) {
  api::EventSubscription sub(api::EventFilter{true, false, std::nullopt}, 2);
  v1::Event e;
  for (int i = 0; i < 5; ++i) {
    e.set_time_unix_nanos(i);
    sub.push(e);
  }
  EXPECT_EQ(sub.dropped_total(), 3u);
  v1::Event out;
  ASSERT_TRUE(sub.next(out, std::chrono::milliseconds(10)));
  EXPECT_EQ(out.dropped_before(), 0u);
  ASSERT_TRUE(sub.next(out, std::chrono::milliseconds(10)));
  EXPECT_EQ(out.dropped_before(), 0u);
  e.set_time_unix_nanos(9);
  sub.push(e);
  ASSERT_TRUE(sub.next(out, std::chrono::milliseconds(10)));
  EXPECT_EQ(out.time_unix_nanos(), 9);
  EXPECT_EQ(out.dropped_before(), 3u);
  EXPECT_FALSE(sub.next(out, std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace api_test
