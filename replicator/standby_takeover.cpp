// The standby's side of a planned switchover (docs/ha.md, "Planned switchover").
//   Prepare: answer Ready once every shadow consumed every replicated byte and its
//            output equals what the primary sent (AdvertisedTable::diff); Refused with
//            the reason after a second.
//   Commit:  restore each frozen socket in repair mode, claim the VIPs (address and
//            gratuitous ARP / NA) only now (a local VIP without the sockets would make
//            the kernel answer the peers' segments with RST), leave repair mode, and
//            turn the shadows into the live sessions; then promote the speaker.

#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "bgpd/session/peer.hpp"
#include "replicator/frozen_state.hpp"
#include "replicator/standby.hpp"

namespace tandem::replicator {

namespace {
constexpr auto kReadyLimit = std::chrono::seconds(1);
constexpr auto kReadyPoll = std::chrono::milliseconds(2);

}  // namespace

void StandbyReplicator::on_switchover_prepare(const repl::SwitchoverPrepare& p) {
  spdlog::info("switchover: the primary asks this node to take over in term {}", p.term());
  if (p.term() <= identity_.epoch) {
    repl::Envelope e;
    e.mutable_switchover_refused()->set_reason("term " + std::to_string(p.term()) + " is not newer than " +
                                               std::to_string(identity_.epoch));
    send(e);
    return;
  }
  prepare_.preparing = true;
  prepare_.started = std::chrono::steady_clock::now();
  if (!prepare_.timer) prepare_.timer = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  check_switchover_ready();
}

std::string StandbyReplicator::not_ready_reason() {
  if (!config_ok_ || stats_.channel_state != "in-sync") return "not in sync with the primary (" + stats_.channel_state + ")";
  for (auto& [id, s] : shadows_) {
    if (s.closed_by_primary) continue;
    const std::string who = s.peer.to_string();
    if (s.broken) return who + ": the shadow is broken";
    if (!s.snapshot_done) return who + ": bulk sync not finished";
    if (s.buffered > 0 || s.consumed < s.in_next) return who + ": replicated bytes not consumed yet";
    std::vector<std::string> examples;
    if (size_t n = AdvertisedTable::diff(s.sent_by_primary, s.would_send, examples, 1); n > 0)
      return who + ": the shadow would advertise " + std::to_string(n) + " prefixes differently (" + examples[0] + ")";
  }
  return "";
}

void StandbyReplicator::check_switchover_ready() {
  if (!prepare_.preparing) return;
  consume();  // what is buffered goes to the shadows now
  std::string why = not_ready_reason();
  if (why.empty() || std::chrono::steady_clock::now() - prepare_.started > kReadyLimit) {
    prepare_.preparing = false;
    repl::Envelope e;
    if (why.empty()) {
      e.mutable_switchover_ready();
      spdlog::info("switchover: ready after {} us", us_since(prepare_.started));
    } else {
      e.mutable_switchover_refused()->set_reason(why);
      spdlog::warn("switchover: refused: {}", why);
    }
    send(e);
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  prepare_.timer->expires_after(kReadyPoll);
  prepare_.timer->async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    check_switchover_ready();
  });
}

void StandbyReplicator::on_switchover_commit(const repl::SwitchoverCommit& c) {
  const auto t0 = std::chrono::steady_clock::now();
  spdlog::info("switchover: taking over {} sessions in term {}", c.sessions_size(), c.term());
  std::vector<Handoff> handoffs;
  for (const auto& fs : c.sessions()) {
    auto it = shadows_.find(fs.connection_id());
    std::string why;
    auto frozen = from_proto(fs.tcp(), why);
    if (it == shadows_.end() || !frozen) {
      spdlog::error("switchover: session {} ({}): {}", fs.peer(), fs.connection_id(),
                    it == shadows_.end() ? "no shadow for it" : "bad frozen state: " + why);
      continue;
    }
    if (it->second.consumed != fs.inbound_offset())
      spdlog::warn("switchover: session {}: the shadow consumed {} bytes, the primary read {}", fs.peer(),
                   it->second.consumed, fs.inbound_offset());
    handoffs.push_back({fs.connection_id(), std::move(*frozen), std::nullopt, "", fs.outbound_offset()});
  }
  auto live = go_live(handoffs, "switchover");
  for (const auto& h : handoffs)
    if (!h.failed.empty())
      spdlog::error("switchover: session {}: {}", shadows_[h.shadow_id].peer.to_string(), h.failed);
  spdlog::info("switchover: {} of {} sessions live {} us after the commit arrived", live.size(), c.sessions_size(),
               us_since(t0));
  // Shadows of sessions not handed over are dropped; those peers start afresh.
  for (auto& [id, s] : shadows_) {
    if (!s.conn) continue;
    if (auto* p = speaker_.find_peer(s.peer)) p->reset_shadow("not handed over in the switchover");
  }
  shadows_.clear();
  identity_.epoch = c.term();
  if (on_promoted_) on_promoted_(c.term(), live);
}

}  // namespace tandem::replicator
