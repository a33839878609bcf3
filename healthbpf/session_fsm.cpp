#include "healthbpf/session_fsm.hpp"

#include <algorithm>
#include <type_traits>

namespace tandem::bfd {

const char* to_string(Timer t) { return t == Timer::Transmit ? "Transmit" : "Detection"; }

Session::Session(SessionConfig config) : config_(config), rng_(config.jitter_seed | 1) {
  tx_in_use_us_ = advertised_tx_sent_us_ = advertised_tx_us();
  rx_in_use_us_ = advertised_rx_sent_us_ = config_.required_min_rx_us;
}

std::vector<Action> Session::handle(const Event& event) {
  std::vector<Action> out;
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, ev::Start>) {
          if (started_) return;
          started_ = true;
          if (may_transmit()) send(false, e.now_ns, out);  // first packet at once
        } else if constexpr (std::is_same_v<E, ev::Received>) {
          on_received(e.packet, e.now_ns, out);
        } else if constexpr (std::is_same_v<E, ev::TimerExpired>) {
          on_timer(e.timer, e.now_ns, out);
        } else if constexpr (std::is_same_v<E, ev::AdminDown>) {
          if (state_ == State::AdminDown) return;
          transition(State::AdminDown, Diag::AdministrativelyDown, e.now_ns, out);
          out.push_back(act::CancelTimer{Timer::Detection});
          // Keep transmitting AdminDown so the remote does not declare a failure.
          if (may_transmit()) send(false, e.now_ns, out);
        } else if constexpr (std::is_same_v<E, ev::AdminUp>) {
          if (state_ != State::AdminDown) return;
          transition(State::Down, Diag::None, e.now_ns, out);
          if (may_transmit()) send(false, e.now_ns, out);
        } else if constexpr (std::is_same_v<E, ev::Resume>) {
          resume(e, out);
        } else {
          set_intervals(e.desired_min_tx_us, e.required_min_rx_us, e.now_ns, out);
        }
      },
      event);
  return out;
}

uint64_t Session::detection_time_ns() const {
  return uint64_t{remote_detect_mult_} * std::max(rx_in_use_us_, remote_min_tx_us_) * 1000;
}

uint64_t Session::tx_interval_ns() const {
  if (!may_transmit()) return 0;
  return uint64_t{std::max(tx_in_use_us_, remote_min_rx_us_)} * 1000;
}

bool Session::may_transmit() const {
  // §6.8.7: nothing while the remote asks for no packets (Required Min RX 0), nor as
  // a passive side before the remote is known.
  return started_ && remote_min_rx_us_ != 0 && !(config_.passive && remote_disc_ == 0);
}

uint32_t Session::advertised_tx_us() const {
  // §6.8.3: at least one second while the session is not Up.
  return state_ == State::Up ? config_.desired_min_tx_us
                             : std::max(config_.desired_min_tx_us, kSlowTxUs);
}

// §6.8.7: reduce each interval by 0-25% (10-25% when Detect Mult is 1).
uint64_t Session::jittered(uint64_t interval_ns) {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  uint64_t reduce_bp = config_.detect_mult == 1 ? 1000 + rng_ % 1501 : rng_ % 2501;
  return interval_ns * (10000 - reduce_bp) / 10000;
}

void Session::schedule_tx(uint64_t now, std::vector<Action>& out) {
  uint64_t interval = tx_interval_ns();
  if (interval == 0) {
    if (tx_armed_) out.push_back(act::CancelTimer{Timer::Transmit});
    tx_armed_ = false;
    return;
  }
  tx_deadline_ = now + jittered(interval);
  tx_armed_ = true;
  out.push_back(act::ArmTimer{Timer::Transmit, tx_deadline_});
}

ControlPacket Session::periodic_packet() const {
  ControlPacket p;
  p.diag = local_diag_;
  p.state = state_;
  p.poll = polling_;
  p.detect_mult = config_.detect_mult;
  p.my_discriminator = config_.local_discriminator;
  p.your_discriminator = remote_disc_;
  p.desired_min_tx_us = advertised_tx_sent_us_;
  p.required_min_rx_us = advertised_rx_sent_us_;
  p.required_min_echo_rx_us = 0;
  return p;
}

void Session::send(bool final, uint64_t now, std::vector<Action>& out) {
  ControlPacket p = periodic_packet();
  p.final = final;
  p.poll = polling_ && !final;  // §6.5: never both
  out.push_back(act::Send{p});
  schedule_tx(now, out);  // the periodic schedule restarts after any packet
}

void Session::transition(State to, Diag diag, uint64_t now, std::vector<Action>& out) {
  State from = state_;
  state_ = to;
  local_diag_ = to == State::Up ? Diag::None : diag;
  out.push_back(act::StateChanged{from, to, local_diag_});
  advertise_changed(now, out);  // the 1 s floor applies or lifts
}

void Session::advertise_changed(uint64_t now, std::vector<Action>& out) {
  uint32_t tx = advertised_tx_us();
  uint32_t rx = config_.required_min_rx_us;
  if (tx == advertised_tx_sent_us_ && rx == advertised_rx_sent_us_) return;
  polling_ = true;
  // §6.8.3: while Up, a slower transmission or a faster reception takes effect only
  // when the Poll Sequence ends; the other directions apply at once.
  bool up = state_ == State::Up;
  if (!(up && tx > tx_in_use_us_)) tx_in_use_us_ = tx;
  if (!(up && rx < rx_in_use_us_)) rx_in_use_us_ = rx;
  advertised_tx_sent_us_ = tx;
  advertised_rx_sent_us_ = rx;
  // A faster rate starts now rather than after the pending (slow) interval.
  uint64_t interval = tx_interval_ns();
  if (tx_armed_ && interval != 0 && tx_deadline_ > now + interval) schedule_tx(now, out);
}

void Session::end_poll() {
  polling_ = false;
  tx_in_use_us_ = advertised_tx_sent_us_;
  rx_in_use_us_ = advertised_rx_sent_us_;
}

void Session::resume(const ev::Resume& r, std::vector<Action>& out) {
  if (started_ || r.remote_discriminator == 0) return;
  started_ = true;
  state_ = State::Up;
  local_diag_ = Diag::None;
  remote_state_ = State::Up;
  remote_disc_ = r.remote_discriminator;
  remote_min_rx_us_ = std::max<uint32_t>(r.remote_min_rx_us, 1);
  remote_min_tx_us_ = r.remote_min_tx_us;
  remote_detect_mult_ = r.remote_detect_mult;
  // The Up rate at once, as the other node had it: no Poll (nothing changed for the remote).
  tx_in_use_us_ = advertised_tx_sent_us_ = advertised_tx_us();
  rx_in_use_us_ = advertised_rx_sent_us_ = config_.required_min_rx_us;
  out.push_back(act::StateChanged{State::Down, State::Up, Diag::None});
  out.push_back(act::ArmTimer{Timer::Detection, r.now_ns + detection_time_ns()});
  if (may_transmit()) send(false, r.now_ns, out);
}

void Session::set_intervals(uint32_t tx_us, uint32_t rx_us, uint64_t now,
                            std::vector<Action>& out) {
  config_.desired_min_tx_us = tx_us;
  config_.required_min_rx_us = rx_us;
  advertise_changed(now, out);
}

void Session::on_received(const ControlPacket& p, uint64_t now, std::vector<Action>& out) {
  // §6.8.6: a non-zero Your Discriminator must be ours; AdminDown discards everything.
  if ((p.your_discriminator != 0 && p.your_discriminator != config_.local_discriminator) ||
      state_ == State::AdminDown) {
    ++discarded_;
    return;
  }
  bool could_transmit = may_transmit();
  uint32_t old_remote_min_rx = remote_min_rx_us_;
  remote_disc_ = p.my_discriminator;
  remote_state_ = p.state;
  remote_min_rx_us_ = p.required_min_rx_us;
  remote_min_tx_us_ = p.desired_min_tx_us;
  remote_detect_mult_ = p.detect_mult;
  if (p.final && polling_) end_poll();

  State before = state_;
  if (p.state == State::AdminDown) {
    if (state_ != State::Down) transition(State::Down, Diag::NeighborSignaledDown, now, out);
  } else if (state_ == State::Down) {
    if (p.state == State::Down) transition(State::Init, Diag::None, now, out);
    else if (p.state == State::Init) transition(State::Up, Diag::None, now, out);
  } else if (state_ == State::Init) {
    if (p.state == State::Init || p.state == State::Up) transition(State::Up, Diag::None, now, out);
  } else if (state_ == State::Up) {
    if (p.state == State::Down) transition(State::Down, Diag::NeighborSignaledDown, now, out);
  }

  out.push_back(act::ArmTimer{Timer::Detection, now + detection_time_ns()});

  // One packet answers a poll (with F) and/or announces a state change at once.
  if (p.poll || state_ != before || (!could_transmit && may_transmit())) {
    send(p.poll, now, out);
  } else if (old_remote_min_rx != remote_min_rx_us_) {
    uint64_t interval = tx_interval_ns();
    if (interval == 0 || (tx_armed_ && tx_deadline_ > now + interval)) schedule_tx(now, out);
  }
}

void Session::on_timer(Timer t, uint64_t now, std::vector<Action>& out) {
  if (t == Timer::Transmit) {
    if (!tx_armed_) return;  // stale
    tx_armed_ = false;
    if (may_transmit()) send(false, now, out);
    return;
  }
  // Detection time passed without a packet (§6.8.1, §6.8.4).
  remote_disc_ = 0;
  remote_state_ = State::Down;
  if (state_ == State::Init || state_ == State::Up) {
    transition(State::Down, Diag::ControlDetectionExpired, now, out);
    if (may_transmit()) {
      send(false, now, out);  // announce Down at once, like any state change
      return;
    }
  }
  if (!may_transmit()) schedule_tx(now, out);  // passive side falls silent
}

}  // namespace tandem::bfd
