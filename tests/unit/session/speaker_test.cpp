// Speakers in one process talking over real sockets in a private network namespace
// (192.0.2.1-3 on its loopback, same port; 127/8 is not a valid BGP next hop): both sides dial, so collision resolution runs; routes flow
// both ways; the tap sees contiguous stream offsets; reload and shutdown behave.
#include "bgpd/session/speaker.hpp"

#include "tests/unit/private_netns.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

uint16_t test_port() { return 179; }  // a private namespace: the real port is free

config::Config make_config(const char* self, uint32_t as, const char* peer, uint32_t peer_as, uint16_t port) {
  config::Config c;
  c.file = "test";
  c.router_id = wire::IpAddr::parse(self)->v4_host_order();
  c.local_as = as;
  c.listen = {*wire::IpAddr::parse(self)};
  c.port = port;
  config::PeerConfig p;
  p.address = *wire::IpAddr::parse(peer);
  p.remote_as = peer_as;
  p.local_address = wire::IpAddr::parse(self);
  p.port = port;
  p.hold_time = 9;
  p.connect_retry = 1;
  p.families = {wire::kIpv4Unicast};
  c.peers.push_back(p);
  return c;
}

config::NetworkConfig network(const char* prefix, uint32_t community) {
  config::NetworkConfig n;
  n.prefix = *wire::Prefix::parse(prefix);
  n.communities = {community};
  return n;
}

// Records every tapped byte range and checks that offsets are contiguous.
class RecordingTap : public SessionTap {
 public:
  void on_open(const wire::IpAddr&, uint64_t id, const Endpoints&) override { next_[id] = {0, 0}; }
  void on_bytes(uint64_t id, Direction dir, uint64_t offset, std::span<const uint8_t> bytes) override {
    auto& n = next_[id];
    uint64_t& expect = dir == Direction::Inbound ? n.first : n.second;
    if (offset != expect) gaps++;
    expect = offset + bytes.size();
    (dir == Direction::Inbound ? in_bytes : out_bytes) += bytes.size();
  }
  void on_close(uint64_t) override { closes++; }
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> next_;
  int gaps = 0, closes = 0;
  uint64_t in_bytes = 0, out_bytes = 0;
};

class SpeakerTest : public test::PrivateNetnsTest<SpeakerTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo && ip addr add 192.0.2.3/32 dev lo";
};

bool run_until(asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
    if (cond()) return true;
  }
  return cond();
}

fsm::State state_of(const Speaker& s) { return s.status().at(0).state; }

size_t best_count(const Speaker& s) { return s.rib().loc_rib_size(wire::kIpv4Unicast); }

const wire::PathAttributes* best_for(const Speaker& s, const char* prefix) {
  const wire::PathAttributes* found = nullptr;
  auto want = *wire::Prefix::parse(prefix);
  s.rib().for_each_best(wire::kIpv4Unicast, [&](const wire::Prefix& p, const rib::PathView& v) {
    if (p == want) found = v.attrs;
  });
  return found;
}

TEST_F(SpeakerTest, TwoSpeakersEstablishExchangeRoutesAndShutDown) {
  asio::io_context io;
  uint16_t port = test_port();
  auto ca = make_config("192.0.2.1", 65001, "192.0.2.2", 4200000002, port);
  auto cb = make_config("192.0.2.2", 4200000002, "192.0.2.1", 65001, port);
  ca.networks.push_back(network("10.1.0.0/16", 0xFDE90001));
  cb.networks.push_back(network("10.2.0.0/16", 0xFDEA0002));

  Speaker a(io, ca), b(io, cb);
  RecordingTap tap;
  a.add_tap(&tap);
  std::string err;
  ASSERT_TRUE(a.start(err)) << err;
  ASSERT_TRUE(b.start(err)) << err;

  ASSERT_TRUE(run_until(io, [&] {
    return state_of(a) == fsm::State::Established && state_of(b) == fsm::State::Established;
  }, 10s)) << "state a=" << fsm::to_string(state_of(a)) << " b=" << fsm::to_string(state_of(b));

  // Each side learns the other's network: eBGP, so AS prepended, next hop = sender.
  ASSERT_TRUE(run_until(io, [&] { return best_count(a) == 2 && best_count(b) == 2; }, 5s));
  const auto* on_b = best_for(b, "10.1.0.0/16");
  ASSERT_NE(on_b, nullptr);
  EXPECT_EQ(on_b->as_path.to_string(), "65001");
  ASSERT_TRUE(on_b->next_hop);
  EXPECT_EQ(on_b->next_hop->to_string(), "192.0.2.1");
  EXPECT_EQ(on_b->communities, std::vector<uint32_t>{0xFDE90001});
  const auto* on_a = best_for(a, "10.2.0.0/16");
  ASSERT_NE(on_a, nullptr);
  EXPECT_EQ(on_a->as_path.to_string(), "4200000002");

  // Exactly one session each (collision resolved), negotiated 4-octet AS.
  auto st = a.status().at(0);
  ASSERT_TRUE(st.negotiated);
  EXPECT_TRUE(st.negotiated->four_octet_as);
  EXPECT_EQ(st.negotiated->peer_as, 4200000002u);
  EXPECT_EQ(st.negotiated->hold_time, 9);

  // The tap saw both directions with contiguous offsets.
  EXPECT_EQ(tap.gaps, 0);
  EXPECT_GT(tap.in_bytes, 19u * 3);
  EXPECT_GT(tap.out_bytes, 19u * 3);

  // Reload without the network on A: B loses the route, the session is untouched.
  auto ca2 = ca;
  ca2.networks.clear();
  a.reconfigure(ca2);
  ASSERT_TRUE(run_until(io, [&] { return best_for(b, "10.1.0.0/16") == nullptr; }, 5s));
  EXPECT_EQ(state_of(b), fsm::State::Established);

  // A shuts down: B sees the session go down and drops A's routes.
  bool done = false;
  a.shutdown([&] { done = true; });
  ASSERT_TRUE(run_until(io, [&] { return done; }, 5s));
  ASSERT_TRUE(run_until(io, [&] { return state_of(b) != fsm::State::Established; }, 5s));
  EXPECT_EQ(best_for(b, "10.2.0.0/16") != nullptr, true);  // B's own route stays
  EXPECT_EQ(best_count(b), 1u);
  EXPECT_NE(b.status().at(0).last_error.find("Cease"), std::string::npos) << b.status().at(0).last_error;
}

TEST_F(SpeakerTest, ReloadAddsAndRemovesPeersWithoutDisturbingOthers) {
  asio::io_context io;
  uint16_t port = static_cast<uint16_t>(test_port() + 2);
  auto ca = make_config("192.0.2.1", 65001, "192.0.2.2", 65002, port);
  auto cb = make_config("192.0.2.2", 65002, "192.0.2.1", 65001, port);
  auto cc = make_config("192.0.2.3", 65003, "192.0.2.1", 65001, port);
  Speaker a(io, ca), b(io, cb), c(io, cc);
  std::string err;
  ASSERT_TRUE(a.start(err) && b.start(err) && c.start(err)) << err;
  ASSERT_TRUE(run_until(io, [&] { return state_of(b) == fsm::State::Established; }, 10s));
  auto b_since = b.status().at(0).established_since;
  EXPECT_NE(state_of(c), fsm::State::Established);  // A does not know C yet

  // Reload A with C added: C comes up, B's session is untouched.
  auto ca2 = ca;
  config::PeerConfig pc = ca.peers[0];
  pc.address = *wire::IpAddr::parse("192.0.2.3");
  pc.remote_as = 65003;
  ca2.peers.push_back(pc);
  a.reconfigure(ca2);
  ASSERT_TRUE(run_until(io, [&] { return state_of(c) == fsm::State::Established; }, 10s));
  EXPECT_EQ(state_of(b), fsm::State::Established);
  EXPECT_EQ(b.status().at(0).established_since, b_since);

  // Reload A without B: B is told (Cease/Peer De-configured), C is untouched.
  auto c_since = c.status().at(0).established_since;
  auto ca3 = ca2;
  ca3.peers.erase(ca3.peers.begin());
  a.reconfigure(ca3);
  ASSERT_TRUE(run_until(io, [&] { return state_of(b) != fsm::State::Established; }, 5s));
  EXPECT_NE(b.status().at(0).last_error.find("De-configured"), std::string::npos) << b.status().at(0).last_error;
  EXPECT_EQ(state_of(c), fsm::State::Established);
  EXPECT_EQ(c.status().at(0).established_since, c_since);
  EXPECT_EQ(a.status().size(), 1u);
}

TEST_F(SpeakerTest, RefusesUnknownPeerAndReportsListenError) {
  asio::io_context io;
  uint16_t port = static_cast<uint16_t>(test_port() + 1);
  auto ca = make_config("192.0.2.1", 65001, "192.0.2.9", 65009, port);
  ca.peers[0].passive = true;
  Speaker a(io, ca);
  std::string err;
  ASSERT_TRUE(a.start(err)) << err;

  // A stranger connecting is closed at once.
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("192.0.2.1"), port));
  std::array<uint8_t, 1> buf{};
  boost::system::error_code ec;
  bool closed = false;
  s.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& e, size_t) {
    ec = e;
    closed = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return closed; }, 5s));
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(a.connections_refused(), 1u);

  // A second speaker on the same address/port cannot listen: start() says why.
  Speaker b(io, ca);
  EXPECT_FALSE(b.start(err));
  EXPECT_NE(err.find("cannot listen"), std::string::npos) << err;
}

// Refusals go through the rate-limited log (RefusalLog): counted every one, the burst
// logged, and the rest summed up by the speaker's timer without a further connection,
// or when the speaker goes.
TEST_F(SpeakerTest, RefusalsAreCountedAndSummedUpWithoutAFurtherConnection) {
  asio::io_context io;
  uint16_t port = static_cast<uint16_t>(test_port() + 3);
  auto ca = make_config("192.0.2.1", 65001, "192.0.2.9", 65009, port);
  ca.peers[0].passive = true;
  std::vector<std::string> lines;
  auto a = std::make_unique<Speaker>(io, ca);
  RefusalLimits limits;
  limits.window = 1s;
  limits.burst = 2;
  a->set_refusal_log([&lines](RefusalLog::Level, const std::string& l) { lines.push_back(l); }, limits);
  std::string err;
  ASSERT_TRUE(a->start(err)) << err;

  auto stranger = [&] {  // from 192.0.2.1, which is not the configured peer
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("192.0.2.1"), port));
    std::array<uint8_t, 1> buf{};
    bool closed = false;
    s.async_read_some(asio::buffer(buf), [&](const boost::system::error_code&, size_t) { closed = true; });
    return run_until(io, [&] { return closed; }, 5s);
  };
  for (int i = 0; i < 5; i++) ASSERT_TRUE(stranger());
  EXPECT_EQ(a->connections_refused(), 5u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "connection from 192.0.2.1 refused: not a configured peer");

  ASSERT_TRUE(run_until(io, [&] { return lines.size() >= 3; }, 5s));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[2].starts_with("connection refusals: 3 more in the last 1.")) << lines[2];
  EXPECT_NE(lines[2].find("from 1 address (not a configured peer), latest from 192.0.2.1;"), std::string::npos)
      << lines[2];

  // A new window; the speaker goes while it holds one: its summary comes out then, and
  // the timer's cancelled handler does not touch the destroyed speaker (ASan).
  for (int i = 0; i < 3; i++) ASSERT_TRUE(stranger());
  EXPECT_EQ(a->connections_refused(), 8u);
  EXPECT_EQ(lines.size(), 5u);
  a.reset();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_TRUE(lines[5].starts_with("connection refusals: 1 more in the last 0.")) << lines[5];
  io.run_for(50ms);
  EXPECT_EQ(lines.size(), 6u);
}

}  // namespace
}  // namespace tandem::session
