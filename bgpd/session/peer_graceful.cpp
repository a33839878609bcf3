#include "bgpd/session/peer.hpp"

#include <spdlog/spdlog.h>

#include "bgpd/session/family_list.hpp"
#include "bgpd/session/speaker.hpp"

// Graceful restart of a peer: the helper role (RFC 4724 §4.2, RFC 8538), long-lived
// graceful restart (RFC 9494), and what the restarting-speaker role needs per peer.
namespace tandem::session {

const char* to_string(GrHelperState s) {
  switch (s) {
    case GrHelperState::None: return "none";
    case GrHelperState::WaitingRestart: return "helper-waiting-restart";
    case GrHelperState::WaitingEor: return "helper-waiting-eor";
    case GrHelperState::LongLivedStale: return "helper-long-lived-stale";
  }
  return "?";
}

bool Peer::gr_enabled() const {
  return config_.graceful_restart.value_or(speaker_.config().graceful_restart.enabled);
}

// ---- capabilities we advertise ----

void Peer::gr_capabilities(fsm::Config& c) const {
  if (!gr_enabled()) return;
  const auto& g = speaker_.config().graceful_restart;
  wire::GracefulRestartCap gr;
  // R bit: we restarted and are still deferring selection (RFC 4724 §4.1), so the peer
  // must not wait for our End-of-RIB before sending its own.
  gr.restart_state = speaker_.deferral().active() || restart_bit_;
  gr.notification = g.notification;
  gr.restart_time = g.restart_time;
  // Listing a family says we can be a restarting speaker for it; its F bit, that our
  // forwarding state (kernel routes) survives our restart. No family listed (RFC 4724
  // §3) = helper only.
  for (auto f : g.families)
    if (contains(config_.families, f)) gr.families.push_back({f, contains(g.forwarding_state, f)});
  c.graceful_restart = gr;
  if (g.long_lived_stale_time > 0) {
    wire::LlgrCap llgr;
    for (auto f : config_.families)
      llgr.families.push_back({f, contains(g.forwarding_state, f), g.long_lived_stale_time});
    c.llgr = llgr;
  }
}

void Peer::gr_on_established(Connection& c, const fsm::Negotiated& n) {
  restart_bit_ = false;  // the OPEN that said we restarted has gone
  gr_peer_cap_ = n.peer_graceful_restart;
  gr_peer_llgr_ = n.peer_llgr;
  const auto& ours = c.fsm().local_open().caps.graceful_restart;
  gr_we_llgr_ = c.fsm().local_open().caps.llgr.has_value();
  gr_n_bit_ = ours && gr_peer_cap_ && ours->notification && gr_peer_cap_->notification;
  if (gr_peer_cap_) {
    std::string fams;
    for (const auto& af : gr_peer_cap_->families)
      fams += fmt::format("{}{}(F={})", fams.empty() ? "" : ",", af.family.to_string(), af.forwarding_state ? 1 : 0);
    std::string llgr = "none";
    if (gr_peer_llgr_) {
      llgr.clear();
      for (const auto& af : gr_peer_llgr_->families)
        llgr += fmt::format("{}{}(F={},{}s)", llgr.empty() ? "" : ",", af.family.to_string(),
                            af.forwarding_state ? 1 : 0, af.stale_time);
    }
    spdlog::info("peer {}: graceful restart: peer advertised restart time {} s, R={}, N={}, families {}, "
                 "long-lived {}; we {}{}; N bit negotiated: {}",
                 name_, gr_peer_cap_->restart_time, gr_peer_cap_->restart_state ? 1 : 0,
                 gr_peer_cap_->notification ? 1 : 0, fams.empty() ? "none" : fams, llgr,
                 ours ? (ours->restart_state ? "advertised it with R=1 (we are restarting)" : "advertised it")
                      : "did not advertise it (disabled)",
                 gr_we_llgr_ ? " and LLGR" : "", gr_n_bit_ ? "yes" : "no");
  }
  // Restarting speaker: whether we wait for this peer's End-of-RIB (RFC 4724 §4.1).
  // Unlike §4.1, a peer with its own R bit set is still waited for: we set R too, so it
  // does not wait for our End-of-RIB (§4.2) and no deadlock can form; not waiting would
  // let an upstream that restarted with us (or FRR, which sets R for its first 120 s)
  // be missing from the table we send, and the End-of-RIB after it would make our
  // helpers flush those routes. The deferral timer bounds the wait in any case.
  if (!ours || !gr_peer_cap_)
    speaker_.deferral().peer_established(id_, n.families, true, "graceful restart not negotiated with it");
  else
    speaker_.deferral().peer_established(id_, n.families, false, "");
  // Decide about the routes kept from the previous session before the peer is up
  // again, so that routes about to be removed are never exported.
  if (gr_state_ != GrHelperState::None) gr_reestablished(n);
}

// ---- helper role (RFC 4724 §4.2, RFC 8538, RFC 9494) ----

bool Peer::gr_family_ok(wire::Family f) const {
  if (!gr_peer_cap_ || gr_peer_cap_->restart_time == 0) return false;
  for (const auto& af : gr_peer_cap_->families)
    if (af.family == f) return true;
  return false;
}

uint32_t Peer::llgr_stale_time(wire::Family f) const {
  if (!gr_we_llgr_ || !gr_peer_llgr_) return 0;
  for (const auto& af : gr_peer_llgr_->families)
    if (af.family == f) return af.stale_time;
  return 0;
}

std::vector<wire::Family> Peer::gr_families_to_keep(const std::optional<wire::Notification>& n,
                                                    std::string& why) const {
  if (stopping_) {
    why = "the peer is being stopped or removed";
    return {};
  }
  if (!gr_enabled()) {
    why = "graceful restart is disabled for this peer in our configuration";
    return {};
  }
  if (!gr_peer_cap_) {
    why = "the peer did not advertise the graceful restart capability";
    return {};
  }
  if (n) {
    if (n->code == wire::err::kCease && n->subcode == wire::err::kHardReset) {
      why = "the session ended with Cease/Hard Reset (RFC 8538 §3)";
      return {};
    }
    if (!gr_n_bit_) {
      why = "the session ended with a NOTIFICATION (" + n->describe() +
            ") and the N bit was not negotiated by both sides (RFC 4724 §4.2, RFC 8538 §2)";
      return {};
    }
  }
  std::vector<wire::Family> keep;
  for (auto f : session_families_)
    if (gr_family_ok(f) || llgr_stale_time(f) > 0) keep.push_back(f);
  if (keep.empty()) {
    why = gr_peer_cap_->restart_time == 0
              ? "the peer advertised a restart time of 0 s and no long-lived stale time for the session's families"
              : "the peer's graceful restart capabilities list no address family of this session";
    return {};
  }
  why = n ? "the session ended with " + n->describe() + " and both sides negotiated the N bit (RFC 8538 §4)"
          : "the session ended without a NOTIFICATION (RFC 4724 §4.2)";
  return keep;
}

void Peer::gr_session_down(const std::string& reason) {
  auto& rib = speaker_.rib();
  if (restart_bit_ && gr_enabled() && !stopping_ && !session_families_.empty()) {
    // Our own restart (an unplanned takeover on the graceful-restart path): the peer did
    // not restart, we did; what it sent us is what we relearn, kept stale meanwhile
    // whatever its capability lists, bounded by our restart time.
    rib.peer_down_graceful(id_, session_families_);
    gr_stale_families_ = session_families_;
    gr_own_restart_ = true;
    llgr_deadlines_.clear();
    size_t stale = 0;
    for (auto f : session_families_) stale += rib.stale_count(id_, f);
    spdlog::warn("peer {}: graceful restart: this node restarts the session ({}): keeping the peer's {} routes as "
                 "stale until it sends them again (End-of-RIB) or for {} s",
                 name_, reason, stale, speaker_.config().graceful_restart.restart_time);
    gr_state_ = GrHelperState::WaitingRestart;
    gr_arm(speaker_.config().graceful_restart.restart_time);
    return;
  }
  std::string why;
  std::vector<wire::Family> keep = gr_families_to_keep(down_notification_, why);
  if (keep.empty()) {
    size_t stale = 0;
    for (auto f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) stale += rib.stale_count(id_, f);
    auto counters = rib.counters(id_);
    spdlog::info("peer {}: graceful restart: not helping ({}): removing all {} routes of the peer{}", name_, why,
                 counters.received, stale ? fmt::format(" ({} of them already stale)", stale) : "");
    gr_reset_state();
    rib.peer_down(id_);
    return;
  }
  std::vector<wire::Family> dropped;
  for (auto f : session_families_)
    if (!contains(keep, f)) dropped.push_back(f);
  bool again = gr_state_ != GrHelperState::None;
  rib.peer_down_graceful(id_, keep);
  gr_stale_families_ = keep;
  llgr_deadlines_.clear();
  size_t stale = 0;
  for (auto f : keep) stale += rib.stale_count(id_, f);
  std::vector<wire::Family> gr_now;
  for (auto f : keep)
    if (gr_family_ok(f)) gr_now.push_back(f);
  spdlog::warn("peer {}: graceful restart: helping ({}; {}): keeping {} routes of {} as stale{}{}{}", name_, reason,
               why, stale, families_text(keep),
               gr_now.empty() ? "" : fmt::format(" for the peer's restart time of {} s", gr_peer_cap_->restart_time),
               dropped.empty() ? "" : "; removing its routes of " + families_text(dropped) +
                                          " at once (not in its graceful restart capabilities)",
               again ? "; it went down again before its End-of-RIB: routes stay stale" : "");
  // Families with long-lived GR but no (usable) GR period go long-lived stale at once
  // (RFC 9494 §4.2).
  for (auto f : keep)
    if (!gr_family_ok(f)) gr_enter_llgr(f);
  if (!gr_now.empty()) {
    gr_state_ = GrHelperState::WaitingRestart;
    gr_arm(gr_peer_cap_->restart_time);
  } else {
    gr_state_ = GrHelperState::LongLivedStale;
    gr_arm_llgr();
  }
}

void Peer::gr_enter_llgr(wire::Family f) {
  uint32_t llst = llgr_stale_time(f);
  size_t removed = 0;
  size_t kept = speaker_.rib().enter_llgr(id_, f, removed);
  llgr_deadlines_[f] = std::chrono::steady_clock::now() + std::chrono::seconds(llst);
  spdlog::warn("peer {}: long-lived graceful restart: keeping {} stale routes of {} with LLGR_STALE (least "
               "preferred, only advertised to LLGR peers) for the peer's long-lived stale time of {} s; removed {} "
               "routes carrying NO_LLGR (RFC 9494 §4.3)", name_, kept, f.to_string(), llst, removed);
}

void Peer::gr_reestablished(const fsm::Negotiated& n) {
  if (gr_timer_) gr_timer_->cancel();
  ++gr_timer_gen_;
  llgr_deadlines_.clear();
  if (!gr_enabled() || !n.peer_graceful_restart) {
    gr_stop(!gr_enabled() ? "session re-established, but graceful restart is now disabled for this peer"
                          : "session re-established without the graceful restart capability (RFC 4724 §4.2)");
    return;
  }
  const auto& cap = *n.peer_graceful_restart;
  std::vector<wire::Family> remaining;
  for (auto f : gr_stale_families_) {
    if (gr_own_restart_) {  // we restarted, not the peer: its F bit says nothing here
      if (n.has_family(f)) remaining.push_back(f);
      else gr_sweep(f, "the family was not negotiated on the re-established session");
      continue;
    }
    // The F bit of the new OPEN: from the GR capability, else from the LLGR one.
    std::optional<bool> fwd;
    for (const auto& a : cap.families)
      if (a.family == f) fwd = a.forwarding_state;
    if (!fwd && n.peer_llgr)
      for (const auto& a : n.peer_llgr->families)
        if (a.family == f) fwd = a.forwarding_state;
    if (!fwd) {
      gr_sweep(f, "the re-established session's graceful restart capabilities do not list the family "
                  "(RFC 4724 §4.2)");
    } else if (!*fwd) {
      gr_sweep(f, "the peer did not preserve its forwarding state (Forwarding State bit 0 in its new OPEN, "
                  "RFC 4724 §4.2)");
    } else if (!n.has_family(f)) {
      gr_sweep(f, "the family was not negotiated on the re-established session");
    } else {
      remaining.push_back(f);
    }
  }
  gr_stale_families_ = remaining;
  if (remaining.empty()) {
    gr_state_ = GrHelperState::None;
    gr_own_restart_ = false;
    return;
  }
  gr_state_ = GrHelperState::WaitingEor;
  uint32_t stale_time = speaker_.config().graceful_restart.stale_time;
  size_t stale = 0;
  for (auto f : remaining) stale += speaker_.rib().stale_count(id_, f);
  spdlog::info("peer {}: graceful restart: session re-established (R={}): keeping {} stale routes of {} until the "
               "peer's End-of-RIB, at most {} s (stale_time)",
               name_, cap.restart_state ? 1 : 0, stale, families_text(remaining), stale_time);
  gr_arm(stale_time);
}

void Peer::gr_end_of_rib(wire::Family f) {
  if (!contains(gr_stale_families_, f)) return;
  gr_sweep(f, "End-of-RIB received (RFC 4724 §4.2)");
  std::erase(gr_stale_families_, f);
  if (gr_stale_families_.empty()) {
    gr_reset_state();
    spdlog::info("peer {}: graceful restart: complete", name_);
  }
}

void Peer::gr_sweep(wire::Family f, const std::string& why) {
  size_t removed = speaker_.rib().sweep_stale(id_, f);
  size_t kept = speaker_.rib().counters(id_).received;
  spdlog::info("peer {}: graceful restart: {}: removed {} stale routes of {} (not re-announced); {} routes of the "
               "peer remain", name_, why, removed, f.to_string(), kept);
}

void Peer::gr_stop(const std::string& why) {
  size_t removed = 0;
  for (auto f : gr_stale_families_) removed += speaker_.rib().sweep_stale(id_, f);
  spdlog::info("peer {}: graceful restart: {}: removed {} stale routes of {}", name_, why, removed,
               families_text(gr_stale_families_));
  gr_reset_state();
}

void Peer::gr_reset_state() {
  if (gr_timer_) gr_timer_->cancel();
  ++gr_timer_gen_;
  gr_stale_families_.clear();
  llgr_deadlines_.clear();
  gr_state_ = GrHelperState::None;
  gr_own_restart_ = false;
}

void Peer::gr_mirror_waiting_eor(const std::vector<wire::Family>& families, uint32_t seconds_left) {
  if (families.empty()) return;
  gr_stale_families_ = families;
  gr_state_ = GrHelperState::WaitingEor;
  size_t stale = 0;
  for (auto f : families) stale += speaker_.rib().stale_count(id_, f);
  spdlog::info("peer {}: graceful restart: as on the primary, keeping {} stale routes of {} until the peer's "
               "End-of-RIB, at most {} s more", name_, stale, families_text(families), seconds_left);
  gr_arm(seconds_left);
}

void Peer::gr_arm(uint32_t seconds) { gr_arm_at(std::chrono::steady_clock::now() + std::chrono::seconds(seconds)); }

void Peer::gr_arm_at(std::chrono::steady_clock::time_point deadline) {
  if (!gr_timer_) gr_timer_ = std::make_unique<asio::steady_timer>(speaker_.io());
  uint64_t gen = ++gr_timer_gen_;
  gr_deadline_ = deadline;
  gr_timer_->expires_at(gr_deadline_);
  gr_timer_->async_wait([this, gen, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& e) {
    if (e || !alive.lock() || gen != gr_timer_gen_) return;
    gr_timer_expired();
  });
}

// The long-lived stale timer: the earliest deadline of the families in LLGR.
void Peer::gr_arm_llgr() {
  if (llgr_deadlines_.empty()) {
    gr_reset_state();
    return;
  }
  auto first = llgr_deadlines_.begin()->second;
  for (auto& [f, d] : llgr_deadlines_) first = std::min(first, d);
  gr_arm_at(first);
}

void Peer::gr_timer_expired() {
  if (gr_state_ == GrHelperState::WaitingRestart) {
    std::string why = fmt::format("restart timer ({} s) expired before the session came back (RFC 4724 §4.2)",
                                  gr_peer_cap_ ? gr_peer_cap_->restart_time : 0);
    std::vector<wire::Family> still;
    for (auto f : gr_stale_families_) {
      if (llgr_deadlines_.count(f)) {
        still.push_back(f);  // went long-lived stale at once
      } else if (llgr_stale_time(f) > 0) {
        spdlog::info("peer {}: graceful restart: {}: {} enters long-lived graceful restart", name_, why,
                     f.to_string());
        gr_enter_llgr(f);
        still.push_back(f);
      } else {
        gr_sweep(f, why);
      }
    }
    gr_stale_families_ = still;
    if (still.empty()) {
      gr_reset_state();
      return;
    }
    gr_state_ = GrHelperState::LongLivedStale;
    gr_arm_llgr();
  } else if (gr_state_ == GrHelperState::LongLivedStale) {
    auto now = std::chrono::steady_clock::now();
    for (auto it = llgr_deadlines_.begin(); it != llgr_deadlines_.end();) {
      if (it->second <= now) {
        gr_sweep(it->first, "long-lived stale time expired before the session came back (RFC 9494 §4.3)");
        std::erase(gr_stale_families_, it->first);
        it = llgr_deadlines_.erase(it);
      } else {
        ++it;
      }
    }
    gr_arm_llgr();
  } else if (gr_state_ == GrHelperState::WaitingEor) {
    gr_stop(fmt::format("no End-of-RIB within stale_time ({} s)", speaker_.config().graceful_restart.stale_time));
  }
}

}  // namespace tandem::session
