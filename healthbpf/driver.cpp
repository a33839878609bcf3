#include "healthbpf/driver.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "healthbpf/loader.hpp"
#include "healthbpf/udp_receiver.hpp"

namespace tandem::healthbpf {

namespace asio = boost::asio;

namespace {

std::chrono::steady_clock::time_point at_ns(uint64_t ns) {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC, the clock of monotonic_ns() and of
  // bpf_ktime_get_ns().
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

}  // namespace

std::string StateChange::why() const {
  if (up) return "BFD session Up";
  if (remote_admin_down) return "BFD session Down (the remote is AdminDown)";
  return fmt::format("BFD session {} ({})", bfd::to_string(to), bfd::to_string(diag));
}

struct Driver::Session {
  Session(DriverPeer c, bfd::SessionConfig sc, std::unique_ptr<UdpSender> t)
      : cfg(std::move(c)), fsm(sc), tx(std::move(t)) {}
  DriverPeer cfg;
  uint8_t addr[16]{};
  bfd::Session fsm;
  std::unique_ptr<UdpSender> tx;
  std::optional<TxQueue::iterator> tx_at;  // scheduled transmission
  std::optional<uint32_t> disc_slot;  // keyed by our discriminator (remote knows us)
  std::optional<uint32_t> addr_slot;  // keyed by our peer's address (bring-up)
  uint64_t released_packets = 0;      // counted in ADDR slots since released
  uint64_t packets_out = 0;         // sent from user space
  uint64_t last_tx_ns = 0;          // our newest packet, from user space or the kernel
  bool kernel_tx = false;           // the program answers for this session
  std::optional<KernelReply> reply;  // what it was armed with
  uint64_t kernel_sent = 0;         // by the program, in earlier armed periods
  uint64_t ups = 0, downs = 0;
  uint64_t last_change_ns = 0;
  bool silent = false;
  bool held = false;         // after a stall, until release_hold()
  uint64_t resumed_expiry_ns = 0;  // resumed and no packet yet: Down unless one comes by then
  // Resumed, and no Up packet with our discriminator yet: a Down now means the remote
  // gave up on the session during the takeover, not a failure of the BGP session.
  bool resumed_unconfirmed = false;
  // Only a packet arriving from then on confirms: sent after ours could reach the peer
  // (one of its transmit intervals after our first). Earlier ones, and those read from
  // the table at the start, predate it: the peer's detection time may expire right
  // after them (integration.takeover in CI: FRR's Down came 1 ms after such a packet).
  uint64_t resume_confirms_from_ns = 0;
  bool reported_up = false;  // what on_change_ was last told
};

Driver::Driver(asio::io_context& io, DriverOptions options, OnChange on_change)
    : io_(io), opts_(std::move(options)), on_change_(std::move(on_change)), deadline_(io), tx_timer_(io), tick_timer_(io) {}

Driver::~Driver() {
  stop();
  *alive_ = false;
}

std::unique_ptr<Driver> Driver::create(asio::io_context& io, DriverOptions options, OnChange on_change,
                                       std::string& error) {
  std::unique_ptr<Driver> d(new Driver(io, std::move(options), std::move(on_change)));
  // Local discriminators: unique per session, different on every run (a restarted
  // tandemd is a new remote to its peers), never 0.
  d->next_discriminator_ = static_cast<uint32_t>(monotonic_ns() ^ (uint64_t(::getpid()) << 16)) & 0x3fffffffu;
  for (const auto& p : d->opts_.peers) {
    auto s = d->make_session(p, error);
    if (!s) return nullptr;
    d->sessions_.push_back(std::move(s));
  }
  if (!d->open_source(error) || !d->choose_transmit_path(error)) return nullptr;
  return d;
}

std::unique_ptr<Driver::Session> Driver::make_session(const DriverPeer& p, std::string& error) {
  auto key = addr_key(p.address, 0);
  if (!key) {
    error = fmt::format("bfd: peer '{}' is not an IPv4 or IPv6 address", p.address);
    return nullptr;
  }
  if (by_addr(key->addr)) {
    error = fmt::format("bfd: peer {} already has a session", p.address);
    return nullptr;
  }
  bfd::SessionConfig sc;
  if (p.resume && p.resume->local_discriminator != 0 && !by_disc(p.resume->local_discriminator)) {
    sc.local_discriminator = p.resume->local_discriminator;
  } else {
    do sc.local_discriminator = ++next_discriminator_;
    while (sc.local_discriminator == 0 || by_disc(sc.local_discriminator));
  }
  sc.desired_min_tx_us = p.desired_min_tx_us;
  sc.required_min_rx_us = p.required_min_rx_us;
  sc.detect_mult = p.detect_mult;
  sc.passive = p.passive;
  sc.jitter_seed = monotonic_ns() ^ sc.local_discriminator;
  std::string err;
  auto tx = UdpSender::open(p.local_address, p.address, p.device, err, opts_.remote_port);
  if (!tx) {
    error = fmt::format("bfd: peer {}: {}", p.address, err);
    return nullptr;
  }
  auto s = std::make_unique<Session>(p, sc, std::move(tx));
  std::memcpy(s->addr, key->addr, sizeof(s->addr));
  return s;
}

bool Driver::open_source(std::string& error) {
  const std::string& rp = opts_.receive_path;
  if (rp != "user-space") {
    std::string why;
    if (opts_.interfaces.empty()) {
      why = "no interfaces to attach it to ([bfd] interfaces is empty)";
    } else if (auto loader = Loader::open(why)) {
      bool ok = true;
      for (const auto& ifname : opts_.interfaces) {
        std::string err;
        if (!loader->attach(ifname, err, opts_.xdp_mode == "generic")) {
          why = err;
          ok = false;
          break;
        }
        if (opts_.xdp_mode == "native" && loader->attachments().back().mode != XdpMode::Native) {
          why = fmt::format("{}: the driver does not support native XDP (xdp_mode = \"native\")", ifname);
          ok = false;
          break;
        }
      }
      if (ok) {
        loader_ = std::move(loader);
        source_ = loader_->table(why);
        if (!source_) loader_.reset();
      }
    }
    if (!source_) {
      if (rp == "xdp") {
        error = fmt::format("bfd: receive_path = \"xdp\" but the XDP program cannot be used: {}", why);
        return false;
      }
      spdlog::warn("bfd: XDP receive path unavailable ({}); falling back to the user-space receiver", why);
    }
  }
  if (!source_) {
    UdpReceiverOptions o;
    o.bind_address = opts_.bind_address;
    o.port = opts_.port;
    std::string err;
    source_ = UdpReceiver::open(o, err);
    if (!source_) {
      error = fmt::format("bfd: user-space receiver: {}", err);
      return false;
    }
    spdlog::info("bfd: receive path user-space (UDP {} on {})", opts_.port, opts_.bind_address);
  } else {
    std::string where;
    for (const auto& a : loader_->attachments())
      where += fmt::format("{}{} ({})", where.empty() ? "" : ", ", a.ifname, to_string(a.mode));
    spdlog::info("bfd: receive path {} (XDP on {}; detection in the kernel)", source_->path(), where);
  }
  return true;
}

bool Driver::choose_transmit_path(std::string& error) {
  const std::string& tp = opts_.transmit_path;
  if (tp == "user-space" || !loader_ || !source_->can_reply()) {
    if (tp == "xdp") {
      error = "bfd: transmit_path = \"xdp\" needs the XDP receive path (it is " + path() + ")";
      return false;
    }
    spdlog::info("bfd: transmit path user-space (every packet from the daemon)");
    return true;
  }
  std::string where;
  for (const auto& a : loader_->attachments()) {
    // veth's native XDP_TX puts the frame in the other end's ring but wakes that end
    // only if it runs an XDP program itself (drivers/net/veth.c, veth_xdp_flush):
    // otherwise the replies wait there for unrelated traffic. Generic mode has no such trap.
    if (tp == "auto" && a.mode == XdpMode::Native && a.driver == "veth") {
      spdlog::info("bfd: no kernel replies on {} (native XDP on veth: XDP_TX frames wait until the other end "
                   "runs an XDP program; xdp_mode = \"generic\", or transmit_path = \"xdp\" if it does)", a.ifname);
      continue;
    }
    reply_interfaces_[a.ifindex] = a.ifname;
    where += fmt::format("{}{}", where.empty() ? "" : ", ", a.ifname);
  }
  if (where.empty()) spdlog::info("bfd: transmit path user-space (every packet from the daemon)");
  else
    spdlog::info("bfd: transmit path: the XDP program answers in steady state on {} (lease {} ms); user space "
                 "otherwise", where, kLeaseNs / 1'000'000);
  return true;
}

void Driver::start() {
  if (running_) return;
  running_ = true;
  if (source_->fd() >= 0) {
    int fd = ::dup(source_->fd());
    if (fd >= 0) fd_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  }
  uint64_t now = monotonic_ns();
  for (auto& s : sessions_) start_session(*s, now);
  wait_readable();
  arm_deadline();
  on_tick();
}

// The program answers for us only until the lease runs out: renewed here, on the
// driver's thread, so a daemon that stops running stops being answered for. A stall is
// looked for first: a woken thread holds its sessions before the program answers again.
void Driver::on_tick() {
  if (!running_) return;
  const uint64_t now = monotonic_ns();
  check_stall(now);
  if (!reply_interfaces_.empty()) source_->renew_lease(now + kLeaseNs);
  // A resumed session's detection is the table's once the remote's first packet made
  // a slot; until then it is timed here.
  for (auto& s : sessions_) {
    // The table makes no event for a steady remote: its newest packet is read here.
    if (s->resumed_unconfirmed && s->disc_slot) note_resume_confirmed(*s, source_->slot(*s->disc_slot));
    if (!s->resumed_expiry_ns || now < s->resumed_expiry_ns) continue;
    s->resumed_expiry_ns = 0;
    spdlog::warn("bfd: peer {}: nothing received since the session was resumed", s->cfg.address);
    apply(*s, s->fsm.handle(bfd::ev::TimerExpired{bfd::Timer::Detection, now}), now);
  }
  last_tick_ns_ = now;
  tick_due_ns_ = now + kTickNs;
  tick_timer_.expires_at(at_ns(tick_due_ns_));
  std::weak_ptr<bool> alive = alive_;
  tick_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired() || !running_) return;
    on_tick();
  });
}

// Called first by everything that may send (the tick, receive, detection and transmit
// handlers, through apply()): whichever of them runs first after a stall holds the
// sessions before any of their packets leaves.
void Driver::check_stall(uint64_t now) {
  if (!opts_.stall_ns || !tick_due_ns_ || now <= tick_due_ns_ + opts_.stall_ns) return;
  const uint64_t stalled = now - last_tick_ns_;
  tick_due_ns_ = now;  // once per stall: the tick re-arms right after
  ++hold_generation_;
  size_t held = 0;
  for (auto& s : sessions_) {
    if (!s->cfg.hold_after_stall) continue;
    s->held = true;
    ++held;
    update_reply(*s, now);  // disarmed: the program must not answer for it either
  }
  if (held == 0) {
    spdlog::info("bfd: this thread did not run for {:.1f} ms (the process was stopped or starved)", double(stalled) / 1e6);
    return;
  }
  holding_ = true;
  spdlog::warn("bfd: this thread did not run for {:.1f} ms (the process was stopped or starved): the {} BGP peers' "
               "sessions report nothing and send nothing but Up until this node is confirmed as the primary",
               double(stalled) / 1e6, held);
  if (on_stall_) on_stall_(hold_generation_, stalled);
}

bool Driver::release_hold(uint64_t generation) {
  if (!holding_ || generation != hold_generation_) return false;
  holding_ = false;
  const uint64_t now = monotonic_ns();
  size_t reported = 0;
  for (auto& s : sessions_) {
    if (!s->held) continue;
    s->held = false;
    // What the main loop was not told while held: only the net change.
    const bool up = s->fsm.state() == bfd::State::Up;
    if (up != s->reported_up) {
      StateChange c{s->cfg.address, up, s->reported_up ? bfd::State::Up : bfd::State::Down, s->fsm.state(),
                    s->fsm.local_diag()};
      c.remote_admin_down = !up && s->fsm.remote_state() == bfd::State::AdminDown;
      report(*s, c);
      ++reported;
    }
    update_reply(*s, now);
  }
  spdlog::info("bfd: the BGP peers' sessions transmit again ({} changed state while held)", reported);
  return true;
}

void Driver::report(Session& s, const StateChange& c) {
  s.reported_up = c.up;
  if (on_change_) on_change_(c);
}

void Driver::start_session(Session& s, uint64_t now) {
  const auto& r = s.cfg.resume;
  const bool resume = r && r->up && r->remote_discriminator != 0 &&
                      r->local_discriminator == s.fsm.config().local_discriminator;
  spdlog::info("bfd: session with {} (local discriminator {}, tx {} ms, rx {} ms, x{}{}){}", s.cfg.address,
               s.fsm.config().local_discriminator, s.cfg.desired_min_tx_us / 1000.0, s.cfg.required_min_rx_us / 1000.0,
               unsigned(s.cfg.detect_mult), s.cfg.passive ? ", passive" : "",
               resume ? fmt::format(": resumed Up from the other node (remote discriminator {})", r->remote_discriminator)
               : r     ? ": started afresh (the other node's session was not Up, or its discriminator is taken here)"
                       : "");
  if (!resume) return apply(s, s.fsm.handle(bfd::ev::Start{now}), now);
  s.resumed_unconfirmed = true;
  apply(s,
        s.fsm.handle(bfd::ev::Resume{r->remote_discriminator, r->remote_min_tx_us, r->remote_min_rx_us,
                                     static_cast<uint8_t>(r->remote_detect_mult), now}),
        now);
  s.resumed_expiry_ns = now + std::max<uint64_t>(s.fsm.detection_time_ns(), 3ull * s.cfg.required_min_rx_us * 1000);
  s.resume_confirms_from_ns = now + s.fsm.detection_time_ns() / std::max<uint32_t>(1, r->remote_detect_mult);
  adopt_slots(s, now);
}

// The remote's packets may have reached the table before the resumed session existed
// (the VIP moves first): their slots made an event for no session, and the next packets
// bring no news. The session takes those slots and reads the newest packet.
void Driver::adopt_slots(Session& s, uint64_t now) {
  const uint64_t fresh = std::max<uint64_t>(s.fsm.detection_time_ns(), 1'000'000'000);
  std::optional<hb_slot> newest;
  auto take = [&](std::optional<uint32_t>& into, const std::optional<hb_key>& key) {
    if (!key) return;
    auto idx = source_->find(*key);
    if (!idx) return;
    hb_slot sl = source_->slot(*idx);
    if (sl.last_rx_ns + fresh < now) return;  // older than this session can be
    into = *idx;
    if (!newest || sl.last_rx_ns > newest->last_rx_ns) newest = sl;
  };
  take(s.disc_slot, disc_key(s.fsm.config().local_discriminator));
  take(s.addr_slot, addr_key(s.cfg.address, s.fsm.remote_discriminator()));
  if (s.disc_slot) {
    source_->set_local_min_rx(*s.disc_slot, s.cfg.required_min_rx_us);
    s.resumed_expiry_ns = 0;  // the table detects from now on
  }
  if (!newest) return;
  spdlog::debug("bfd: peer {}: its packets arrived before the session was resumed: {}", s.cfg.address,
                to_string(newest->key));
  apply(s, s.fsm.handle(bfd::ev::Received{to_packet(*newest), now}), now);
  note_resume_confirmed(s, *newest);
}

void Driver::note_resume_confirmed(Session& s, const hb_slot& slot) {
  if (!s.resumed_unconfirmed || slot.key.kind != HB_KEY_DISC || s.fsm.state() != bfd::State::Up ||
      slot.remote_state != static_cast<uint8_t>(bfd::State::Up) || (slot.status & HB_STATUS_EXPIRED) ||
      slot.last_rx_ns < s.resume_confirms_from_ns)
    return;
  s.resumed_unconfirmed = false;
  spdlog::info("bfd: peer {}: carried on without a change (its packets name this node's discriminator, Up)",
               s.cfg.address);
}

void Driver::admin_down(Session& s, uint64_t now) {
  // AdminDown sends one packet (if the remote lets us transmit); no periodic
  // transmission follows since we stop or delete the session right after.
  apply(s, s.fsm.handle(bfd::ev::AdminDown{now}), now);
  unschedule_tx(s);
}

void Driver::release_slots(Session& s) {
  disarm_reply(s);
  for (auto* idx : {&s.disc_slot, &s.addr_slot}) {
    if (*idx && source_) source_->release(**idx);
    idx->reset();
  }
}

bool Driver::add_session(const DriverPeer& peer, std::string& error) {
  auto s = make_session(peer, error);
  if (!s) return false;
  s->held = holding_ && peer.hold_after_stall;
  sessions_.push_back(std::move(s));
  if (running_) {
    start_session(*sessions_.back(), monotonic_ns());
    arm_deadline();  // a resumed session may have adopted a slot whose peer sends no more
  }
  return true;
}

bool Driver::remove_session(const std::string& peer, bool silently) {
  auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const auto& s) { return s->cfg.address == peer; });
  if (it == sessions_.end()) return false;
  if (running_ && !silently) admin_down(**it, monotonic_ns());
  release_slots(**it);
  unschedule_tx(**it);
  spdlog::info("bfd: session with {} removed{}", peer, silently ? " without a word" : "");
  sessions_.erase(it);
  return true;
}

bool Driver::has_session(const std::string& peer) const {
  return std::any_of(sessions_.begin(), sessions_.end(), [&](const auto& s) { return s->cfg.address == peer; });
}

void Driver::shutdown() {
  if (!running_) return;
  const uint64_t now = monotonic_ns();
  for (auto& s : sessions_) admin_down(*s, now);
  spdlog::info("bfd: {} session(s) sent AdminDown (shutdown)", sessions_.size());
  stop();
}

void Driver::stop() {
  if (!running_) return;
  for (auto& s : sessions_) disarm_reply(*s);
  running_ = false;
  tick_timer_.cancel();
  tick_due_ns_ = 0;
  if (source_) source_->renew_lease(0);
  for (auto& s : sessions_) s->tx_at.reset();
  tx_queue_.clear();
  tx_timer_.cancel();
  tx_timer_at_ = 0;
  deadline_.cancel();
  if (fd_) {
    boost::system::error_code ec;
    fd_->cancel(ec);
    fd_->close(ec);
    fd_.reset();
  }
}

std::string Driver::path() const { return source_ ? source_->path() : ""; }

void Driver::wait_readable() {
  if (!fd_ || !running_) return;
  std::weak_ptr<bool> alive = alive_;
  fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired() || !running_) return;
    on_readable();
    wait_readable();
  });
}

void Driver::arm_deadline() {
  if (!running_) return;
  auto d = source_->next_deadline();
  if (!d) {
    deadline_.cancel();
    return;
  }
  deadline_.expires_at(at_ns(*d));
  std::weak_ptr<bool> alive = alive_;
  deadline_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired() || !running_) return;
    on_readable();
  });
}

void Driver::on_readable() {
  uint64_t now = monotonic_ns();
  source_->process(now, [&](const hb_event& e) { on_event(e, now); });
  arm_deadline();
}

Driver::Session* Driver::by_disc(uint32_t disc) {
  for (auto& s : sessions_)
    if (s->fsm.config().local_discriminator == disc) return s.get();
  return nullptr;
}

Driver::Session* Driver::by_addr(const uint8_t (&addr)[16]) {
  for (auto& s : sessions_)
    if (std::memcmp(s->addr, addr, sizeof(addr)) == 0) return s.get();
  return nullptr;
}

void Driver::on_event(const hb_event& e, uint64_t now) {
  const hb_slot& slot = e.snapshot;
  Session* s = nullptr;
  if (slot.key.kind == HB_KEY_DISC) s = by_disc(slot.key.disc);
  else if (slot.key.kind == HB_KEY_ADDR) s = by_addr(slot.key.addr);
  if (!s) {
    if (unknown_events_++ % 1000 == 0)
      spdlog::debug("bfd: table event for no configured session: {} (counted {})", to_string(slot.key),
                    unknown_events_);
    return;
  }
  if (e.what & HB_EV_EXPIRED) {
    // Only DISC slots are armed for detection (set_local_min_rx below).
    if (slot.key.kind == HB_KEY_DISC)
      apply(*s, s->fsm.handle(bfd::ev::TimerExpired{bfd::Timer::Detection, now}), now);
    return;
  }
  if (slot.key.kind == HB_KEY_DISC) {
    s->resumed_expiry_ns = 0;  // the table detects from now on
    if (s->disc_slot != e.slot) {
      disarm_reply(*s);  // armed on the old slot
      s->disc_slot = e.slot;
      source_->set_local_min_rx(e.slot, s->cfg.required_min_rx_us);
    }
  } else if (s->addr_slot != e.slot) {
    // A new remote discriminator (the peer restarted): the old bring-up slot is stale.
    if (s->addr_slot) {
      s->released_packets += source_->slot(*s->addr_slot).packets;
      source_->release(*s->addr_slot);
    }
    s->addr_slot = e.slot;
  }
  apply(*s, s->fsm.handle(bfd::ev::Received{to_packet(slot), now}), now);
  note_resume_confirmed(*s, slot);
}

// Transmissions share one timer on a kTxGrainNs grid (bench/heartbeat: one timer per
// session re-armed the timerfd 100,000 times a second at 1,000 x 10 ms, 16% of
// tandemd). A packet leaves at most one grain after its jittered time: 0.25 ms, 2.5% of
// a 10 ms interval, far inside any detection time.
void Driver::arm_tx(Session& s, uint64_t deadline_ns) {
  unschedule_tx(s);
  s.tx_at = tx_queue_.emplace(deadline_ns, &s);
  rearm_tx_timer();
}

void Driver::unschedule_tx(Session& s) {
  if (!s.tx_at) return;
  tx_queue_.erase(*s.tx_at);
  s.tx_at.reset();
}

void Driver::rearm_tx_timer() {
  if (!running_ || tx_queue_.empty()) return;
  const uint64_t first = tx_queue_.begin()->first;
  const uint64_t target = (first + kTxGrainNs - 1) / kTxGrainNs * kTxGrainNs;
  // Armed for this grain or an earlier one already (an earlier wake-up finds nothing
  // due, or less, and re-arms).
  if (tx_timer_at_ != 0 && tx_timer_at_ <= target) return;
  tx_timer_at_ = target;
  tx_timer_.expires_at(at_ns(target));
  std::weak_ptr<bool> alive = alive_;
  tx_timer_.async_wait([this, alive, target](const boost::system::error_code& ec) {
    if (ec || alive.expired() || !running_ || tx_timer_at_ != target) return;
    tx_timer_at_ = 0;
    on_tx_timer();
  });
}

void Driver::on_tx_timer() {
  const uint64_t now = monotonic_ns();
  std::vector<Session*> due;
  while (!tx_queue_.empty() && tx_queue_.begin()->first <= now) {
    Session* s = tx_queue_.begin()->second;
    tx_queue_.erase(tx_queue_.begin());
    s->tx_at.reset();
    due.push_back(s);
  }
  for (Session* s : due) apply(*s, s->fsm.handle(bfd::ev::TimerExpired{bfd::Timer::Transmit, now}), now);
  rearm_tx_timer();
}

void Driver::apply(Session& s, const std::vector<bfd::Action>& actions, uint64_t now) {
  check_stall(now);
  for (const auto& a : actions) {
    if (const auto* send = std::get_if<bfd::act::Send>(&a)) {
      // Held: an Up packet still goes (it says what the other node, carrying this very
      // session on, says too; silence would let the peer expire the session while the
      // confirmation takes its time); a state change never does.
      const bool may_send = !s.held || s.fsm.state() == bfd::State::Up;
      if (!s.silent && may_send && s.tx->send(send->packet)) {
        ++s.packets_out;
        s.last_tx_ns = now;
      }
    } else if (const auto* arm = std::get_if<bfd::act::ArmTimer>(&a)) {
      // Detection comes from the table (kernel bpf_timer or SoftTable::expire). While
      // the program answers for the session, its periodic packets are the program's.
      if (arm->timer == bfd::Timer::Transmit && !s.kernel_tx) arm_tx(s, arm->deadline_ns);
    } else if (const auto* cancel = std::get_if<bfd::act::CancelTimer>(&a)) {
      if (cancel->timer == bfd::Timer::Transmit) unschedule_tx(s);
    } else if (const auto* sc = std::get_if<bfd::act::StateChanged>(&a)) {
      s.last_change_ns = now;
      const bool up = sc->to == bfd::State::Up;
      const bool down = sc->from == bfd::State::Up && !up;
      auto log_level = down ? spdlog::level::warn : spdlog::level::info;
      uint64_t last_rx = 0;
      for (const auto& idx : {s.disc_slot, s.addr_slot})
        if (idx) last_rx = std::max<uint64_t>(last_rx, source_->slot(*idx).last_rx_ns);
      const uint64_t t = monotonic_ns();
      std::string since = down && last_rx && last_rx <= t ? fmt::format("; last packet {:.1f} ms ago", double(t - last_rx) / 1e6) : "";
      spdlog::log(log_level, "bfd: peer {} {} -> {} (diag: {}; remote discriminator {}{})", s.cfg.address,
                  bfd::to_string(sc->from), bfd::to_string(sc->to), bfd::to_string(sc->diag),
                  s.fsm.remote_discriminator(), since);
      if (up) {
        ++s.ups;
        // The remote now addresses us by our discriminator: the bring-up slot is unused,
        // and must go so that the peer's next Down (Your Discriminator 0) is an event.
        if (s.addr_slot) {
          s.released_packets += source_->slot(*s.addr_slot).packets;
          source_->release(*s.addr_slot);
          s.addr_slot.reset();
        }
      }
      if (down) ++s.downs;
      if (down && replies_were_lost(s, now)) {
        const int ifindex = static_cast<int>(source_->slot(*s.disc_slot).ifindex);
        auto where = reply_interfaces_.find(ifindex);
        if (where != reply_interfaces_.end()) {
          spdlog::warn("bfd: peer {} stopped hearing us while the XDP program answered for us on {}: "
                       "transmitting from user space on {} from now on", s.cfg.address, where->second, where->second);
          reply_interfaces_.erase(where);
        }
      }
      // Our own AdminDown (shutdown, session deleted) is no forwarding failure: not
      // reported. Held: reported at release_hold(), if it still holds then.
      if (down && s.resumed_unconfirmed) {
        // Not reported: the BGP session was carried on fine; BFD comes up again afresh.
        s.resumed_unconfirmed = false;
        s.reported_up = false;
        spdlog::warn("bfd: peer {}: the session carried on from the other node was not the peer's any more ({}): "
                     "bringing it up again; the BGP session is left alone",
                     s.cfg.address, bfd::to_string(sc->diag));
      } else if ((up || down) && sc->to != bfd::State::AdminDown && !s.held) {
        StateChange c{s.cfg.address, up, sc->from, sc->to, sc->diag};
        c.remote_admin_down = down && s.fsm.remote_state() == bfd::State::AdminDown;
        report(s, c);
      }
    }
  }
  update_reply(s, now);
}

// The remote declared us dead (its detection time expired) although the program sent
// for us within the last half of that time: those packets do not reach it (e.g. a
// driver that drops XDP_TX frames). Not so when we hung: the lease stopped the program
// a whole detection time before the remote's Down can arrive.
bool Driver::replies_were_lost(const Session& s, uint64_t now) const {
  if (!s.kernel_tx || !s.disc_slot || !s.reply) return false;
  // The remote's Down may come in either slot (with Your Discriminator 0 after its expiry).
  std::optional<hb_slot> newest;
  for (const auto& idx : {s.disc_slot, s.addr_slot}) {
    if (!idx) continue;
    hb_slot sl = source_->slot(*idx);
    if (!newest || sl.last_rx_ns > newest->last_rx_ns) newest = sl;
  }
  if (newest->remote_state != static_cast<uint8_t>(bfd::State::Down) ||
      newest->remote_diag != static_cast<uint8_t>(bfd::Diag::ControlDetectionExpired))
    return false;
  const KernelReplyCounts c = source_->reply_counts(*s.disc_slot);
  const uint64_t interval = s.reply->min_gap_ns * 4 / 3;  // the armed one (the FSM's is Down's now)
  const uint64_t detect = uint64_t{s.cfg.detect_mult} * interval;
  return c.sent > 0 && c.last_tx_ns + detect / 2 > now;
}

bool Driver::may_reply(const Session& s) const {
  if (!running_ || !s.cfg.kernel_replies || s.silent || s.held || !s.disc_slot || reply_interfaces_.empty()) return false;
  const bfd::Session& f = s.fsm;
  // Steady state only, and a remote that sends at least as often as we must: the
  // program answers its packets, so its rate bounds ours. Our Detect Mult >= 2 keeps
  // one skipped answer (a packet just inside 75% of our interval) inside the remote's
  // detection time of us.
  if (f.state() != bfd::State::Up || f.remote_state() != bfd::State::Up || f.polling()) return false;
  if (f.config().detect_mult < 2 || f.tx_interval_ns() == 0) return false;
  hb_slot sl = source_->slot(*s.disc_slot);
  if (!reply_interfaces_.count(static_cast<int>(sl.ifindex))) return false;
  const uint64_t remote_tx_ns = uint64_t{std::max(sl.remote_min_tx_us, s.cfg.required_min_rx_us)} * 1000;
  return remote_tx_ns <= f.tx_interval_ns();
}

// Called after every change of a session: arms, re-arms or disarms its kernel replies.
void Driver::update_reply(Session& s, uint64_t now) {
  if (!may_reply(s)) {
    if (!s.kernel_tx) return;
    disarm_reply(s);
    // User space transmits again, from the program's last packet on (never closer than
    // RFC 5880 §6.8.7 allows); the session's transmit timer is still armed in the FSM.
    const uint64_t interval = s.fsm.tx_interval_ns();
    if (running_ && interval != 0 && !s.tx_at) arm_tx(s, std::max(now, s.last_tx_ns + interval * 3 / 4));
    return;
  }
  KernelReply r;
  r.packet = bfd::encode(s.fsm.periodic_packet());
  r.source_port = s.tx->source_port();
  r.min_gap_ns = s.fsm.tx_interval_ns() * 3 / 4;
  if (s.kernel_tx && s.reply && s.reply->packet == r.packet && s.reply->source_port == r.source_port &&
      s.reply->min_gap_ns == r.min_gap_ns)
    return;
  if (s.kernel_tx) disarm_reply(s);
  r.last_tx_ns = s.last_tx_ns;
  source_->arm_reply(*s.disc_slot, r);
  s.reply = r;
  s.kernel_tx = true;
  unschedule_tx(s);
  spdlog::debug("bfd: peer {}: the XDP program answers for us (interval {:.1f} ms)", s.cfg.address,
                double(s.fsm.tx_interval_ns()) / 1e6);
}

void Driver::disarm_reply(Session& s) {
  if (!s.kernel_tx) return;
  s.kernel_tx = false;
  if (!s.disc_slot) return;
  KernelReplyCounts c = source_->disarm_reply(*s.disc_slot);
  s.kernel_sent += c.sent;
  s.last_tx_ns = std::max(s.last_tx_ns, c.last_tx_ns);
  spdlog::debug("bfd: peer {}: user space transmits again ({} packets from the XDP program)", s.cfg.address, c.sent);
}

std::optional<bfd::State> Driver::state(const std::string& peer) const {
  for (const auto& s : sessions_)
    if (s->cfg.address == peer) return s->fsm.state();
  return std::nullopt;
}

void Driver::set_silent(const std::string& peer, bool silent) {
  for (auto& s : sessions_)
    if (s->cfg.address == peer) {
      s->silent = silent;
      update_reply(*s, monotonic_ns());
    }
}

DriverStatus Driver::status() const {
  DriverStatus st;
  st.path = path();
  for (const auto& [ifindex, name] : reply_interfaces_) st.reply_interfaces.push_back(name);
  if (loader_)
    for (const auto& a : loader_->attachments())
      st.interfaces.push_back(st.path == to_string(a.mode) ? a.ifname : fmt::format("{} ({})", a.ifname, to_string(a.mode)));
  if (source_) {
    Counters c = source_->counters();
    for (int i = 0; i < HB_CNT_MAX; ++i) {
      auto k = static_cast<hb_counter>(i);
      st.counters.emplace_back(to_string(k), c[k]);
    }
  }
  st.unknown_events = unknown_events_;
  const uint64_t now = monotonic_ns();
  for (const auto& s : sessions_) {
    SessionStatus x;
    x.peer = s->cfg.address;
    x.local_address = s->cfg.local_address;
    x.local_discriminator = s->fsm.config().local_discriminator;
    x.remote_discriminator = s->fsm.remote_discriminator();
    x.local_state = bfd::to_string(s->fsm.state());
    x.remote_state = bfd::to_string(s->fsm.remote_state());
    x.local_diag = bfd::to_string(s->fsm.local_diag());
    x.desired_min_tx_us = s->cfg.desired_min_tx_us;
    x.required_min_rx_us = s->cfg.required_min_rx_us;
    x.detect_mult = s->cfg.detect_mult;
    x.tx_interval_us = s->fsm.tx_interval_ns() / 1000;
    x.detect_time_us = s->fsm.detection_time_ns() / 1000;
    uint64_t last_rx = 0, packets = s->released_packets;
    std::optional<hb_slot> newest;
    for (const auto& idx : {s->disc_slot, s->addr_slot}) {
      if (!idx || !source_) continue;
      hb_slot sl = source_->slot(*idx);
      packets += sl.packets;
      if (sl.last_rx_ns >= last_rx) {
        last_rx = sl.last_rx_ns;
        newest = sl;
      }
    }
    if (newest) {
      x.remote_min_tx_us = newest->remote_min_tx_us;
      x.remote_min_rx_us = newest->remote_min_rx_us;
      x.remote_detect_mult = newest->detect_mult;
      x.remote_diag = bfd::to_string(static_cast<bfd::Diag>(newest->remote_diag));
      x.rx_interval_us = std::max<uint64_t>(s->cfg.required_min_rx_us, newest->remote_min_tx_us);
    }
    x.last_rx_age_ms = last_rx ? static_cast<int64_t>((now - std::min(now, last_rx)) / 1'000'000) : -1;
    x.packets_in = packets;
    x.packets_out_kernel = s->kernel_sent;
    if (s->kernel_tx && s->disc_slot) x.packets_out_kernel += source_->reply_counts(*s->disc_slot).sent;
    x.packets_out = s->packets_out + x.packets_out_kernel;
    x.kernel_replies = s->kernel_tx;
    x.send_errors = s->tx->errors();
    x.up_transitions = s->ups;
    x.down_transitions = s->downs;
    x.last_change_age_ms = s->last_change_ns ? static_cast<int64_t>((now - s->last_change_ns) / 1'000'000) : -1;
    st.sessions.push_back(std::move(x));
  }
  return st;
}

}  // namespace tandem::healthbpf
