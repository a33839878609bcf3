#include "apps/tandemd/replication_wiring.hpp"

#include <spdlog/spdlog.h>

#include "replicator/channel/key.hpp"

namespace tandem::app {

std::unique_ptr<ReplicationWiring> ReplicationWiring::prepare(session::Speaker& speaker, const config::Config& cfg,
                                                              std::string& error) {
  const auto& ha = cfg.ha;
  if (!ha.enabled()) return nullptr;
  auto key = replicator::load_key(ha.key_file);
  if (!key.ok()) {
    error = "[ha] key_file: " + key.error;
    return nullptr;
  }
  std::unique_ptr<ReplicationWiring> w(new ReplicationWiring(speaker, ha.epoch_file));
  if (!w->epoch_.load(error)) {
    error = "[ha] epoch_file: " + error;
    return nullptr;
  }
  replicator::ChannelIdentity id;
  id.node_id = ha.node_id;
  id.key = std::move(key.key);
  id.software = std::string("tandemd ") + TANDEM_VERSION;
  if (ha.role == "primary") {
    // A primary takes a new term, so that any earlier primary is recognisably stale.
    const uint64_t term = w->epoch_.value() + 1;
    if (!w->epoch_.store(term, error)) {
      error = "[ha] epoch_file: " + error;
      return nullptr;
    }
    id.role = replicator::repl::ROLE_PRIMARY;
    id.epoch = term;
    w->primary_ = std::make_unique<replicator::PrimaryReplicator>(speaker, ha, std::move(id));
    speaker.add_tap(w->primary_.get());
  } else {
    id.role = replicator::repl::ROLE_STANDBY;
    id.epoch = w->epoch_.value();
    speaker.set_standby(true);
    w->standby_ = std::make_unique<replicator::StandbyReplicator>(speaker, ha, std::move(id), w->epoch_);
  }
  if (ha.heartbeat) {
    w->heartbeat_.state = "down";
    w->heartbeat_.why = "not Up yet";
  }
  spdlog::info("replication: node {} is the {} (term {})", ha.node_id, ha.role, w->epoch_.value());
  return w;
}

bool ReplicationWiring::start(std::string& error) {
  if (primary_) return primary_->start(error);
  if (standby_) standby_->start();
  return true;
}

ReplicationWiring::~ReplicationWiring() {
  if (primary_) {
    primary_->stop();
    speaker_.remove_tap(primary_.get());
  }
  if (standby_) standby_->stop();
}

std::optional<replicator::ReplStatus> ReplicationWiring::status() const {
  std::optional<replicator::ReplStatus> st;
  if (primary_) st = primary_->status();
  if (standby_) st = standby_->status();
  if (!st) return st;
  st->heartbeat = heartbeat_.state;
  st->heartbeat_why = heartbeat_.why;
  st->heartbeat_losses = heartbeat_.losses;
  if (heartbeat_.changed)
    st->heartbeat_change_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - *heartbeat_.changed)
                                      .count();
  return st;
}

void ReplicationWiring::on_pair_liveness(bool up, const std::string& why) {
  const bool was_up = heartbeat_.state == "up";
  heartbeat_.state = up ? "up" : "down";
  heartbeat_.why = why;
  heartbeat_.changed = std::chrono::steady_clock::now();
  if (was_up && !up) ++heartbeat_.losses;
  const auto st = status();
  const std::string channel = st ? st->channel_state : "-";
  if (up)
    spdlog::info("replication: heartbeat with the other node is up ({}; channel {})", why, channel);
  else
    spdlog::warn("replication: heartbeat with the other node lost ({}; channel {}): the other node is dead, hung or "
                 "cut off from this one",
                 why, channel);
}

std::function<std::optional<replicator::ReplStatus>()> ReplicationWiring::status_fn(const ReplicationWiring* w) {
  return [w]() -> std::optional<replicator::ReplStatus> { return w ? w->status() : std::nullopt; };
}

void ReplicationWiring::warn_reload(const config::Config& running, const config::Config& next) {
  if (running.ha != next.ha) spdlog::warn("config reload: [ha] changes need a restart; ignored");
}

std::string ReplicationWiring::check(const config::Config& cfg) {
  if (!cfg.ha.enabled()) return {};
  auto key = replicator::load_key(cfg.ha.key_file);
  return key.ok() ? std::string() : "[ha] key_file: " + key.error;
}

}  // namespace tandem::app
