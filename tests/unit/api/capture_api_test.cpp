// CaptureService and RibService.InjectRoutes against a real BGP session: two speakers
// in one process over 127.0.0.1 (daemon A listens, speaker B dials it), as in
// session_api_test. The capture sees a hard reset and the new session, with stream
// offsets and (when the process may use TCP_REPAIR) the sequence numbers B's socket has;
// injected routes reach A's RIB and B.
#include <thread>

#include "api_test_util.hpp"
#include "tandem/v1/capture.grpc.pb.h"
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

class CaptureApi : public ::testing::Test {
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
    config::ApiConfig api;
    api.socket = "";
    d = std::make_unique<Daemon>(api, ca);
    ASSERT_TRUE(d->started()) << d->error();
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
    captures = v1::CaptureService::NewStub(d->channel());
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

  v1::SessionState state() {
    v1::GetPeerRequest g;
    g.set_address("127.0.0.1");
    v1::Peer p;
    EXPECT_TRUE(peers->GetPeer(ctx().get(), g, &p).ok());
    return p.state().state();
  }
  bool wait_established() {
    for (int i = 0; i < 100; ++i) {
      if (state() == v1::SESSION_STATE_ESTABLISHED) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  uint16_t port = 0;
  std::unique_ptr<Daemon> d;
  std::unique_ptr<session::Speaker> b;
  std::unique_ptr<v1::PeerService::Stub> peers;
  std::unique_ptr<v1::RibService::Stub> ribs;
  std::unique_ptr<v1::CaptureService::Stub> captures;
};

TEST_F(CaptureApi, HardResetAndTheNewSession) {
  ASSERT_TRUE(wait_established());
  // A capture whose stream is read by a thread until the session is back.
  v1::CaptureRequest req;
  req.set_peer("127.0.0.1");
  req.set_include_data(true);
  grpc::ClientContext cc;
  auto reader = captures->Capture(&cc, req);
  reader->WaitForInitialMetadata();  // subscribed
  std::vector<v1::CaptureRecord> recs;
  std::mutex mu;
  std::thread t([&] {
    v1::CaptureRecord r;
    while (reader->Read(&r)) {
      std::lock_guard lk(mu);
      recs.push_back(r);
    }
  });
  v1::ResetPeerRequest rr;
  rr.set_address("127.0.0.1");
  v1::ResetPeerResponse rresp;
  ASSERT_TRUE(peers->ResetPeer(ctx().get(), rr, &rresp).ok());
  // Back: Established again and B's End-of-RIB received on the new connection.
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lk(mu);
    // (Received messages are published as they are read, before the FSM handles them:
    // the End-of-RIB read with the KEEPALIVE comes before the state change record.)
    bool up = false, eor = false;
    for (const auto& r : recs) {
      if (r.has_state_change() && r.state_change().to() == v1::SESSION_STATE_ESTABLISHED) up = true;
      if (r.has_message() && r.message().summary().starts_with("UPDATE End-of-RIB") &&
          r.message().direction() == v1::CAPTURE_DIRECTION_RECEIVED)
        eor = true;
    }
    back = up && eor;
  }
  if (!back) {
    cc.TryCancel();
    t.join();
    std::string all;
    for (const auto& r : recs) all += r.ShortDebugString().substr(0, 200) + "\n";
    FAIL() << "the session did not come back in the capture; records:\n" << all;
  }

  // The new connection's bases as B sees them (its send base is A's receive base).
  uint64_t conn = 0;
  {
    std::lock_guard lk(mu);
    for (const auto& r : recs)
      if (r.has_message() && r.message().type() == v1::BGP_MESSAGE_TYPE_OPEN) conn = r.message().connection_id();
  }
  std::optional<session::SeqBases> b_bases;
  std::string why;
  d->on_loop([&](session::Speaker&) {
    if (auto* p = b->find_peer(*wire::IpAddr::parse("127.0.0.1")))
      if (auto* c = p->established_connection()) b_bases = c->tcp_seq_bases(why);
  });
  cc.TryCancel();
  t.join();

  bool notification = false, open_in = false, open_out = false;
  int down = 0;
  for (const auto& r : recs) {
    if (r.has_state_change() && r.state_change().from() == v1::SESSION_STATE_ESTABLISHED) ++down;
    if (!r.has_message()) continue;
    const auto& m = r.message();
    EXPECT_EQ(m.peer(), "127.0.0.1");
    EXPECT_EQ(m.data().size(), m.length());
    EXPECT_FALSE(m.summary().empty());
    if (m.type() == v1::BGP_MESSAGE_TYPE_NOTIFICATION && m.direction() == v1::CAPTURE_DIRECTION_SENT) {
      notification = true;
      EXPECT_EQ(m.session().state(), v1::SESSION_STATE_ESTABLISHED) << "the state it was sent in";
      EXPECT_NE(m.summary().find("Cease"), std::string::npos) << m.summary();
    }
    if (m.connection_id() != conn) continue;
    if (m.type() == v1::BGP_MESSAGE_TYPE_OPEN) {
      (m.direction() == v1::CAPTURE_DIRECTION_SENT ? open_out : open_in) = true;
      EXPECT_EQ(m.stream_offset(), 0u);
    }
    if (m.type() == v1::BGP_MESSAGE_TYPE_UPDATE) {
      // Sent: in Established. Received: the state when read (B's first UPDATEs may come
      // with its KEEPALIVE, read in OpenConfirm).
      if (m.direction() == v1::CAPTURE_DIRECTION_SENT) {
        EXPECT_EQ(m.session().state(), v1::SESSION_STATE_ESTABLISHED);
      } else {
        EXPECT_TRUE(m.session().state() == v1::SESSION_STATE_ESTABLISHED ||
                    m.session().state() == v1::SESSION_STATE_OPEN_CONFIRM);
      }
      EXPECT_EQ(m.session().negotiated().peer_as(), 65002u);
    }
    if (m.tcp_seq_known() && b_bases) {
      // What A receives B sent, and the other way round.
      const uint32_t base = m.direction() == v1::CAPTURE_DIRECTION_RECEIVED ? b_bases->send_seq_base
                                                                            : b_bases->recv_seq_base;
      EXPECT_EQ(m.tcp_seq(), static_cast<uint32_t>(base + m.stream_offset())) << m.summary();
    } else if (!m.tcp_seq_known()) {
      EXPECT_FALSE(m.tcp_seq_unknown().empty());
    }
  }
  EXPECT_TRUE(notification);
  EXPECT_GE(down, 1);
  EXPECT_TRUE(open_in && open_out);
  if (!b_bases) std::cout << "(sequence numbers not cross-checked: " << why << ")\n";
}

TEST_F(CaptureApi, InvalidRequestsAreRefused) {
  v1::CaptureRequest req;
  req.set_peer("not an address");
  auto c = ctx();
  auto reader = captures->Capture(c.get(), req);
  v1::CaptureRecord r;
  EXPECT_FALSE(reader->Read(&r));
  auto s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_peer("");
  req.add_types(static_cast<v1::BgpMessageType>(9));
  auto c2 = ctx();
  reader = captures->Capture(c2.get(), req);
  EXPECT_FALSE(reader->Read(&r));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CaptureApi, CountEndsTheStream) {
  ASSERT_TRUE(wait_established());
  v1::CaptureRequest req;
  req.add_types(v1::BGP_MESSAGE_TYPE_ROUTE_REFRESH);
  req.set_count(1);
  auto c = ctx();
  auto reader = captures->Capture(c.get(), req);
  reader->WaitForInitialMetadata();
  v1::ResetPeerRequest rr;
  rr.set_address("127.0.0.1");
  rr.set_kind(v1::ResetPeerRequest::KIND_SOFT_IN);
  v1::ResetPeerResponse rresp;
  ASSERT_TRUE(peers->ResetPeer(ctx().get(), rr, &rresp).ok());
  std::vector<v1::CaptureRecord> got;
  v1::CaptureRecord r;
  while (reader->Read(&r)) got.push_back(r);
  EXPECT_TRUE(reader->Finish().ok());
  int messages = 0;
  for (const auto& x : got) {
    if (!x.has_message()) continue;
    ++messages;
    EXPECT_EQ(x.message().type(), v1::BGP_MESSAGE_TYPE_ROUTE_REFRESH);
    EXPECT_EQ(x.message().direction(), v1::CAPTURE_DIRECTION_SENT);
    EXPECT_TRUE(x.message().data().empty());  // not asked for
  }
  EXPECT_EQ(messages, 1);
}

TEST_F(CaptureApi, InjectRoutesInBatches) {
  ASSERT_TRUE(wait_established());
  auto c = ctx();
  v1::InjectRoutesResponse resp;
  auto w = ribs->InjectRoutes(c.get(), &resp);
  v1::InjectRoutesRequest req;
  auto* g = req.add_groups();
  g->mutable_attributes()->set_med(7);
  auto* seg = g->mutable_attributes()->add_as_path();
  seg->set_type(v1::AsPathSegment::AS_SEQUENCE);
  seg->add_asns(65100);
  for (int i = 0; i < 5000; ++i)
    g->add_prefixes("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24");
  auto* g6 = req.add_groups();
  g6->mutable_attributes()->set_next_hop("2001:db8::9");
  g6->add_prefixes("2001:db8:1::/48");
  ASSERT_TRUE(w->Write(req));
  req.Clear();
  req.add_groups()->add_prefixes("192.0.2.0/24");
  ASSERT_TRUE(w->Write(req));
  w->WritesDone();
  auto s = w->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.routes(), 5002u);
  EXPECT_EQ(resp.requests(), 2u);
  // Originated and advertised to B (which ignores them: A's next hop, 127.0.0.1, is
  // its own address too).
  size_t api_routes = 0, out4 = 0, out6 = 0;
  for (int i = 0; i < 50 && out4 < 5001; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    d->on_loop([&](session::Speaker& sp) {
      api_routes = sp.api_routes().size();
      if (const auto* p = sp.find_peer(*wire::IpAddr::parse("127.0.0.1"))) {
        out4 = sp.rib().adj_out_count(p->id(), wire::kIpv4Unicast);
        out6 = sp.rib().adj_out_count(p->id(), wire::kIpv6Unicast);
      }
    });
  }
  EXPECT_EQ(api_routes, 5002u);
  EXPECT_EQ(out4, 5001u);
  EXPECT_EQ(out6, 1u);  // with its own next hop (the session has no IPv6 address of ours)

  // An invalid request ends the call; what came before stays.
  auto c2 = ctx();
  auto w2 = ribs->InjectRoutes(c2.get(), &resp);
  req.Clear();
  req.add_groups()->add_prefixes("198.51.100.0/24");
  ASSERT_TRUE(w2->Write(req));
  req.Clear();
  auto* bad = req.add_groups();
  bad->add_prefixes("198.51.101.0/24");
  bad->add_prefixes("2001:db8:2::/48");  // another family in one group
  w2->Write(req);
  w2->WritesDone();
  s = w2->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request 2 (after 1 routes injected): groups[0].prefixes[1]"), std::string::npos)
      << s.error_message();
  d->on_loop([&](session::Speaker& sp) { api_routes = sp.api_routes().size(); });
  EXPECT_EQ(api_routes, 5003u);
}

}  // namespace
}  // namespace api_test
