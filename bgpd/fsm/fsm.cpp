// RFC 4271 §8 finite state machine (one transport connection), sans-I/O.
//
// Conventions (the action sequences tests check):
//  - StateChanged is the last action of a transition, except act::Established, which
//    follows the StateChanged into Established.
//  - Leaving for Idle: [Send NOTIFICATION, NotificationSent], CancelTimer for each
//    running timer, Disconnect, [SessionDown when leaving Established],
//    [ArmTimer IdleHold after an error], StateChanged.
//  - The FSM tracks which timers run. A TimerExpired for a timer it does not consider
//    running is stale (the runtime may have queued the expiry before our cancel) and
//    is ignored.
//  - There is no DelayOpen, so in Idle, Connect and Active no transport connection
//    exists as far as the FSM is concerned: bytes arriving then are leftovers of a
//    closed connection and are dropped, and a TcpClosed/TcpConnectFailed in Idle or
//    Active is stale.
//  - All messages of one BytesReceived arrive at the same instant: the Hold timer is
//    re-armed at most once per handle() call.
#include "bgpd/fsm/fsm.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace tandem::fsm {

namespace {

constexpr uint32_t kLargeHoldTime = 240;     // RFC 4271 §8.2.2: "4 minutes is suggested"
constexpr uint32_t kMaxIdleHoldTime = 120;   // backoff cap
constexpr uint16_t kAsTrans = 23456;

constexpr uint8_t bit(Timer t) { return static_cast<uint8_t>(1u << static_cast<unsigned>(t)); }

std::string format_id(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (id >> 24) & 0xff, (id >> 16) & 0xff,
                (id >> 8) & 0xff, id & 0xff);
  return buf;
}

bool contains(const std::vector<wire::Family>& v, wire::Family f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}

wire::Notification from_error(const wire::WireError& e) {
  return wire::Notification{e.code, e.subcode, e.data};
}

}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::Idle: return "Idle";
    case State::Connect: return "Connect";
    case State::Active: return "Active";
    case State::OpenSent: return "OpenSent";
    case State::OpenConfirm: return "OpenConfirm";
    case State::Established: return "Established";
  }
  return "?";
}

const char* to_string(Timer t) {
  switch (t) {
    case Timer::ConnectRetry: return "ConnectRetry";
    case Timer::Hold: return "Hold";
    case Timer::Keepalive: return "Keepalive";
    case Timer::DelayOpen: return "DelayOpen";
    case Timer::IdleHold: return "IdleHold";
  }
  return "?";
}

wire::CodecOptions Negotiated::codec(bool ebgp) const {
  wire::CodecOptions o;
  o.four_octet_as = four_octet_as;
  o.extended_message = extended_message;
  o.ebgp = ebgp;
  o.add_path_rx_ipv4 = contains(add_path_rx, wire::kIpv4Unicast);
  o.add_path_rx_ipv6 = contains(add_path_rx, wire::kIpv6Unicast);
  return o;
}

bool Negotiated::has_family(wire::Family f) const { return contains(families, f); }

bool keep_outgoing_on_collision(uint32_t local_router_id, uint32_t remote_router_id) {
  return local_router_id > remote_router_id;
}

bool keep_outgoing_on_collision(uint32_t local_router_id, uint32_t remote_router_id,
                                uint32_t local_as, uint32_t remote_as) {
  if (local_router_id != remote_router_id) return local_router_id > remote_router_id;
  return local_as > remote_as;
}

// ---------------------------------------------------------------------------------------

struct Fsm::Impl {
  using Out = std::vector<Action>;

  // ---- helpers ----
  static bool connected(const Fsm& f) {
    return f.state_ == State::OpenSent || f.state_ == State::OpenConfirm ||
           f.state_ == State::Established;
  }

  static size_t max_len(const Fsm& f) {
    return f.negotiated_ && f.negotiated_->extended_message ? wire::kMaxExtendedMessageLen
                                                            : wire::kMaxMessageLen;
  }

  static void arm(Fsm& f, Timer t, uint32_t seconds, Out& out) {
    f.armed_ |= bit(t);
    if (t == Timer::Hold) f.hold_rearmed_ = true;
    out.emplace_back(act::ArmTimer{t, seconds});
  }

  static void cancel(Fsm& f, Timer t, Out& out) {
    if (!f.timer_armed(t)) return;
    f.armed_ &= static_cast<uint8_t>(~bit(t));
    if (t == Timer::Hold) f.hold_rearmed_ = false;
    out.emplace_back(act::CancelTimer{t});
  }

  static void cancel_all(Fsm& f, Out& out) {
    for (Timer t : {Timer::ConnectRetry, Timer::Hold, Timer::Keepalive, Timer::DelayOpen,
                    Timer::IdleHold})
      cancel(f, t, out);
  }

  static void send(Out& out, std::vector<uint8_t> bytes, wire::MessageType type) {
    out.emplace_back(act::Send{std::move(bytes), type});
  }

  static void send_notification(const wire::Notification& n, Out& out) {
    send(out, wire::encode_notification(n), wire::MessageType::Notification);
    out.emplace_back(act::NotificationSent{n});
  }

  // Everything received so far is dropped (the connection is gone). The bytes stay in
  // place until the next event: spans handed out during this call remain valid.
  static void discard_rx(Fsm& f) { f.rx_off_ = f.rx_.size(); }

  static void reset_backoff(Fsm& f) { f.idle_hold_next_ = f.config_.idle_hold_time; }

  // Arms IdleHold with the current backoff and doubles it (capped). Returns the delay.
  static uint32_t arm_idle_hold(Fsm& f, Out& out) {
    uint32_t delay = f.idle_hold_next_;
    arm(f, Timer::IdleHold, delay, out);
    uint32_t cap = std::max<uint32_t>(kMaxIdleHoldTime, f.config_.idle_hold_time);
    f.idle_hold_next_ = std::min<uint32_t>(cap, std::max<uint32_t>(1, delay * 2));
    return delay;
  }

  struct IdleOpts {
    const wire::Notification* send = nullptr;  // NOTIFICATION to send first
    bool notification_involved = false;        // for SessionDown
    bool error = true;                         // arm IdleHold, count the failure
  };

  // Tear the connection down and land in Idle.
  static void go_idle(Fsm& f, std::string reason, IdleOpts o, Out& out) {
    if (o.send) send_notification(*o.send, out);
    cancel_all(f, out);
    out.emplace_back(act::Disconnect{});
    if (f.state_ == State::Established)
      out.emplace_back(act::SessionDown{reason, o.notification_involved || o.send != nullptr});
    if (o.error) {
      ++f.connect_retry_counter_;
      uint32_t delay = arm_idle_hold(f, out);
      reason += "; automatic restart in " + std::to_string(delay) + " s";
    }
    discard_rx(f);
    f.transition(State::Idle, std::move(reason), out);
  }

  // Idle -> Connect (or Active when passive): ManualStart, AutomaticStart, IdleHold.
  static void start(Fsm& f, const std::string& why, Out& out) {
    arm(f, Timer::ConnectRetry, f.config_.connect_retry_time, out);
    if (f.config_.passive) {
      f.transition(State::Active, why + ": passive, waiting for the peer to connect", out);
    } else {
      out.emplace_back(act::Connect{});
      f.transition(State::Connect, why + ": connecting to the peer", out);
    }
  }

  static wire::Open make_open(const Config& c) {
    wire::Open o;
    o.version = 4;
    o.my_as = c.local_as > 0xffff ? kAsTrans : static_cast<uint16_t>(c.local_as);
    o.hold_time = c.hold_time;
    o.bgp_id = c.router_id;
    o.caps.multiprotocol = c.families;
    o.caps.four_octet_as = c.local_as;
    o.caps.route_refresh = c.route_refresh;
    o.caps.enhanced_route_refresh = c.enhanced_route_refresh;
    o.caps.extended_message = c.extended_message;
    o.caps.graceful_restart = c.graceful_restart;
    o.caps.llgr = c.llgr;
    o.caps.add_path = c.add_path;
    return o;
  }

  // `mine` is the OPEN we sent on this connection.
  static Negotiated negotiate(const wire::Open& mine, const wire::Open& peer) {
    const wire::Capabilities& c = mine.caps;
    Negotiated n;
    n.peer_as = peer.asn();
    n.peer_router_id = peer.bgp_id;
    n.hold_time = std::min(mine.hold_time, peer.hold_time);
    n.keepalive = n.hold_time == 0 ? 0 : std::max<uint16_t>(1, n.hold_time / 3);
    n.four_octet_as = peer.caps.four_octet_as.has_value();
    n.route_refresh = c.route_refresh && peer.caps.route_refresh;  // codes 2 and 128
    n.enhanced_route_refresh = c.enhanced_route_refresh && peer.caps.enhanced_route_refresh;
    n.extended_message = c.extended_message && peer.caps.extended_message;
    // No MP capability at all means IPv4 unicast only (RFC 4760 §8).
    std::vector<wire::Family> ours = c.multiprotocol.empty()
                                         ? std::vector<wire::Family>{wire::kIpv4Unicast}
                                         : c.multiprotocol;
    // An MP capability for a family the codec does not know lands in caps.unknown: the
    // peer did send MP capabilities then, so there is no implicit IPv4 unicast.
    bool peer_sent_mp = !peer.caps.multiprotocol.empty() ||
                        std::any_of(peer.caps.unknown.begin(), peer.caps.unknown.end(),
                                    [](const wire::RawCapability& r) {
                                      return r.code == wire::cap::kMultiprotocol;
                                    });
    std::vector<wire::Family> theirs =
        peer_sent_mp ? peer.caps.multiprotocol : std::vector<wire::Family>{wire::kIpv4Unicast};
    for (wire::Family f : ours)
      if (contains(theirs, f) && !contains(n.families, f)) n.families.push_back(f);
    n.peer_graceful_restart = peer.caps.graceful_restart;
    n.peer_llgr = peer.caps.llgr;
    if (c.add_path && peer.caps.add_path) {
      for (const auto& ours_af : c.add_path->families) {
        if (!(ours_af.mode & wire::AddPathCap::Receive)) continue;
        if (!n.has_family(ours_af.family) || contains(n.add_path_rx, ours_af.family)) continue;
        for (const auto& theirs_af : peer.caps.add_path->families) {
          if (theirs_af.family == ours_af.family && (theirs_af.mode & wire::AddPathCap::Send)) {
            n.add_path_rx.push_back(ours_af.family);
            break;
          }
        }
      }
    }
    n.peer_open = peer;
    return n;
  }

  // ---- events ----
  static void on(Fsm& f, const ev::ManualStart&, Out& out) {
    if (f.state_ != State::Idle) return;  // RFC 4271 §8.2.2: ignored outside Idle
    reset_backoff(f);
    f.connect_retry_counter_ = 0;
    cancel(f, Timer::IdleHold, out);
    start(f, "ManualStart", out);
  }

  static void on(Fsm& f, const ev::AutomaticStart&, Out& out) {
    if (f.state_ != State::Idle) return;
    // Peer oscillation damping: held in Idle until IdleHold expires (§8.1.1).
    if (f.timer_armed(Timer::IdleHold)) return;
    start(f, "AutomaticStart", out);
  }

  static void on(Fsm& f, const ev::ManualStop& e, Out& out) {
    reset_backoff(f);
    f.connect_retry_counter_ = 0;
    std::string reason = "ManualStop";
    if (!e.reason.empty()) reason += ": " + e.reason;
    switch (f.state_) {
      case State::Idle:
        cancel(f, Timer::IdleHold, out);  // no automatic restart after a stop
        return;
      case State::Connect:
      case State::Active:
        go_idle(f, std::move(reason), {.send = nullptr, .notification_involved = false, .error = false},
                out);
        return;
      case State::OpenSent:
      case State::OpenConfirm:
      case State::Established: {
        wire::Notification n =
            e.reason.empty()
                ? wire::Notification{wire::err::kCease, wire::err::kAdminShutdown, {}}
                : wire::make_shutdown_notification(wire::err::kAdminShutdown, e.reason);
        go_idle(f, std::move(reason), {.send = &n, .notification_involved = true, .error = false},
                out);
        return;
      }
    }
  }

  static void on(Fsm& f, const ev::TcpConnected&, Out& out) {
    switch (f.state_) {
      case State::Idle:
        // Idle refuses incoming connections (§8.2.2).
        out.emplace_back(act::Disconnect{});
        return;
      case State::Connect:
      case State::Active: {
        f.rx_.clear();
        f.rx_off_ = 0;
        f.consumed_ = 0;
        f.established_offset_ = 0;
        f.negotiated_.reset();
        cancel(f, Timer::ConnectRetry, out);
        f.local_open_ = make_open(f.config_);
        send(out, wire::encode_open(f.local_open_), wire::MessageType::Open);
        arm(f, Timer::Hold, kLargeHoldTime, out);
        f.transition(State::OpenSent, "TCP connection established; OPEN sent", out);
        return;
      }
      case State::OpenSent:
      case State::OpenConfirm:
      case State::Established:
        return;  // one Fsm per connection: a second one is the runtime's collision case
    }
  }

  static void on_transport_down(Fsm& f, const char* what, Out& out) {
    switch (f.state_) {
      case State::Idle:
      case State::Active:
        return;  // stale: no connection in these states
      case State::Connect: {
        ++f.connect_retry_counter_;
        arm(f, Timer::ConnectRetry, f.config_.connect_retry_time, out);
        f.transition(State::Active,
                     std::string(what) + "; listening, next attempt in " +
                         std::to_string(f.config_.connect_retry_time) + " s",
                     out);
        return;
      }
      case State::OpenSent: {
        // §8.2.2: close, restart ConnectRetry, keep listening, -> Active.
        ++f.connect_retry_counter_;
        cancel_all(f, out);
        out.emplace_back(act::Disconnect{});
        arm(f, Timer::ConnectRetry, f.config_.connect_retry_time, out);
        discard_rx(f);
        f.transition(State::Active,
                     std::string(what) + " in OpenSent; listening, next attempt in " +
                         std::to_string(f.config_.connect_retry_time) + " s",
                     out);
        return;
      }
      case State::OpenConfirm:
      case State::Established:
        go_idle(f, what, {}, out);
        return;
    }
  }

  static void on(Fsm& f, const ev::TcpConnectFailed&, Out& out) {
    on_transport_down(f, "TCP connection failed", out);
  }
  static void on(Fsm& f, const ev::TcpClosed&, Out& out) {
    on_transport_down(f, "TCP connection closed", out);
  }

  static void on(Fsm& f, const ev::TimerExpired& e, Out& out) {
    if (!f.timer_armed(e.timer)) return;  // stale expiry
    f.armed_ &= static_cast<uint8_t>(~bit(e.timer));
    switch (e.timer) {
      case Timer::ConnectRetry:
        if (f.state_ == State::Connect) {
          // §8.2.2: drop the attempt, restart the timer, try again.
          ++f.connect_retry_counter_;
          out.emplace_back(act::Disconnect{});
          arm(f, Timer::ConnectRetry, f.config_.connect_retry_time, out);
          out.emplace_back(act::Connect{});
        } else if (f.state_ == State::Active) {
          arm(f, Timer::ConnectRetry, f.config_.connect_retry_time, out);
          if (!f.config_.passive) {
            out.emplace_back(act::Connect{});
            f.transition(State::Connect, "ConnectRetry timer expired: connecting to the peer",
                         out);
          }
        }
        return;
      case Timer::Hold:
        if (connected(f)) {
          wire::Notification n{wire::err::kHoldTimerExpired, 0, {}};
          uint32_t hold = f.state_ == State::OpenSent || !f.negotiated_
                              ? kLargeHoldTime
                              : f.negotiated_->hold_time;
          go_idle(f, "hold timer expired (no message from the peer for " +
                         std::to_string(hold) + " s)",
                  {.send = &n}, out);
        }
        return;
      case Timer::Keepalive:
        if ((f.state_ == State::OpenConfirm || f.state_ == State::Established) &&
            f.negotiated_ && f.negotiated_->keepalive > 0) {
          send(out, wire::encode_keepalive(), wire::MessageType::Keepalive);
          arm(f, Timer::Keepalive, f.negotiated_->keepalive, out);
        }
        return;
      case Timer::DelayOpen:
        return;  // never armed (no DelayOpen support)
      case Timer::IdleHold:
        if (f.state_ == State::Idle) start(f, "IdleHold timer expired (automatic restart)", out);
        return;
    }
  }

  static void on(Fsm& f, const ev::BytesReceived& e, Out& out) {
    if (!connected(f)) return;  // leftovers of a closed connection
    std::span<const uint8_t> in = e.bytes;
    // Lazy compaction: spans from the previous call are no longer valid.
    if (f.rx_off_ > 0) {
      f.rx_.erase(f.rx_.begin(), f.rx_.begin() + static_cast<ptrdiff_t>(f.rx_off_));
      f.rx_off_ = 0;
    }
    size_t pos = 0;
    if (!f.rx_.empty()) {
      // Complete the message started in an earlier chunk.
      if (f.rx_.size() < wire::kHeaderLen) {
        size_t take = std::min(wire::kHeaderLen - f.rx_.size(), in.size());
        f.rx_.insert(f.rx_.end(), in.begin(), in.begin() + static_cast<ptrdiff_t>(take));
        pos = take;
        if (f.rx_.size() < wire::kHeaderLen) return;
      }
      auto h = wire::decode_header(std::span<const uint8_t>(f.rx_.data(), wire::kHeaderLen),
                                   max_len(f));
      if (!h) return header_error(f, h.error(), out);
      size_t need = h->length - f.rx_.size();
      size_t take = std::min(need, in.size() - pos);
      // Reserve room for the trailing partial message too (shorter than one message:
      // the OPEN handled here may raise the limit), so that storing it below never
      // moves the message handed out from here.
      size_t rest = in.size() - pos - take;
      size_t tail_max = f.state_ == State::OpenSent ? wire::kMaxExtendedMessageLen : max_len(f);
      f.rx_.reserve(f.rx_.size() + take + std::min(rest, tail_max));
      f.rx_.insert(f.rx_.end(), in.begin() + static_cast<ptrdiff_t>(pos),
                   in.begin() + static_cast<ptrdiff_t>(pos + take));
      pos += take;
      if (f.rx_.size() < h->length) return;
      f.rx_off_ = f.rx_.size();
      f.consumed_ += h->length;
      f.on_message(h->type,
                   std::span<const uint8_t>(f.rx_.data() + wire::kHeaderLen,
                                            h->length - wire::kHeaderLen),
                   out);
      if (!connected(f)) return;
    }
    // Whole messages straight from the caller's buffer (no copy).
    while (in.size() - pos >= wire::kHeaderLen) {
      auto h = wire::decode_header(in.subspan(pos, wire::kHeaderLen), max_len(f));
      if (!h) return header_error(f, h.error(), out);
      if (in.size() - pos < h->length) break;
      f.consumed_ += h->length;
      f.on_message(h->type, in.subspan(pos + wire::kHeaderLen, h->length - wire::kHeaderLen),
                   out);
      pos += h->length;
      if (!connected(f)) return;
    }
    if (pos < in.size())
      f.rx_.insert(f.rx_.end(), in.begin() + static_cast<ptrdiff_t>(pos), in.end());
  }

  static void header_error(Fsm& f, const wire::WireError& err, Out& out) {
    wire::Notification n = from_error(err);
    std::string reason = "message header error: " + n.describe();
    if (!err.reason.empty()) reason += " (" + err.reason + ")";
    go_idle(f, std::move(reason), {.send = &n}, out);
  }

  static void on(Fsm& f, const ev::UpdateError& e, Out& out) {
    if (f.state_ != State::Established) return;  // late report about a previous session
    wire::Notification n = from_error(e.error);
    std::string reason = "UPDATE error: " + n.describe();
    if (!e.error.reason.empty()) reason += " (" + e.error.reason + ")";
    go_idle(f, std::move(reason), {.send = &n}, out);
  }

  static void on(Fsm& f, const ev::CollisionLost&, Out& out) {
    switch (f.state_) {
      case State::Idle:
        return;
      case State::Connect:
      case State::Active:
        go_idle(f, "connection collision: the other connection is kept",
                {.send = nullptr, .notification_involved = false, .error = false}, out);
        return;
      case State::OpenSent:
      case State::OpenConfirm:
      case State::Established: {
        // Not an error: the session carries on over the other connection.
        wire::Notification n{wire::err::kCease, wire::err::kConnectionCollision, {}};
        go_idle(f, "connection collision resolution (RFC 4271 §6.8): this connection loses",
                {.send = &n, .notification_involved = true, .error = false}, out);
        return;
      }
    }
  }

  static void on(Fsm& f, const ev::SendNotification& e, Out& out) {
    switch (f.state_) {
      case State::Idle:
        return;
      case State::Connect:
      case State::Active:
        go_idle(f, "reset requested (" + e.notification.describe() + "), no connection to notify",
                {}, out);
        return;
      case State::OpenSent:
      case State::OpenConfirm:
      case State::Established:
        go_idle(f, "NOTIFICATION sent: " + e.notification.describe(), {.send = &e.notification},
                out);
        return;
    }
  }

  // ---- messages ----
  static void open_error(Fsm& f, wire::Notification n, const std::string& detail, Out& out) {
    std::string reason = "OPEN rejected: " + n.describe() + " (" + detail + ")";
    go_idle(f, std::move(reason), {.send = &n}, out);
  }

  static void on_open(Fsm& f, std::span<const uint8_t> body, Out& out) {
    if (!body.empty() && body[0] != 4) {
      open_error(f, {wire::err::kOpen, wire::err::kUnsupportedVersion, {0, 4}},
                 "peer speaks BGP version " + std::to_string(body[0]) + ", we speak 4", out);
      return;
    }
    auto r = wire::decode_open(body);
    if (!r) {
      open_error(f, from_error(r.error()),
                 r.error().reason.empty() ? "malformed OPEN" : r.error().reason, out);
      return;
    }
    const wire::Open& open = r.value();
    const Config& c = f.config_;
    if (open.version != 4) {
      open_error(f, {wire::err::kOpen, wire::err::kUnsupportedVersion, {0, 4}},
                 "peer speaks BGP version " + std::to_string(open.version) + ", we speak 4",
                 out);
      return;
    }
    if (open.asn() != c.remote_as) {
      open_error(f, {wire::err::kOpen, wire::err::kBadPeerAs, {}},
                 "peer AS " + std::to_string(open.asn()) + ", expected " +
                     std::to_string(c.remote_as),
                 out);
      return;
    }
    if (open.hold_time == 1 || open.hold_time == 2 ||
        (open.hold_time != 0 && open.hold_time < c.min_hold_time)) {
      open_error(f, {wire::err::kOpen, wire::err::kUnacceptableHoldTime, {}},
                 "peer hold time " + std::to_string(open.hold_time) + " s, minimum " +
                     std::to_string(std::max<uint16_t>(3, c.min_hold_time)) + " s",
                 out);
      return;
    }
    if (open.bgp_id == 0) {
      open_error(f, {wire::err::kOpen, wire::err::kBadBgpIdentifier, {}},
                 "BGP identifier 0.0.0.0", out);
      return;
    }
    if (!c.ebgp() && open.bgp_id == c.router_id) {
      open_error(f, {wire::err::kOpen, wire::err::kBadBgpIdentifier, {}},
                 "iBGP peer uses our own BGP identifier " + format_id(open.bgp_id), out);
      return;
    }
    f.negotiated_ = negotiate(f.local_open_, open);
    const Negotiated& n = *f.negotiated_;
    out.emplace_back(act::OpenReceived{open});
    send(out, wire::encode_keepalive(), wire::MessageType::Keepalive);
    if (n.hold_time == 0) {
      cancel(f, Timer::Hold, out);
    } else {
      arm(f, Timer::Hold, n.hold_time, out);
      arm(f, Timer::Keepalive, n.keepalive, out);
    }
    std::string reason = "OPEN accepted from AS " + std::to_string(n.peer_as) + " id " +
                         format_id(n.peer_router_id) + ", hold time " +
                         std::to_string(n.hold_time) + " s";
    if (n.hold_time == 0) reason += " (no keepalives)";
    reason += "; KEEPALIVE sent";
    f.transition(State::OpenConfirm, std::move(reason), out);
  }

  static void fsm_error(Fsm& f, wire::MessageType type, Out& out) {
    uint8_t subcode = f.state_ == State::OpenSent      ? wire::err::kUnexpectedInOpenSent
                      : f.state_ == State::OpenConfirm ? wire::err::kUnexpectedInOpenConfirm
                                                       : wire::err::kUnexpectedInEstablished;
    wire::Notification n{wire::err::kFsm, subcode, {static_cast<uint8_t>(type)}};
    go_idle(f,
            std::string("unexpected ") + wire::to_string(type) + " in " + to_string(f.state_) +
                ": FSM error",
            {.send = &n}, out);
  }

  static void on_notification(Fsm& f, std::span<const uint8_t> body, Out& out) {
    auto r = wire::decode_notification(body);
    wire::Notification n;
    if (r) {
      n = std::move(r.value());
    } else {
      // Never answer a NOTIFICATION with one: take what is there.
      if (body.size() >= 1) n.code = body[0];
      if (body.size() >= 2) n.subcode = body[1];
      if (body.size() > 2) n.data.assign(body.begin() + 2, body.end());
    }
    out.emplace_back(act::NotificationReceived{n});
    go_idle(f, "NOTIFICATION received: " + n.describe(),
            {.send = nullptr, .notification_involved = true, .error = true}, out);
  }

  static void rearm_hold(Fsm& f, Out& out) {
    if (f.hold_rearmed_ || !f.negotiated_ || f.negotiated_->hold_time == 0) return;
    arm(f, Timer::Hold, f.negotiated_->hold_time, out);
  }

  static void on_route_refresh(Fsm& f, std::span<const uint8_t> body, Out& out) {
    auto r = wire::decode_route_refresh(body);
    if (!r) {
      wire::Notification n = from_error(r.error());
      std::string reason = "malformed ROUTE-REFRESH: " + n.describe();
      if (!r.error().reason.empty()) reason += " (" + r.error().reason + ")";
      go_idle(f, std::move(reason), {.send = &n}, out);
      return;
    }
    // We only act on what we advertised (RFC 2918 §4, RFC 7313 §4).
    if (!f.local_open_.caps.route_refresh && !f.local_open_.caps.enhanced_route_refresh) return;
    if (!f.negotiated_->has_family(r->family)) return;
    if (r->subtype > wire::RouteRefresh::EndOfRefresh) return;
    out.emplace_back(act::RouteRefreshReceived{r.value()});
  }
};

// ---------------------------------------------------------------------------------------

Fsm::Fsm(Config config) : config_(std::move(config)) {
  idle_hold_next_ = config_.idle_hold_time;
}

std::vector<Action> Fsm::handle(const Event& event) {
  std::vector<Action> out;
  hold_rearmed_ = false;
  std::visit([&](const auto& e) { Impl::on(*this, e, out); }, event);
  return out;
}

std::span<const uint8_t> Fsm::pending_input() const {
  return std::span<const uint8_t>(rx_).subspan(std::min(rx_off_, rx_.size()));
}

bool Fsm::restore_established(const wire::Open& local, const wire::Open& peer, uint64_t input_offset,
                              std::string& why) {
  if (peer.asn() != config_.remote_as) {
    why = "the peer's OPEN carries AS " + std::to_string(peer.asn()) + ", configured " +
          std::to_string(config_.remote_as);
    return false;
  }
  if (peer.bgp_id == 0) {
    why = "the peer's OPEN carries BGP identifier 0.0.0.0";
    return false;
  }
  local_open_ = local;
  negotiated_ = Impl::negotiate(local, peer);
  rx_.clear();
  rx_off_ = 0;
  consumed_ = input_offset;
  established_offset_ = input_offset;
  armed_ = 0;
  state_ = State::Established;
  return true;
}

std::vector<Action> Fsm::resume_timers() {
  std::vector<Action> out;
  if (state_ != State::Established || !negotiated_ || negotiated_->hold_time == 0) return out;
  Impl::arm(*this, Timer::Hold, negotiated_->hold_time, out);
  Impl::arm(*this, Timer::Keepalive, negotiated_->keepalive, out);
  return out;
}

wire::CodecOptions Fsm::codec() const {
  return negotiated_ ? negotiated_->codec(config_.ebgp()) : wire::CodecOptions{};
}

void Fsm::transition(State to, std::string reason, std::vector<Action>& out) {
  if (to == state_) return;
  out.emplace_back(act::StateChanged{state_, to, std::move(reason)});
  state_ = to;
}

void Fsm::on_message(wire::MessageType type, std::span<const uint8_t> body,
                     std::vector<Action>& out) {
  using wire::MessageType;
  if (auto t = static_cast<size_t>(type); t < received_.size()) ++received_[t];
  switch (state_) {
    case State::OpenSent:
      if (type == MessageType::Open) return Impl::on_open(*this, body, out);
      if (type == MessageType::Notification) return Impl::on_notification(*this, body, out);
      return Impl::fsm_error(*this, type, out);
    case State::OpenConfirm:
      if (type == MessageType::Keepalive) {
        Impl::rearm_hold(*this, out);
        Impl::reset_backoff(*this);
        connect_retry_counter_ = 0;
        established_offset_ = consumed_;
        transition(State::Established, "KEEPALIVE received: session established", out);
        out.emplace_back(act::Established{*negotiated_});
        return;
      }
      if (type == MessageType::Notification) return Impl::on_notification(*this, body, out);
      return Impl::fsm_error(*this, type, out);
    case State::Established:
      switch (type) {
        case MessageType::Keepalive:
          Impl::rearm_hold(*this, out);
          return;
        case MessageType::Update:
          Impl::rearm_hold(*this, out);
          out.emplace_back(act::UpdateReceived{body});
          return;
        case MessageType::RouteRefresh:
          Impl::rearm_hold(*this, out);
          return Impl::on_route_refresh(*this, body, out);
        case MessageType::Notification:
          return Impl::on_notification(*this, body, out);
        case MessageType::Open:
          return Impl::fsm_error(*this, type, out);
      }
      return Impl::fsm_error(*this, type, out);
    case State::Idle:
    case State::Connect:
    case State::Active:
      return;  // no connection (never reached: bytes are dropped earlier)
  }
}

}  // namespace tandem::fsm
