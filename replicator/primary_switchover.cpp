// The primary's side of a planned switchover (docs/ha.md, "Planned switchover").
//   1. Refuse unless a standby is attached and every Established session is in sync.
//   2. Stop reading (inbound_limit) and let what was produced reach the sockets and the
//      standby (drained: nothing queued or being written, everything acknowledged).
//   3. Prepare -> the standby checks that its shadows consumed everything and would
//      advertise what we advertised -> Ready (or Refused: we carry on).
//   4. Release the VIPs (segments to them are then dropped silently, NSR-NOTES), freeze
//      every socket (TCP_REPAIR) and close it silently, send the Commit.
// Any failure before step 4 leaves everything as it was.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "replicator/frozen_state.hpp"
#include "replicator/primary.hpp"

namespace tandem::replicator {

namespace {
constexpr auto kDrainLimit = std::chrono::seconds(3);     // steps 2 and 3 together
constexpr auto kPollEvery = std::chrono::milliseconds(1);
}  // namespace

void PrimaryReplicator::adopt(uint64_t id, const wire::IpAddr& peer) {
  auto conn = speaker_.find_connection(id);
  if (!conn) return;
  Session& s = sessions_[id];
  s.id = id;
  s.peer = peer;
  s.established = true;
  s.in_read = s.in_sent = s.in_acked = conn->inbound_offset();
  s.out_queued = s.out_sent = s.out_acked = conn->outbound_offset();
  guard(id, true);
}

void PrimaryReplicator::switchover(SwitchoverDone done) {
  if (sw_.active) return done(false, "a switchover is already in progress");
  if (!replicating() || snapshot_running_) return done(false, "no standby in sync (channel " + stats_.channel_state + ")");
  std::string lagging;
  for (const auto& [id, s] : sessions_) {
    if (!s.established) continue;
    auto conn = speaker_.find_connection(id);
    if (!conn || conn->state() != fsm::State::Established) continue;
    if (s.sync != Sync::InSync) lagging += (lagging.empty() ? "" : ", ") + s.peer.to_string();
  }
  if (!lagging.empty()) return done(false, "sessions not in sync with the standby: " + lagging);
  sw_ = Switchover{};
  sw_.active = true;
  sw_.done = std::move(done);
  sw_.started = std::chrono::steady_clock::now();
  sw_.timer = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  spdlog::info("switchover: stopping reads and draining {} sessions", sessions_.size());
  switchover_step();
}

void PrimaryReplicator::switchover_step() {
  if (!sw_.active) return;
  const bool late = std::chrono::steady_clock::now() - sw_.started > kDrainLimit;
  if (late && sw_.prepared) return finish_switchover(false, "the standby did not answer in time");
  if (!sw_.prepared) {
    flush();  // anything tapped but not yet framed
    std::string waiting;
    for (auto& [id, s] : sessions_) {
      if (!s.established) continue;
      auto conn = speaker_.find_connection(id);
      if (!conn) continue;
      conn->gate_moved();  // re-reads the limits: writes what the standby acknowledged
      if (!conn->drained() || s.in_acked < s.in_read || s.out_acked < s.out_queued || !s.pending_in.empty() ||
          !s.pending_out.empty())
        waiting = fmt::format("{} ({}): written {} of {} queued, standby holds in {}/{} out {}/{}", s.peer.to_string(),
                              id, conn->outbound_written(), conn->outbound_offset(), s.in_acked, s.in_read, s.out_acked,
                              s.out_queued);
    }
    if (late) return finish_switchover(false, "the sessions did not drain in time: " + waiting);
    if (waiting.empty()) {
      repl::Envelope e;
      e.mutable_switchover_prepare()->set_term(identity_.epoch + 1);
      send(e);
      sw_.prepared = true;
      spdlog::info("switchover: drained in {} us; asking the standby",
                   std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - sw_.started).count());
    }
  }
  std::weak_ptr<bool> alive = alive_;
  sw_.timer->expires_after(kPollEvery);
  sw_.timer->async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    switchover_step();
  });
}

void PrimaryReplicator::on_switchover_ready() {
  if (!sw_.active || !sw_.prepared) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::string why;
  if (release_vips_ && !release_vips_(why)) return finish_switchover(false, "releasing the VIPs: " + why);
  send_bfd_sessions();  // as they are now: the standby carries them on
  repl::Envelope e;
  auto& commit = *e.mutable_switchover_commit();
  commit.set_term(identity_.epoch + 1);
  size_t failed = 0;
  for (auto& [id, s] : sessions_) {
    if (!s.established) continue;
    auto conn = speaker_.find_connection(id);
    if (!conn || conn->state() != fsm::State::Established) continue;
    // The frozen send queue ends with what the taps saw (freeze_for_handoff).
    const uint64_t in = conn->inbound_offset(), out = conn->outbound_offset();
    auto frozen = conn->freeze_for_handoff(why);
    if (!frozen) {
      // Too late to go back (the VIPs are gone): this session is lost to the standby,
      // which starts it again.
      spdlog::error("switchover: session {} ({}): cannot freeze: {}", s.peer.to_string(), id, why);
      ++failed;
      continue;
    }
    auto& fs = *commit.add_sessions();
    fs.set_connection_id(id);
    fs.set_peer(s.peer.to_string());
    fs.set_inbound_offset(in);
    fs.set_outbound_offset(out);
    to_proto(*frozen, *fs.mutable_tcp());
  }
  send(e);
  spdlog::info("switchover: {} sessions frozen and sent to the standby in {} us ({} failed); this node is no longer "
               "the primary",
               commit.sessions_size(),
               std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count(),
               failed);
  finish_switchover(true, "");
}

void PrimaryReplicator::finish_switchover(bool ok, const std::string& why) {
  if (!sw_.active) return;
  auto done = std::move(sw_.done);
  sw_.active = false;
  if (sw_.timer) sw_.timer->cancel();
  if (!ok) {
    spdlog::warn("switchover: not done: {}; sessions carry on here", why);
    // Reads resume.
    for (auto& [id, s] : sessions_)
      if (auto conn = speaker_.find_connection(id)) conn->gate_moved();
  }
  if (done) done(ok, why);
}

}  // namespace tandem::replicator
