// RFC 4271 §6.8 at the peer level, deterministically: a scripted peer accepts
// tandem's outgoing connection AND opens one to tandem, then sends its OPEN on the
// incoming one while the outgoing one is in OpenSent. The connection initiated by the
// higher BGP identifier must survive; the other gets Cease / Connection Collision
// Resolution (subcode 7) and is closed.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "bgpd/session/speaker.hpp"
#include "bgpd/wire/message.hpp"
#include "tests/unit/private_netns.hpp"
#include "tests/unit/session/message_io.hpp"

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

class CollisionTest : public test::PrivateNetnsTest<CollisionTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo";
};

config::Config tandem_config() {
  config::Config c;
  c.file = "test";
  c.router_id = wire::IpAddr::parse("192.0.2.1")->v4_host_order();
  c.local_as = 65001;
  c.listen = {*wire::IpAddr::parse("192.0.2.1")};
  config::PeerConfig p;
  p.address = *wire::IpAddr::parse("192.0.2.2");
  p.remote_as = 65002;
  p.local_address = wire::IpAddr::parse("192.0.2.1");
  p.families = {wire::kIpv4Unicast};
  c.peers.push_back(p);
  return c;
}

using msgio::Msg;
using msgio::read_msg;

std::vector<uint8_t> peer_open(const char* router_id) {
  wire::Open o;
  o.hold_time = 90;
  o.bgp_id = wire::IpAddr::parse(router_id)->v4_host_order();
  o.caps.four_octet_as = 65002;
  o.caps.multiprotocol = {wire::kIpv4Unicast};
  return wire::encode_open(o);
}

// Runs the scripted peer against a live speaker. Returns which connection got the
// Cease/7: "outgoing" (the one tandem initiated) or "incoming".
std::string run_collision(const char* peer_router_id, fsm::State& final_state) {
  asio::io_context io;  // the speaker's loop, on its own thread
  Speaker sp(io, tandem_config());
  asio::io_context tio;  // the scripted peer's blocking sockets
  tcp::acceptor acc(tio, tcp::endpoint(asio::ip::make_address("192.0.2.2"), 179));
  std::string err;
  EXPECT_TRUE(sp.start(err)) << err;
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  // Whatever happens below (a failed expectation throws nothing, but Asio may), the
  // loop thread is stopped and joined before the speaker goes away.
  struct Joiner {
    asio::io_context& io;
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) {
        io.stop();
        t.join();
      }
    }
  } joiner{io, loop};

  tcp::socket from_tandem(tio);
  acc.accept(from_tandem);  // tandem's outgoing connection
  tcp::socket to_tandem(tio);
  to_tandem.open(tcp::v4());
  to_tandem.bind(tcp::endpoint(asio::ip::make_address("192.0.2.2"), 0));
  to_tandem.connect(tcp::endpoint(asio::ip::make_address("192.0.2.1"), 179));

  // tandem sends its OPEN on both connections.
  auto o1 = read_msg(from_tandem), o2 = read_msg(to_tandem);
  EXPECT_TRUE(o1 && o1->type == wire::MessageType::Open);
  EXPECT_TRUE(o2 && o2->type == wire::MessageType::Open);

  // Our OPEN on both: the collision is detected when the second OPEN arrives.
  asio::write(to_tandem, asio::buffer(peer_open(peer_router_id)));
  asio::write(from_tandem, asio::buffer(peer_open(peer_router_id)));

  // The winner answers our OPEN with KEEPALIVE; the loser with NOTIFICATION only.
  std::string loser;
  for (auto* s : {&from_tandem, &to_tandem}) {
    auto m = read_msg(*s);
    EXPECT_TRUE(m.has_value());
    if (!m) continue;
    if (m->type == wire::MessageType::Notification) {
      auto n = wire::decode_notification(m->body);
      EXPECT_TRUE(n.ok());
      EXPECT_EQ(n->code, wire::err::kCease);
      EXPECT_EQ(n->subcode, wire::err::kConnectionCollision);
      EXPECT_TRUE(loser.empty()) << "both connections were refused";
      loser = s == &from_tandem ? "outgoing" : "incoming";
    } else {
      EXPECT_EQ(m->type, wire::MessageType::Keepalive);
      asio::write(*s, asio::buffer(wire::encode_keepalive()));  // complete the session
    }
  }

  // Let the survivor reach Established, then read the state on the loop's thread.
  std::this_thread::sleep_for(200ms);
  std::promise<fsm::State> st;
  asio::post(io, [&] { st.set_value(sp.status().at(0).state); });
  final_state = st.get_future().get();
  asio::post(io, [&] { sp.shutdown([&] { work.reset(); }); });
  loop.join();
  return loser;
}

TEST_F(CollisionTest, HigherRemoteIdKeepsTheConnectionThePeerOpened) {
  fsm::State final_state{};
  EXPECT_EQ(run_collision("192.0.2.200", final_state), "outgoing");
  EXPECT_EQ(final_state, fsm::State::Established);
}

TEST_F(CollisionTest, LowerRemoteIdKeepsTheConnectionWeOpened) {
  fsm::State final_state{};
  EXPECT_EQ(run_collision("10.0.0.1", final_state), "incoming");
  EXPECT_EQ(final_state, fsm::State::Established);
}

}  // namespace
}  // namespace tandem::session
