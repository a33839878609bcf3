// The standby's half of replication (DESIGN §3): dials the primary, checks that both
// nodes run the same configuration, loads the bulk sync, and keeps one shadow session
// per primary session. Replicated inbound bytes wait in a per-session transmission
// buffer that the shadow reads; window updates tell the primary how far it has read.
// What the shadow would send is compared with what the primary sent. Runs on the event
// loop thread; the shadows are Connections of the standby's own Speaker (standby mode).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <utility>
#include <vector>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "bgpd/session/tcp_repair.hpp"
#include "replicator/advertised_table.hpp"
#include "replicator/api_routes.hpp"
#include "replicator/channel/channel.hpp"
#include "replicator/epoch.hpp"
#include "replicator/status.hpp"

namespace tandem::replicator {

// Microseconds from `t` to now (the takeover's and failover's step timings in the log).
inline uint64_t us_since(std::chrono::steady_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count());
}

class StandbyReplicator {
 public:
  StandbyReplicator(session::Speaker& speaker, const config::HaConfig& ha, ChannelIdentity identity,
                    EpochStore& epoch);
  ~StandbyReplicator();

  // ---- takeover (standby_takeover.cpp) ----
  // The VIPs, for the takeovers. Unset members: no VIPs configured.
  struct VipHooks {
    // Add + gratuitous ARP / NA: between the sockets' restore and their leaving repair mode.
    std::function<bool(std::string& why)> claim;
    // Unplanned takeover, before the sequence probes: announce without adding.
    std::function<bool(std::string& why)> announce_only;
    // The peers' segment is reachable from this node (a node cut off never takes over).
    std::function<bool()> link_up;
  };
  void set_vip_hooks(VipHooks h) { vips_ = std::move(h); }
  // The pair's heartbeat with the primary went down (node death, hang, cut off) or up:
  // take the sessions over once the replication channel is silent too, if this node may
  // (standby_failover.cpp).
  // The pair's heartbeat changed; `primary_heard`: a packet from the primary caused it
  // (BFD Down signalled by the primary, or its AdminDown).
  void on_primary_heartbeat(bool up, bool primary_heard, const std::string& why);
  // The term beacon (replicator/witness): when the primary's beacon last arrived over the
  // peers' segment. A primary still heard there is alive: no takeover on the heartbeat.
  using LastHeard = std::function<std::optional<std::chrono::steady_clock::time_point>()>;
  void set_primary_witness(LastHeard f) { witness_ = std::move(f); }
  // After a takeover: this node is the primary now, in `term`, with these sessions
  // (connection id on this node, peer) live. The daemon switches the replication role.
  using OnPromoted = std::function<void(uint64_t term, const std::vector<std::pair<uint64_t, wire::IpAddr>>& live)>;
  void set_on_promoted(OnPromoted f) { on_promoted_ = std::move(f); }
  // Earlier in a takeover: the sessions' sockets are live and the VIPs this node's; what
  // the peers time on their own (their BFD sessions) must speak now, before the rest of
  // the takeover and the promotion run.
  void set_on_live(std::function<void()> f) { on_live_ = std::move(f); }
  // The primary's BFD sessions with the BGP peers as last replicated: the Up ones are
  // carried on by this node when it takes over (docs/ha.md).
  std::vector<repl::BfdSession> bfd_sessions() const;

  void start();  // dial the primary (and re-dial after every failure)
  void stop();
  ReplStatus status() const;

 private:
  struct Shadow {
    uint64_t id = 0;
    wire::IpAddr peer;
    std::shared_ptr<session::Connection> conn;
    repl::SessionObject object;
    uint64_t in_next = 0, out_next = 0;  // next expected stream offsets (= acknowledged)
    std::deque<std::string> buffer;      // the transmission buffer (inbound, unread)
    size_t buffer_front_used = 0;        // bytes of buffer.front() already read
    uint64_t buffered = 0;
    uint64_t consumed = 0;               // stream offset the shadow has read up to
    uint64_t read_since_update = 0;
    uint64_t window_updates = 0;
    uint64_t snapshot_in_end = 0;
    bool snapshot_done = false;
    bool closed_by_primary = false;
    bool broken = false;                 // a gap or a refused byte: not a faithful mirror
    AdvertisedTable sent_by_primary;     // from the replicated outbound stream
    AdvertisedTable would_send;          // from the shadow's own output
    uint64_t compared_versions[2] = {0, 0};
    uint64_t quiet_versions[2] = {0, 0};
    uint64_t differences = 0, compared = 0;
    repl::Checkpoint checkpoint;
    bool has_checkpoint = false;
    uint64_t checkpoints = 0;
    // Outbound bytes the peer may not have acknowledged yet (from the last checkpoint's
    // outbound_acked on): an unplanned takeover re-queues what the peer lacks.
    std::deque<std::string> out_retained;
    uint64_t out_retained_start = 0;     // stream offset of out_retained.front()[0]
  };

  void dial();
  void schedule_redial();
  Channel::Handlers handlers();
  void on_ready(const repl::Hello& remote);
  void on_message(repl::Envelope&& m);
  void on_closed(const std::string& why);
  void refuse(repl::Error::Code code, const std::string& why);
  void send(const repl::Envelope& m);
  // Messages.
  void on_config_digest(const repl::ConfigDigest& d);
  void on_snapshot_begin(const repl::SnapshotBegin& b);
  void on_session(const repl::SessionObject& o, bool from_snapshot);
  void on_rib_chunk(const repl::RibChunk& c);
  void on_session_snapshot_done(const repl::SessionSnapshotDone& d);
  void on_stream(repl::StreamData&& d);
  void on_session_closed(const repl::SessionClosed& c);
  void on_checkpoint(const repl::Checkpoint& c);
  // The transmission buffer and the window updates.
  void schedule_consume();
  void consume();
  void send_window_update(Shadow& s);
  void arm_window_timer();
  void schedule_acks();
  void finish_close(Shadow& s);
  void drop_all_shadows(const std::string& why);
  // Comparison of the shadow's output with the primary's.
  void arm_compare_timer();
  void compare(Shadow& s);
  SessionReplStatus session_status(const Shadow& s) const;
  // Switchover (standby_takeover.cpp).
  void on_switchover_prepare(const repl::SwitchoverPrepare& p);
  void check_switchover_ready();
  std::string not_ready_reason();
  void on_switchover_commit(const repl::SwitchoverCommit& c);
  uint32_t mss(const Shadow& s) const { return s.object.tcp().mss() ? s.object.tcp().mss() : 1460; }
  // One session to rebuild here: a switchover's frozen socket or a takeover's probed state.
  struct Handoff {
    uint64_t shadow_id = 0;
    session::FrozenTcp frozen;
    std::optional<uint32_t> tsval;  // the restored socket's TSval, when a probe set a floor
    std::string failed;             // set: why it did not go live
    uint64_t outbound_end = 0;      // the primary's outbound stream offset at frozen.write_seq
  };
  // Restore each in repair mode, claim the VIPs, go live (standby_handoff.cpp). Returns
  // the live sessions (connection id, peer); the others have `failed` set.
  std::vector<std::pair<uint64_t, wire::IpAddr>> go_live(std::vector<Handoff>& handoffs, const char* what);
  // Unplanned takeover (standby_failover.cpp).
  std::string takeover_refusal() const;  // empty: this node may take over
  void take_over_unplanned(const std::string& why);
  void trim_retained(Shadow& s, uint64_t acked);
  void check_primary_lost();
  void recheck_primary_lost_at(std::chrono::steady_clock::time_point when);

  session::Speaker& speaker_;
  config::HaConfig ha_;
  ChannelIdentity identity_;
  EpochStore& epoch_;
  std::shared_ptr<Channel> channel_;
  bool config_ok_ = false;
  ApiRouteMirror api_routes_{speaker_};
  std::map<std::string, repl::BfdSession> bfd_sessions_;  // by peer
  bool stopped_ = false;
  std::map<uint64_t, Shadow> shadows_;
  std::map<uint64_t, bool> ack_due_;  // sessions whose StreamAck is due
  bool acks_posted_ = false;
  bool consume_posted_ = false;
  std::unique_ptr<boost::asio::steady_timer> redial_timer_, window_timer_, compare_timer_;
  bool window_timer_armed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  ReplStatus stats_;
  std::chrono::steady_clock::time_point snapshot_started_;
  VipHooks vips_;
  bool took_over_ = false;
  bool heartbeat_lost_ = false;
  std::string heartbeat_why_;
  // The primary's last sign of life other than the current channel's frames: the frames
  // of a channel since closed, a BFD packet that said Down (check_primary_lost).
  std::optional<std::chrono::steady_clock::time_point> primary_seen_;
  void note_primary_alive(std::optional<std::chrono::steady_clock::time_point> at);
  std::unique_ptr<boost::asio::steady_timer> lost_timer_;
  LastHeard witness_;
  bool witness_logged_ = false;  // once per heartbeat loss
  bool primary_refused_ = false;  // the primary sent an Error on this channel
  OnPromoted on_promoted_;
  std::function<void()> on_live_;
  struct {
    bool preparing = false;
    std::chrono::steady_clock::time_point started;
    std::unique_ptr<boost::asio::steady_timer> timer;
  } prepare_;
};

}  // namespace tandem::replicator
