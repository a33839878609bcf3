// tandemd's side of the pair ([ha]): the replicator for this node's role, its key and
// term, and what the API shows. The primary's replicator is a session tap; the
// standby's Speaker runs in standby mode (no listeners, shadows only).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "healthbpf/driver_status.hpp"
#include "replicator/epoch.hpp"
#include "replicator/primary.hpp"
#include "replicator/standby.hpp"
#include "replicator/status.hpp"
#include "replicator/guard/egress_guard.hpp"
#include "replicator/vip/vip_set.hpp"
#include "replicator/witness/term_beacon.hpp"

namespace tandem::app {

class ReplicationWiring {
 public:
  // Before Speaker::start: load the key and the term, set the speaker's mode and hook
  // the tap (primary). nullptr + `error` when the key or the term file is unusable.
  static std::unique_ptr<ReplicationWiring> prepare(session::Speaker& speaker, const config::Config& cfg,
                                                    std::string& error);
  // Before Speaker::start: the primary claims the VIPs ([ha] vips; sessions run from
  // them), a standby makes sure it does not hold them. False + `error`.
  bool take_vips(std::string& error);
  // After Speaker::start: listen (primary) or dial (standby). False + `error`.
  bool start(std::string& error);
  ~ReplicationWiring();

  std::optional<replicator::ReplStatus> status() const;
  // The pair's heartbeat (BfdWiring, [ha] heartbeat = true) changed: the node-liveness
  // signal. Logged and shown in the status; the takeover acts on it.
  void on_pair_liveness(bool up, bool primary_heard, const std::string& why);
  // For the API (runs on the event loop): nullopt when `w` is null ([ha] off).
  static std::function<std::optional<replicator::ReplStatus>()> status_fn(const ReplicationWiring* w);

  // Planned switchover (HaService.Switchover), primary only. `done(true, message)` once
  // the sessions are with the standby and the Commit has left: then `on_handed_over`
  // (set by the daemon) restarts this node as the standby.
  using Done = std::function<void(bool ok, const std::string& message)>;
  void switchover(Done done);
  void set_on_handed_over(std::function<void()> f) { on_handed_over_ = std::move(f); }
  // The BGP sessions are the other node's from now on (a switchover's Commit left, or a
  // fence): called at once, before on_handed_over's restart.
  void set_on_released(std::function<void()> f) { on_released_ = std::move(f); }
  // Is this node still the primary (BfdWiring asks after a stall of its thread)? A
  // primary with a standby connected asks it (PrimaryReplicator::confirm_primary); a
  // standby, a primary without one, or a node without [ha] answers yes at once; a fenced
  // or handed-over primary, no.
  void confirm_primary(std::function<void(bool still_primary, const std::string& why)> done);
  // BFD sessions move with the BGP sessions (docs/ha.md; set by the daemon from
  // BfdWiring): `snapshot` gives the BGP peers' BFD sessions now (a primary sends them to
  // its standby), `resume` gets the Up ones the primary had when this standby takes over,
  // the moment its sessions are live and the VIPs here (before the promotion).
  // bfd_changed: one came Up or went Down.
  using BfdStates = std::vector<healthbpf::SessionHandover>;
  void set_bfd_handover(std::function<BfdStates()> snapshot, std::function<void(const BfdStates&)> resume) {
    bfd_snapshot_ = std::move(snapshot);
    bfd_resume_ = std::move(resume);
  }
  void bfd_changed(const healthbpf::SessionHandover& s);
  bool primary() const { return primary_ != nullptr; }
  // SIGHUP: [ha] changes need a restart; says so.
  static void warn_reload(const config::Config& running, const config::Config& next);
  // --check-config: the key file is usable. Empty when fine or [ha] is off.
  static std::string check(const config::Config& cfg);

 private:
  ReplicationWiring(session::Speaker& speaker, const config::HaConfig& ha, std::string epoch_file)
      : speaker_(speaker), ha_(ha), epoch_(std::move(epoch_file)) {}
  void make_primary(replicator::ChannelIdentity id);
  void make_standby(replicator::ChannelIdentity id);
  // A takeover's sessions are live (StandbyReplicator's on_live): the peers' BFD sessions
  // the primary had start here now.
  void resume_bfd();
  // The standby took the sessions over (switchover): it is the primary from now on.
  void on_promoted(uint64_t term, const std::vector<std::pair<uint64_t, wire::IpAddr>>& live);
  void wait_channel_idle(Done done, std::string message, int tries);
  // The term beacon ([ha] witness_address): started with the replicator; a primary
  // sends its term, and fences itself on hearing a newer one.
  bool start_beacon(std::string& error);
  void on_beacon(const replicator::witness::Beacon& b, const wire::IpAddr& from);

  session::Speaker& speaker_;
  config::HaConfig ha_;
  replicator::ChannelIdentity identity_;
  replicator::EpochStore epoch_;
  std::unique_ptr<replicator::vip::VipSet> vips_;
  std::unique_ptr<replicator::guard::EgressGuard> guard_;
  void open_guard();
  void guard_connection(const session::Endpoints& ep, bool protect);
  void hold_acks(const session::Endpoints& ep, std::optional<uint32_t> limit, uint8_t rcv_wscale,
                 const std::string& md5_key);
  void ack_hold_failed(const session::TcpEndpoint& remote, const std::string& why);
  uint64_t ack_hold_errors_ = 0;
  std::function<void()> on_handed_over_;
  std::function<void()> on_released_;
  std::function<BfdStates()> bfd_snapshot_;
  std::function<void(const BfdStates&)> bfd_resume_;
  std::unique_ptr<boost::asio::steady_timer> idle_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<replicator::PrimaryReplicator> primary_;
  std::unique_ptr<replicator::StandbyReplicator> standby_;
  std::unique_ptr<replicator::witness::TermBeacon> beacon_;
  std::chrono::steady_clock::time_point last_beacon_log_{};
  bool handed_over_ = false;  // switchover done, restarting as the standby
  struct Heartbeat {
    std::string state = "off";
    std::string why;
    uint64_t losses = 0;
    std::optional<std::chrono::steady_clock::time_point> changed;
  } heartbeat_;
};

}  // namespace tandem::app
