// Graceful restart, helper role (RFC 4724 §4.2, RFC 8538), end to end over real
// sockets in a private network namespace: a scripted peer speaks BGP to a live
// Speaker (tandem's peer is passive, so the scripted peer dials each session),
// announces prefixes, then ends the session in various ways; the test checks what the
// RIB keeps, marks stale and removes, and the peer's GR state.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <thread>

#include "bgpd/session/speaker.hpp"
#include "bgpd/wire/message.hpp"
#include "tests/unit/private_netns.hpp"

namespace tandem::session {
namespace {

using namespace std::chrono_literals;

constexpr rib::PeerId kPeerId = 1;  // the speaker's first peer

class GracefulRestartTest : public test::PrivateNetnsTest<GracefulRestartTest> {
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
  p.passive = true;
  p.families = {wire::kIpv4Unicast};
  c.peers.push_back(p);
  c.graceful_restart.restart_time = 100;
  c.graceful_restart.notification = true;
  return c;
}

// A live Speaker on its own loop thread.
class Daemon {
 public:
  explicit Daemon(const config::Config& c) : sp_(io_, c), work_(asio::make_work_guard(io_)) {
    std::string err;
    EXPECT_TRUE(sp_.start(err)) << err;
    loop_ = std::thread([this] { io_.run(); });
  }
  ~Daemon() {
    asio::post(io_, [this] { sp_.shutdown([this] { work_.reset(); }); });
    loop_.join();
  }
  // Run `f` on the loop thread and return its result.
  template <class F>
  auto on_loop(F f) {
    std::promise<decltype(f())> p;
    asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }
  // stale flag per prefix of the peer's Adj-RIB-In
  std::map<std::string, bool> routes() {
    return on_loop([this] {
      std::map<std::string, bool> out;
      rib::ListQuery q;
      q.table = rib::ListTable::AdjRibIn;
      q.family = wire::kIpv4Unicast;
      q.peer = kPeerId;
      rib::ListCursor cur;
      std::vector<rib::ListedRoute> batch;
      while (!cur.done) sp_.rib().list_routes(q, cur, 1000, batch);
      for (const auto& r : batch) out[r.prefix.to_string()] = r.stale;
      return out;
    });
  }
  PeerStatus status() {
    return on_loop([this] { return sp_.status().at(0); });
  }
  size_t loc_rib() {
    return on_loop([this] { return sp_.rib().loc_rib_size(wire::kIpv4Unicast); });
  }
  // Poll until `pred` holds (true) or `timeout` passes (false).
  template <class P>
  bool wait_for(P pred, std::chrono::milliseconds timeout = 5000ms) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }

 private:
  asio::io_context io_;
  Speaker sp_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread loop_;
};

struct Msg {
  wire::MessageType type;
  std::vector<uint8_t> body;
};

std::optional<Msg> read_msg(tcp::socket& s) {
  std::vector<uint8_t> hdr(wire::kHeaderLen);
  boost::system::error_code ec;
  asio::read(s, asio::buffer(hdr), ec);
  if (ec) return std::nullopt;
  auto h = wire::decode_header(hdr, wire::kMaxExtendedMessageLen);
  if (!h) return std::nullopt;
  Msg m{h->type, std::vector<uint8_t>(h->length - wire::kHeaderLen)};
  asio::read(s, asio::buffer(m.body), ec);
  if (ec) return std::nullopt;
  return m;
}

wire::GracefulRestartCap gr_cap(uint16_t restart_time, bool n_bit, bool forwarding = true) {
  wire::GracefulRestartCap gr;
  gr.restart_time = restart_time;
  gr.notification = n_bit;
  gr.families = {{wire::kIpv4Unicast, forwarding}};
  return gr;
}

// The scripted peer: one BGP session to tandem per connect().
class ScriptedPeer {
 public:
  // Dial tandem, exchange OPENs and KEEPALIVEs. Returns tandem's OPEN.
  std::optional<wire::Open> connect(std::optional<wire::GracefulRestartCap> gr) {
    s_ = std::make_unique<tcp::socket>(io_);
    s_->open(tcp::v4());
    s_->bind(tcp::endpoint(asio::ip::make_address("192.0.2.2"), 0));
    boost::system::error_code ec;
    s_->connect(tcp::endpoint(asio::ip::make_address("192.0.2.1"), 179), ec);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) return std::nullopt;
    auto m = read_msg(*s_);
    EXPECT_TRUE(m && m->type == wire::MessageType::Open);
    if (!m || m->type != wire::MessageType::Open) return std::nullopt;
    auto theirs = wire::decode_open(m->body);
    EXPECT_TRUE(theirs.ok());
    wire::Open o;
    o.hold_time = 90;
    o.bgp_id = wire::IpAddr::parse("192.0.2.2")->v4_host_order();
    o.caps.four_octet_as = 65002;
    o.caps.multiprotocol = {wire::kIpv4Unicast};
    o.caps.graceful_restart = gr;
    asio::write(*s_, asio::buffer(wire::encode_open(o)));
    asio::write(*s_, asio::buffer(wire::encode_keepalive()));
    auto k = read_msg(*s_);
    EXPECT_TRUE(k && k->type == wire::MessageType::Keepalive);
    if (!theirs.ok()) return std::nullopt;
    return theirs.value();
  }
  void announce(const std::vector<std::string>& prefixes) {
    wire::PathAttributes a;
    a.origin = wire::Origin::Igp;
    a.has_origin = true;
    a.as_path.segments.push_back({wire::AsPathSegment::Sequence, {65002}});
    a.has_as_path = true;
    a.next_hop = wire::IpAddr::parse("192.0.2.2");
    std::vector<wire::Prefix> ps;
    for (const auto& p : prefixes) ps.push_back(*wire::Prefix::parse(p));
    wire::CodecOptions opts;
    for (auto& msg : wire::encode_announcements(a, wire::kIpv4Unicast, ps, opts)) asio::write(*s_, asio::buffer(msg));
  }
  void end_of_rib() { asio::write(*s_, asio::buffer(wire::encode_end_of_rib(wire::kIpv4Unicast))); }
  // End the session: optionally with a NOTIFICATION, then FIN; read until tandem closes.
  void drop(std::optional<wire::Notification> n = std::nullopt) {
    if (n) asio::write(*s_, asio::buffer(wire::encode_notification(*n)));
    boost::system::error_code ec;
    s_->shutdown(tcp::socket::shutdown_send, ec);
    std::vector<uint8_t> buf(65536);
    while (!ec) s_->read_some(asio::buffer(buf), ec);
    s_->close(ec);
  }

 private:
  asio::io_context io_;
  std::unique_ptr<tcp::socket> s_;
};

const std::vector<std::string> kPrefixes{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"};

bool all_stale(const std::map<std::string, bool>& r, bool stale) {
  for (const auto& [p, s] : r)
    if (s != stale) return false;
  return true;
}

// Connect, announce kPrefixes and End-of-RIB; wait until tandem has them.
void establish_with_routes(Daemon& d, ScriptedPeer& peer, std::optional<wire::GracefulRestartCap> gr) {
  ASSERT_TRUE(peer.connect(gr).has_value());
  peer.announce(kPrefixes);
  peer.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }));
  EXPECT_TRUE(all_stale(d.routes(), false));
}

TEST_F(GracefulRestartTest, AdvertisesCapabilityWithForwardingStatePerFamily) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.graceful_restart.has_value());
  const auto& gr = *open->caps.graceful_restart;
  EXPECT_FALSE(gr.restart_state);  // a fresh start, not a restart
  EXPECT_TRUE(gr.notification);
  EXPECT_EQ(gr.restart_time, 100);
  // [graceful_restart] families (both by default) limited to the peer's (IPv4 only).
  ASSERT_EQ(gr.families.size(), 1u);
  EXPECT_EQ(gr.families[0].family, wire::kIpv4Unicast);
  EXPECT_TRUE(gr.families[0].forwarding_state);
  EXPECT_FALSE(open->caps.llgr.has_value());  // long_lived_stale_time = 0
  peer.drop();
}

TEST_F(GracefulRestartTest, HelperOnlyCapabilityWhenNoFamiliesConfigured) {
  auto c = tandem_config();
  c.graceful_restart.families.clear();
  c.graceful_restart.forwarding_state.clear();
  Daemon d(c);
  ScriptedPeer peer;
  auto open = peer.connect(gr_cap(2, false));
  ASSERT_TRUE(open.has_value());
  ASSERT_TRUE(open->caps.graceful_restart.has_value());
  EXPECT_TRUE(open->caps.graceful_restart->families.empty());  // RFC 4724 §3: helper only
  peer.drop();
}

TEST_F(GracefulRestartTest, DisabledPeerDoesNotAdvertiseNorHelp) {
  auto c = tandem_config();
  c.peers[0].graceful_restart = false;
  Daemon d(c);
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(gr_cap(30, false)).has_value());
  peer.drop();
  ScriptedPeer p2;
  auto open = p2.connect(gr_cap(30, false));
  ASSERT_TRUE(open.has_value());
  EXPECT_FALSE(open->caps.graceful_restart.has_value());
  p2.announce(kPrefixes);
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }));
  p2.drop();
  EXPECT_TRUE(d.wait_for([&] { return d.routes().empty(); }));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, DropWithoutNotificationKeepsStaleThenEndOfRibSweeps) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(2, false));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);

  peer.drop();  // TCP closed, no NOTIFICATION
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
  EXPECT_EQ(d.loc_rib(), kPrefixes.size());  // still used for forwarding
  auto st = d.status();
  EXPECT_GE(st.gr_timer_remaining_seconds, 1u);
  EXPECT_LE(st.gr_timer_remaining_seconds, 2u);
  EXPECT_EQ(st.gr_stale_families, std::vector<wire::Family>{wire::kIpv4Unicast});

  // The peer comes back within its restart time and re-announces all but one prefix.
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(2, false)).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingEor; }));
  again.announce({kPrefixes[0], kPrefixes[1]});
  ASSERT_TRUE(d.wait_for([&] {
    auto rr = d.routes();
    return rr.size() == 3 && !rr[kPrefixes[0]] && !rr[kPrefixes[1]] && rr[kPrefixes[2]];
  }));
  // The restart timer (2 s) no longer runs: the stale route waits for End-of-RIB.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(d.routes().size(), 3u);
  EXPECT_EQ(d.status().gr_state, GrHelperState::WaitingEor);

  again.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::None; }));
  r = d.routes();
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.count(kPrefixes[2]), 0u);
  EXPECT_TRUE(all_stale(r, false));
  again.drop();
}

TEST_F(GracefulRestartTest, RestartTimerExpiryRemovesStaleRoutes) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(1, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  EXPECT_EQ(d.routes().size(), kPrefixes.size());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 4000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  EXPECT_EQ(d.loc_rib(), 0u);
}

TEST_F(GracefulRestartTest, HardResetRemovesRoutesAtOnce) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, true));
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kHardReset, {wire::err::kCease, wire::err::kAdminReset}});
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, NotificationWithNBitKeepsStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, true));
  EXPECT_TRUE(d.status().gr_notification);
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kAdminReset, {}});
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
}

TEST_F(GracefulRestartTest, NotificationWithoutNBitRemovesRoutes) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  EXPECT_FALSE(d.status().gr_notification);
  peer.drop(wire::Notification{wire::err::kCease, wire::err::kAdminReset, {}});
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, PeerWithoutCapabilityLosesRoutesAtOnce) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, std::nullopt);
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(GracefulRestartTest, ReestablishedWithoutForwardingStateRemovesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  EXPECT_EQ(d.routes().size(), kPrefixes.size());
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false, /*forwarding=*/false)).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  again.drop();
}

TEST_F(GracefulRestartTest, ReestablishedWithoutCapabilityRemovesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(std::nullopt).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.routes().empty(); }, 3000ms));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
  again.drop();
}

TEST_F(GracefulRestartTest, SecondDropBeforeEndOfRibKeepsRoutesStale) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  establish_with_routes(d, peer, gr_cap(100, false));
  peer.drop();
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  ScriptedPeer again;
  ASSERT_TRUE(again.connect(gr_cap(100, false)).has_value());
  again.announce({kPrefixes[0]});
  ASSERT_TRUE(d.wait_for([&] { return !d.routes()[kPrefixes[0]]; }));
  again.drop();  // down again before End-of-RIB
  ASSERT_TRUE(d.wait_for([&] { return d.status().gr_state == GrHelperState::WaitingRestart; }));
  auto r = d.routes();
  EXPECT_EQ(r.size(), kPrefixes.size());
  EXPECT_TRUE(all_stale(r, true));
  EXPECT_GE(d.status().gr_timer_remaining_seconds, 99u);
}

}  // namespace
}  // namespace tandem::session
