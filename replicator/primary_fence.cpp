// Fencing the primary (docs/ha.md, "Fencing"): once another node may hold the sessions,
// this one must never write on them again, not even a FIN. Each socket is put into
// repair mode and closed (the kernel then sends nothing and drops what was queued), the
// VIPs go, and the daemon restarts as the standby of whoever is the primary now.
#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "replicator/primary.hpp"

namespace tandem::replicator {

void PrimaryReplicator::fence(const std::string& why) {
  if (fenced_) return;
  fenced_ = true;
  spdlog::error("fencing: {}: this node stops being the primary; its session sockets close silently", why);
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

}  // namespace tandem::replicator
