// tandemd's side of the pair ([ha]): the replicator for this node's role, its key and
// term, and what the API shows. The primary's replicator is a session tap; the
// standby's Speaker runs in standby mode (no listeners, shadows only).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "replicator/epoch.hpp"
#include "replicator/primary.hpp"
#include "replicator/standby.hpp"
#include "replicator/status.hpp"

namespace tandem::app {

class ReplicationWiring {
 public:
  // Before Speaker::start: load the key and the term, set the speaker's mode and hook
  // the tap (primary). nullptr + `error` when the key or the term file is unusable.
  static std::unique_ptr<ReplicationWiring> prepare(session::Speaker& speaker, const config::Config& cfg,
                                                    std::string& error);
  // After Speaker::start: listen (primary) or dial (standby). False + `error`.
  bool start(std::string& error);
  ~ReplicationWiring();

  std::optional<replicator::ReplStatus> status() const;
  // The pair's heartbeat (BfdWiring, [ha] heartbeat = true) changed: the node-liveness
  // signal. Logged and shown in the status; the takeover acts on it.
  void on_pair_liveness(bool up, const std::string& why);
  // For the API (runs on the event loop): nullopt when `w` is null ([ha] off).
  static std::function<std::optional<replicator::ReplStatus>()> status_fn(const ReplicationWiring* w);
  // SIGHUP: [ha] changes need a restart; says so.
  static void warn_reload(const config::Config& running, const config::Config& next);
  // --check-config: the key file is usable. Empty when fine or [ha] is off.
  static std::string check(const config::Config& cfg);

 private:
  explicit ReplicationWiring(session::Speaker& speaker, std::string epoch_file)
      : speaker_(speaker), epoch_(std::move(epoch_file)) {}
  session::Speaker& speaker_;
  replicator::EpochStore epoch_;
  std::unique_ptr<replicator::PrimaryReplicator> primary_;
  std::unique_ptr<replicator::StandbyReplicator> standby_;
  struct Heartbeat {
    std::string state = "off";
    std::string why;
    uint64_t losses = 0;
    std::optional<std::chrono::steady_clock::time_point> changed;
  } heartbeat_;
};

}  // namespace tandem::app
