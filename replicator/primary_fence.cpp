// Fencing the primary (docs/ha.md, "Fencing"): once another node may hold the sessions,
// this one must never write on them again, not even a FIN. Each socket is put into
// repair mode and closed (the kernel then sends nothing and drops what was queued), the
// VIPs go, and the daemon restarts as the standby of whoever is the primary now.
// confirm_primary: after this process was stopped or starved, whether the standby took
// over meanwhile (a probe's round trip over the channel).
#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "replicator/primary.hpp"

namespace tandem::replicator {

void PrimaryReplicator::fence(const std::string& why) {
  if (fenced_) return;
  fenced_ = true;
  spdlog::error("fencing: {}: this node stops being the primary; its session sockets close silently", why);
  finish_confirm(false, "fenced: " + why);
  if (sw_.active) finish_switchover(false, "fenced: " + why);
  std::string error;
  if (release_vips_ && !release_vips_(error)) spdlog::error("fencing: releasing the VIPs: {}", error);
  size_t silenced = 0;
  for (auto& [id, s] : sessions_) {
    auto conn = speaker_.find_connection(id);
    if (!conn || conn->state() != fsm::State::Established) continue;
    if (conn->freeze_for_handoff(error)) ++silenced;
    else spdlog::error("fencing: session {} ({}): cannot close silently: {}", s.peer.to_string(), id, error);
  }
  spdlog::info("fencing: {} session sockets closed silently", silenced);
  if (channel_) channel_->close("fenced: " + why);
  if (on_fenced_) on_fenced_(why);
}

void PrimaryReplicator::confirm_primary(ConfirmDone done) {
  if (fenced_) return done(false, "this node was fenced");
  if (!channel_ || !channel_->ready()) return done(true, "no standby is connected: no other node holds the sessions");
  confirm_waiting_.push_back(std::move(done));
  if (confirm_waiting_.size() > 1) return;  // the probe in flight answers for every caller
  probe_sent_ = std::chrono::steady_clock::now();
  channel_->probe(++probe_nonce_);
  if (!confirm_timer_) confirm_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  confirm_timer_->expires_after(kConfirmWait);
  std::weak_ptr<bool> alive = alive_;
  confirm_timer_->async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    spdlog::warn("replication: the standby did not answer a probe within {} ms: taken as still this node's standby",
                 kConfirmWait.count());
    finish_confirm(true, "the standby did not answer within " + std::to_string(kConfirmWait.count()) + " ms");
  });
}

void PrimaryReplicator::on_echo(uint64_t nonce) {
  if (nonce != probe_nonce_ || confirm_waiting_.empty()) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - probe_sent_);
  finish_confirm(true, fmt::format("the standby answered a probe in {:.1f} ms, still following this node",
                                   double(us.count()) / 1000.0));
}

void PrimaryReplicator::finish_confirm(bool still_primary, const std::string& why) {
  if (confirm_timer_) confirm_timer_->cancel();
  auto waiting = std::move(confirm_waiting_);
  confirm_waiting_.clear();
  for (auto& done : waiting) done(still_primary, why);
}

}  // namespace tandem::replicator
