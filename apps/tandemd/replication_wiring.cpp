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
  if (primary_) return primary_->status();
  if (standby_) return standby_->status();
  return std::nullopt;
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
