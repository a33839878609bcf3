// Shared fixture of the graceful-restart tests (helper, restarting speaker, LLGR): a
// live Speaker on its own loop thread (Daemon) and scripted BGP peers speaking to it
// over real sockets (ScriptedPeer), inside a private network namespace where
// 192.0.2.1 is tandem and 192.0.2.2 / 192.0.2.3 are the peers.
#pragma once

#include <poll.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bgpd/session/speaker.hpp"
#include "bgpd/wire/message.hpp"
#include "tests/unit/private_netns.hpp"
#include "tests/unit/session/message_io.hpp"

namespace tandem::session::grt {

using namespace std::chrono_literals;

inline constexpr rib::PeerId kPeerId = 1;  // the speaker's first peer
inline constexpr const char* kTandem = "192.0.2.1";
inline constexpr const char* kPeerA = "192.0.2.2";
inline constexpr const char* kPeerB = "192.0.2.3";
// The namespace setup for suites using kPeerA and kPeerB.
inline constexpr const char* kTwoPeerNetns =
    "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo && ip addr add 192.0.2.3/32 dev lo";

inline wire::IpAddr addr(const char* s) { return *wire::IpAddr::parse(s); }

inline config::PeerConfig peer_config(const char* address, uint32_t remote_as) {
  config::PeerConfig p;
  p.address = addr(address);
  p.remote_as = remote_as;
  p.passive = true;
  p.families = {wire::kIpv4Unicast};
  return p;
}

// tandem AS 65001 at 192.0.2.1, one passive IPv4 peer 192.0.2.2 AS 65002.
inline config::Config tandem_config() {
  config::Config c;
  c.file = "test";
  c.router_id = addr(kTandem).v4_host_order();
  c.local_as = 65001;
  c.listen = {addr(kTandem)};
  c.peers.push_back(peer_config(kPeerA, 65002));
  c.graceful_restart.restart_time = 100;
  c.graceful_restart.notification = true;
  return c;
}

inline config::NetworkConfig network(const char* prefix) {
  config::NetworkConfig n;
  n.prefix = *wire::Prefix::parse(prefix);
  return n;
}

// One route of an Adj-RIB-In as the tests look at it.
struct RouteView {
  bool stale = false;
  std::vector<uint32_t> communities;
  bool has_community(uint32_t c) const {
    for (auto x : communities)
      if (x == c) return true;
    return false;
  }
};

// A live Speaker on its own loop thread.
class Daemon {
 public:
  explicit Daemon(const config::Config& c, bool restarting = false)
      : sp_(io_, c), work_(asio::make_work_guard(io_)) {
    std::string err;
    EXPECT_TRUE(sp_.start(err, restarting)) << err;
    loop_ = std::thread([this] { io_.run(); });
  }
  ~Daemon() {
    asio::post(io_, [this] { sp_.shutdown([this] { work_.reset(); }); });
    loop_.join();
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Run `f` on the loop thread and return its result.
  template <class F>
  auto on_loop(F f) {
    std::promise<decltype(f())> p;
    asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }
  Speaker& speaker() { return sp_; }  // only from on_loop()

  // The peer's Adj-RIB-In: prefix -> stale flag and communities.
  std::map<std::string, RouteView> routes_of(rib::PeerId peer, wire::Family family = wire::kIpv4Unicast) {
    return on_loop([this, peer, family] {
      std::map<std::string, RouteView> out;
      rib::ListQuery q;
      q.table = rib::ListTable::AdjRibIn;
      q.family = family;
      q.peer = peer;
      rib::ListCursor cur;
      while (!cur.done) {
        std::vector<rib::ListedRoute> batch;
        sp_.rib().list_routes(q, cur, 1000, batch);
        for (const auto& r : batch) out[r.prefix.to_string()] = RouteView{r.stale, r.attrs->communities};
      }
      return out;
    });
  }
  // stale flag per prefix of the first peer's Adj-RIB-In
  std::map<std::string, bool> routes() {
    std::map<std::string, bool> out;
    for (const auto& [p, r] : routes_of(kPeerId)) out[p] = r.stale;
    return out;
  }
  // The first peer (by address) when no address is given.
  PeerStatus status(const char* address = nullptr) {
    return on_loop([this, address] {
      for (const auto& s : sp_.status())
        if (!address || s.address == addr(address)) return s;
      return PeerStatus{};
    });
  }
  size_t loc_rib() {
    return on_loop([this] { return sp_.rib().loc_rib_size(wire::kIpv4Unicast); });
  }
  // Selection deferral: family -> the peers still waited for.
  std::map<std::string, std::vector<rib::PeerId>> deferral_status() {
    return on_loop([this] {
      std::map<std::string, std::vector<rib::PeerId>> out;
      for (const auto& s : sp_.deferral().status()) out[s.family.to_string()] = s.waiting_for;
      return out;
    });
  }
  bool deferral_active() {
    return on_loop([this] { return sp_.deferral().active(); });
  }
  bool output_held(wire::Family f = wire::kIpv4Unicast) {
    return on_loop([this, f] { return sp_.rib().output_held(f); });
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

using msgio::Msg;
using msgio::read_msg;
using msgio::readable;

inline wire::GracefulRestartCap gr_cap(uint16_t restart_time, bool n_bit, bool forwarding = true,
                                       bool restart_state = false) {
  wire::GracefulRestartCap gr;
  gr.restart_time = restart_time;
  gr.notification = n_bit;
  gr.restart_state = restart_state;
  gr.families = {{wire::kIpv4Unicast, forwarding}};
  return gr;
}

inline wire::LlgrCap llgr_cap(uint32_t stale_time, bool forwarding = true) {
  wire::LlgrCap c;
  c.families = {{wire::kIpv4Unicast, forwarding, stale_time}};
  return c;
}

// What a scripted peer puts in its OPEN.
struct OpenCaps {
  std::optional<wire::GracefulRestartCap> gr;
  std::optional<wire::LlgrCap> llgr;
  // Pause between our OPEN and our KEEPALIVE (0: one write burst, which tandem then
  // usually reads as one batch).
  std::chrono::milliseconds keepalive_delay{0};
};

// What tandem sent to a scripted peer, decoded.
struct Received {
  std::map<std::string, wire::PathAttributes> announced;  // last announcement per prefix
  std::vector<std::string> withdrawn;
  std::vector<wire::Family> eor;
  size_t updates = 0;     // UPDATE messages, End-of-RIB included
  size_t prefix_announcements = 0;  // announced NLRI in total (repeats counted)
  bool has_eor(wire::Family f = wire::kIpv4Unicast) const {
    for (auto e : eor)
      if (e == f) return true;
    return false;
  }
};

// The scripted peer: one BGP session to tandem per connect().
class ScriptedPeer {
 public:
  explicit ScriptedPeer(const char* local = kPeerA, uint32_t as = 65002) : local_(local), as_(as) {}
  int rcvbuf = 0;  // SO_RCVBUF before connecting (0: the default)

  // Dial tandem, exchange OPENs and KEEPALIVEs. Returns tandem's OPEN; nullopt (and no
  // test failure) when tandem refuses or closes the connection.
  std::optional<wire::Open> try_connect(const OpenCaps& caps) {
    s_ = std::make_unique<tcp::socket>(io_);
    s_->open(tcp::v4());
    if (rcvbuf > 0) s_->set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    s_->bind(tcp::endpoint(asio::ip::make_address(local_), 0));
    boost::system::error_code ec;
    s_->connect(tcp::endpoint(asio::ip::make_address(kTandem), 179), ec);
    if (ec) return std::nullopt;
    return handshake(caps);
  }
  std::optional<wire::Open> connect(const OpenCaps& caps) {
    auto o = try_connect(caps);
    EXPECT_TRUE(o.has_value()) << "expected a session with tandem from " << local_
                               << ", but tandem refused or closed the connection";
    return o;
  }
  std::optional<wire::Open> connect(std::optional<wire::GracefulRestartCap> gr) { return connect(OpenCaps{gr, {}}); }

  // Tandem dials us (its peer is active): accept on `listener`, then exchange OPENs.
  // Nullopt (and a test failure) when tandem does not dial within `timeout`.
  std::optional<wire::Open> accept_from(tcp::acceptor& listener, const OpenCaps& caps,
                                        std::chrono::milliseconds timeout = 3000ms) {
    pollfd p{listener.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      ADD_FAILURE() << "tandem did not connect to " << local_ << " within " << timeout.count() << " ms";
      return std::nullopt;
    }
    s_ = std::make_unique<tcp::socket>(listener.accept());
    auto o = handshake(caps);
    EXPECT_TRUE(o.has_value()) << "expected a session over tandem's outgoing connection";
    return o;
  }

  void announce(const std::vector<std::string>& prefixes, const std::vector<uint32_t>& communities = {}) {
    wire::PathAttributes a;
    a.origin = wire::Origin::Igp;
    a.has_origin = true;
    a.as_path.segments.push_back({wire::AsPathSegment::Sequence, {as_}});
    a.has_as_path = true;
    a.next_hop = wire::IpAddr::parse(local_);
    a.communities = communities;
    std::vector<wire::Prefix> ps;
    for (const auto& p : prefixes) ps.push_back(*wire::Prefix::parse(p));
    wire::CodecOptions opts;
    for (auto& msg : wire::encode_announcements(a, wire::kIpv4Unicast, ps, opts)) asio::write(*s_, asio::buffer(msg));
  }
  void end_of_rib(wire::Family f = wire::kIpv4Unicast) { asio::write(*s_, asio::buffer(wire::encode_end_of_rib(f))); }

  // End the session: optionally with a NOTIFICATION, then FIN; read until tandem closes.
  void drop(std::optional<wire::Notification> n = std::nullopt) {
    if (!s_ || !s_->is_open()) return;
    if (n) asio::write(*s_, asio::buffer(wire::encode_notification(*n)));
    boost::system::error_code ec;
    s_->shutdown(tcp::socket::shutdown_send, ec);
    std::vector<uint8_t> buf(65536);
    while (!ec) s_->read_some(asio::buffer(buf), ec);
    s_->close(ec);
  }

  // The next message other than KEEPALIVE within `timeout` (nullopt: none, or closed).
  std::optional<Msg> next(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() < 0 || !readable(*s_, left)) return std::nullopt;
      auto m = read_msg(*s_);
      if (!m) {
        closed_ = true;
        return std::nullopt;
      }
      if (m->type != wire::MessageType::Keepalive) return m;
    }
  }
  // Read UPDATEs into `r` until End-of-RIB of `f` or `timeout`; true when it came.
  bool read_until_eor(Received& r, std::chrono::milliseconds timeout = 3000ms, wire::Family f = wire::kIpv4Unicast) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!r.has_eor(f)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      auto m = next(left);
      if (!m) return false;
      add(r, *m);
    }
    return true;
  }
  // Whatever tandem sends within `window` (for checking that nothing is sent).
  Received read_for(std::chrono::milliseconds window) {
    Received r;
    auto end = std::chrono::steady_clock::now() + window;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      auto m = next(left);
      if (!m) break;
      add(r, *m);
    }
    return r;
  }
  // True when tandem closes the connection within `timeout` (messages before are skipped).
  bool closed_by_tandem(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      if (!next(left) && !closed_) return false;
    }
    return true;
  }
  bool connected() const { return s_ && s_->is_open() && !closed_; }
  // Read one message other than KEEPALIVE into `r`; false when none came within `timeout`.
  bool read_one(Received& r, std::chrono::milliseconds timeout) {
    auto m = next(timeout);
    if (!m) return false;
    add(r, *m);
    return true;
  }

 private:
  std::optional<wire::Open> handshake(const OpenCaps& caps) {
    closed_ = false;
    auto m = read_msg(*s_);
    if (!m || m->type != wire::MessageType::Open) return std::nullopt;
    auto theirs = wire::decode_open(m->body);
    if (!theirs.ok()) return std::nullopt;
    wire::Open o;
    o.hold_time = 90;
    o.bgp_id = wire::IpAddr::parse(local_)->v4_host_order();
    o.caps.four_octet_as = as_;
    o.caps.multiprotocol = {wire::kIpv4Unicast};
    o.caps.graceful_restart = caps.gr;
    o.caps.llgr = caps.llgr;
    boost::system::error_code ec;
    asio::write(*s_, asio::buffer(wire::encode_open(o)), ec);
    if (caps.keepalive_delay.count() > 0) std::this_thread::sleep_for(caps.keepalive_delay);  // pacing only
    asio::write(*s_, asio::buffer(wire::encode_keepalive()), ec);
    if (ec) return std::nullopt;
    auto k = read_msg(*s_);
    if (!k || k->type != wire::MessageType::Keepalive) return std::nullopt;
    return theirs.value();
  }
  void add(Received& r, const Msg& m) {
    if (m.type != wire::MessageType::Update) return;
    ++r.updates;
    wire::CodecOptions codec;
    auto u = wire::decode_update(m.body, codec);
    EXPECT_TRUE(u.ok()) << "tandem sent an UPDATE that does not decode";
    if (!u.ok()) return;
    if (u->end_of_rib) r.eor.push_back(*u->end_of_rib);
    for (const auto& set : u->withdrawn)
      for (const auto& p : set.prefixes) {
        r.withdrawn.push_back(p.to_string());
        r.announced.erase(p.to_string());
      }
    for (const auto& set : u->announced)
      for (const auto& p : set.prefixes) {
        r.announced[p.to_string()] = u->attrs;
        ++r.prefix_announcements;
      }
  }

  const char* local_;
  uint32_t as_;
  asio::io_context io_;
  std::unique_ptr<tcp::socket> s_;
  bool closed_ = false;
};

// A listening socket at a scripted peer's address, for tandem's outgoing connections.
inline std::unique_ptr<tcp::acceptor> listen_at(asio::io_context& io, const char* address) {
  auto a = std::make_unique<tcp::acceptor>(io);
  a->open(tcp::v4());
  a->set_option(asio::socket_base::reuse_address(true));
  a->bind(tcp::endpoint(asio::ip::make_address(address), 179));
  a->listen();
  return a;
}

inline bool all_stale(const std::map<std::string, bool>& r, bool stale) {
  for (const auto& [p, s] : r)
    if (s != stale) return false;
  return true;
}

inline const std::vector<std::string> kPrefixes{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"};

// Connect, announce kPrefixes and End-of-RIB; wait until tandem has them.
inline void establish_with_routes(Daemon& d, ScriptedPeer& peer, const OpenCaps& caps) {
  ASSERT_TRUE(peer.connect(caps).has_value());
  peer.announce(kPrefixes);
  peer.end_of_rib();
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == kPrefixes.size(); }))
      << "expected tandem to hold the " << kPrefixes.size() << " announced prefixes, has " << d.routes().size();
  EXPECT_TRUE(all_stale(d.routes(), false)) << "freshly announced routes must not be stale";
}
inline void establish_with_routes(Daemon& d, ScriptedPeer& peer, std::optional<wire::GracefulRestartCap> gr) {
  establish_with_routes(d, peer, OpenCaps{gr, {}});
}

}  // namespace tandem::session::grt
