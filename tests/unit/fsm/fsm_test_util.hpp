// Shared helpers for the FSM unit tests: configs, message builders, drivers that take
// an Fsm into each state, and a compact rendering of action sequences.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bgpd/fsm/fsm.hpp"

namespace tandem::fsm::test {

using Actions = std::vector<Action>;
using Strings = std::vector<std::string>;

inline const std::vector<uint8_t> kKeepalive = wire::encode_keepalive();

inline constexpr uint32_t kLocalAs = 65001;
inline constexpr uint32_t kRemoteAs = 65002;
inline constexpr uint32_t kLocalId = 0x01010101;   // 1.1.1.1
inline constexpr uint32_t kRemoteId = 0x02020202;  // 2.2.2.2

inline Config make_config() {
  Config c;
  c.local_as = kLocalAs;
  c.remote_as = kRemoteAs;
  c.router_id = kLocalId;
  c.hold_time = 90;
  c.connect_retry_time = 30;
  c.idle_hold_time = 5;
  c.families = {wire::kIpv4Unicast, wire::kIpv6Unicast};
  return c;
}

// The OPEN a typical peer sends.
inline wire::Open make_peer_open(uint32_t asn = kRemoteAs, uint16_t hold = 90,
                                 uint32_t id = kRemoteId) {
  wire::Open o;
  o.version = 4;
  o.my_as = asn > 0xffff ? 23456 : static_cast<uint16_t>(asn);
  o.hold_time = hold;
  o.bgp_id = id;
  o.caps.four_octet_as = asn;
  o.caps.multiprotocol = {wire::kIpv4Unicast, wire::kIpv6Unicast};
  o.caps.route_refresh = true;
  o.caps.enhanced_route_refresh = true;
  o.caps.extended_message = true;
  return o;
}

// A raw message: marker, length, type, body.
inline std::vector<uint8_t> raw_message(uint8_t type, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> m(16, 0xff);
  size_t len = wire::kHeaderLen + body.size();
  m.push_back(static_cast<uint8_t>(len >> 8));
  m.push_back(static_cast<uint8_t>(len));
  m.push_back(type);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// An UPDATE whose body is `body_len` bytes (the FSM does not decode UPDATEs). The
// first four bytes are an empty withdrawn and attribute section; the rest is a
// recognisable pattern.
inline std::vector<uint8_t> make_update(size_t body_len, uint8_t seed = 0) {
  std::vector<uint8_t> body(body_len, 0);
  for (size_t i = 4; i < body_len; ++i) body[i] = static_cast<uint8_t>(seed + i);
  return raw_message(static_cast<uint8_t>(wire::MessageType::Update), body);
}

inline std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::string notif_str(const wire::Notification& n) {
  return std::to_string(n.code) + "/" + std::to_string(n.subcode);
}

// Compact, exact rendering of an action.
inline std::string render(const Action& a) {
  struct V {
    std::string operator()(const act::Connect&) const { return "Connect"; }
    std::string operator()(const act::Disconnect&) const { return "Disconnect"; }
    std::string operator()(const act::Send& s) const {
      std::string out = std::string("Send ") + wire::to_string(s.type);
      // The bytes must be a whole message of the announced type.
      auto h = wire::decode_header(s.bytes, wire::kMaxExtendedMessageLen);
      if (!h || h->type != s.type || h->length != s.bytes.size()) return out + " <BAD BYTES>";
      if (s.type == wire::MessageType::Notification) {
        auto n = wire::decode_notification(
            std::span<const uint8_t>(s.bytes).subspan(wire::kHeaderLen));
        out += " " + notif_str(n.value());
      }
      return out;
    }
    std::string operator()(const act::ArmTimer& t) const {
      return std::string("Arm ") + to_string(t.timer) + " " + std::to_string(t.seconds);
    }
    std::string operator()(const act::CancelTimer& t) const {
      return std::string("Cancel ") + to_string(t.timer);
    }
    std::string operator()(const act::StateChanged& s) const {
      return std::string("State ") + to_string(s.from) + "->" + to_string(s.to);
    }
    std::string operator()(const act::OpenReceived&) const { return "OpenReceived"; }
    std::string operator()(const act::Established&) const { return "Established"; }
    std::string operator()(const act::UpdateReceived& u) const {
      return "Update " + std::to_string(u.body.size());
    }
    std::string operator()(const act::RouteRefreshReceived& r) const {
      return "RouteRefresh " + r.request.family.to_string() + "/" +
             std::to_string(static_cast<int>(r.request.subtype));
    }
    std::string operator()(const act::NotificationReceived& n) const {
      return "NotificationReceived " + notif_str(n.notification);
    }
    std::string operator()(const act::NotificationSent& n) const {
      return "NotificationSent " + notif_str(n.notification);
    }
    std::string operator()(const act::SessionDown& d) const {
      return d.notification_involved ? "SessionDown notif" : "SessionDown";
    }
  };
  return std::visit(V{}, a);
}

inline Strings render(const Actions& as) {
  Strings out;
  for (const auto& a : as) out.push_back(render(a));
  return out;
}

template <class T>
const T* find_action(const Actions& as) {
  for (const auto& a : as)
    if (auto* p = std::get_if<T>(&a)) return p;
  return nullptr;
}

template <class T>
std::vector<const T*> find_actions(const Actions& as) {
  std::vector<const T*> out;
  for (const auto& a : as)
    if (auto* p = std::get_if<T>(&a)) out.push_back(p);
  return out;
}

// The NOTIFICATION carried by the first Send of that type.
inline wire::Notification sent_notification(const Actions& as) {
  for (const auto& a : as) {
    auto* s = std::get_if<act::Send>(&a);
    if (s && s->type == wire::MessageType::Notification) {
      auto n = wire::decode_notification(
          std::span<const uint8_t>(s->bytes).subspan(wire::kHeaderLen));
      if (n) return n.value();
    }
  }
  ADD_FAILURE() << "no NOTIFICATION sent";
  return {};
}

inline Actions feed(Fsm& f, const std::vector<uint8_t>& bytes) {
  return f.handle(ev::BytesReceived{bytes});
}

// ---- drivers: an Fsm in each state ----
inline Fsm in_connect(Config c = make_config()) {
  Fsm f(std::move(c));
  f.handle(ev::ManualStart{});
  EXPECT_EQ(f.state(), State::Connect);
  return f;
}

inline Fsm in_active(Config c = make_config()) {
  Fsm f(std::move(c));
  f.handle(ev::ManualStart{});
  if (f.state() == State::Connect) f.handle(ev::TcpConnectFailed{});
  EXPECT_EQ(f.state(), State::Active);
  return f;
}

inline Fsm in_opensent(Config c = make_config()) {
  Fsm f = in_connect(std::move(c));
  f.handle(ev::TcpConnected{});
  EXPECT_EQ(f.state(), State::OpenSent);
  return f;
}

inline Fsm in_openconfirm(Config c = make_config(), const wire::Open& peer = make_peer_open()) {
  Fsm f = in_opensent(std::move(c));
  feed(f, wire::encode_open(peer));
  EXPECT_EQ(f.state(), State::OpenConfirm);
  return f;
}

inline Fsm in_established(Config c = make_config(), const wire::Open& peer = make_peer_open()) {
  Fsm f = in_openconfirm(std::move(c), peer);
  feed(f, wire::encode_keepalive());
  EXPECT_EQ(f.state(), State::Established);
  return f;
}

// Idle after an error: IdleHold running.
inline Fsm in_idle_holding(Config c = make_config()) {
  Fsm f = in_established(std::move(c));
  f.handle(ev::TcpClosed{});
  EXPECT_EQ(f.state(), State::Idle);
  EXPECT_TRUE(f.timer_armed(Timer::IdleHold));
  return f;
}

inline std::vector<uint8_t> notification_msg(uint8_t code, uint8_t subcode) {
  return wire::encode_notification(wire::Notification{code, subcode, {}});
}

inline std::vector<uint8_t> route_refresh_msg(wire::Family f = wire::kIpv4Unicast,
                                              wire::RouteRefresh::Subtype st =
                                                  wire::RouteRefresh::Normal) {
  return wire::encode_route_refresh(wire::RouteRefresh{f, st});
}

}  // namespace tandem::fsm::test
