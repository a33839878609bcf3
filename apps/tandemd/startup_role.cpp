#include "apps/tandemd/startup_role.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "replicator/channel/key.hpp"
#include "replicator/epoch.hpp"
#include "replicator/startup_role.hpp"

namespace tandem::app {

namespace {

replicator::StartupQuery query_for(const config::HaConfig& ha, std::vector<uint8_t> key, uint64_t term) {
  using std::chrono::milliseconds;
  replicator::StartupQuery q;
  if (ha.peer) q.channel = boost::asio::ip::tcp::endpoint(session::to_asio(ha.peer->first), ha.peer->second);
  q.identity = {ha.node_id, replicator::repl::ROLE_STANDBY, term, key, std::string("tandemd ") + TANDEM_VERSION};
  q.channel_timeout = milliseconds(ha.channel_dead_ms);
  if (ha.witness_address && !ha.vip_interface.empty()) {
    const milliseconds every(ha.heartbeat_interval_ms);
    q.beacon = replicator::witness::BeaconOptions{ha.vip_interface, *ha.witness_address, ha.witness_port, every,
                                                  std::move(key)};
    // A few of the primary's intervals, however short they are.
    q.beacon_window = std::clamp(3 * every, milliseconds(100), milliseconds(3000));
  }
  return q;
}

}  // namespace

bool settle_startup_role(config::Config& cfg, std::string& error) {
  auto& ha = cfg.ha;
  if (ha.role != "primary") return true;
  if (!ha.peer && !ha.witness_address) {
    spdlog::warn("startup: no [ha] peer or witness_address to ask whether the other node is the primary already: "
                 "starting as the primary");
    return true;
  }
  auto key = replicator::load_key(ha.key_file);
  if (!key.ok()) return true;  // the replication's start reports it and stops
  replicator::EpochStore epoch(ha.epoch_file);
  std::string why;
  if (!epoch.load(why)) return true;  // likewise
  const auto q = query_for(ha, std::move(key.key), epoch.value());
  spdlog::info("startup: configured as the primary; asking first whether the other node is the primary already "
               "(channel {}, term beacon {})",
               q.channel ? replicator::describe_endpoint(*q.channel) : "not configured",
               ha.witness_address ? "on " + ha.vip_interface : "not configured");
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = replicator::ask_other_node(q);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  switch (a.other) {
    case replicator::OtherNode::Absent:
      spdlog::info("startup: no primary found in {:.0f} ms ({}): starting as the primary", ms, a.evidence);
      return true;
    case replicator::OtherNode::Primary:
      spdlog::warn("startup: {} ({:.0f} ms): it holds the sessions, taken over while this node was away; starting "
                   "as its standby instead of the configured primary",
                   a.evidence, ms);
      break;
    case replicator::OtherNode::Unverified:
      spdlog::error("startup: {} ({:.0f} ms): it may be a primary that cannot answer (stopped, or another key); "
                    "starting as the standby, which makes no second speaker (--ha-role primary starts as the "
                    "primary without asking)",
                    a.evidence, ms);
      break;
  }
  if (!ha.peer) {
    error = "startup: the other node is the primary and this node has no [ha] peer to follow it as the standby";
    return false;
  }
  ha.role = "standby";
  return true;
}

}  // namespace tandem::app
