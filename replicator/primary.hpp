// The primary's half of replication (DESIGN §3): a session tap that streams every
// Established session's bytes to the standby, the bulk sync a standby gets when it
// connects, flow control from the standby's window updates (read pacing and
// TCP_WINDOW_CLAMP on the peer socket), outbound bytes held until the standby has them,
// and periodic TCP checkpoints. Runs on the event loop thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "replicator/channel/channel.hpp"
#include "replicator/config_digest.hpp"
#include "replicator/snapshot.hpp"
#include "replicator/status.hpp"

namespace tandem::replicator {

class PrimaryReplicator final : public session::SessionTap {
 public:
  PrimaryReplicator(session::Speaker& speaker, const config::HaConfig& ha, ChannelIdentity identity);
  ~PrimaryReplicator() override;

  // Open the replication listener. False + why when it cannot be bound.
  bool start(std::string& why);
  void stop();
  ReplStatus status() const;

  // ---- planned switchover (primary_switchover.cpp, docs/ha.md) ----
  // Hand every Established session to the standby: stop reading, drain what was
  // produced, ask the standby (Prepare), then release the VIPs, freeze the sockets and
  // send them (Commit). `done(true)` once the Commit is on the wire: this node must now
  // leave the sessions alone (it restarts as the standby). `done(false, why)` when the
  // switchover did not happen (no standby, a session not in sync, the standby refused,
  // a timeout): everything carries on as before.
  using SwitchoverDone = std::function<void(bool ok, const std::string& why)>;
  void switchover(SwitchoverDone done);
  bool switching() const { return sw_.active; }
  // Nothing left to send to the standby (the Commit has left this process).
  bool channel_idle() const { return !channel_ || channel_->queued_bytes() == 0; }
  // Releases the VIPs before the freeze (set by the daemon; none configured: unset).
  void set_release_vips(std::function<bool(std::string& why)> f) { release_vips_ = std::move(f); }
  // Fencing (primary_fence.cpp): the other node took the sessions over (TakeoverNotice),
  // or this node is cut off from the peers. Every session socket is closed silently
  // (TCP_REPAIR: no FIN, no RST, nothing queued leaves), the VIPs are released, then
  // on_fenced(why): the daemon restarts as the standby. This node never writes again.
  void fence(const std::string& why);
  void set_on_fenced(std::function<void(const std::string& why)> f) { on_fenced_ = std::move(f); }
  // The crash guard (replicator/guard): every Established session's connection is
  // protected (its kernel may not send FIN/RST for it should this process die) until
  // this process closes it on purpose. `protect` false = unprotect.
  using GuardFn = std::function<void(const session::Endpoints& ep, bool protect)>;
  void set_guard(GuardFn f) { guard_ = std::move(f); }
  void before_close(uint64_t id) override;
  // The ACK hold (replicator/guard, docs/ha.md "The ACK hold"): while a session is
  // replicated, its peer's bytes are acknowledged only as far as the standby holds them
  // (`limit`, a TCP sequence number). nullopt releases. `md5_key`: the session's TCP-MD5
  // key, empty if none. Set by the daemon with the guard.
  using AckHoldFn = std::function<void(const session::Endpoints& ep, std::optional<uint32_t> limit,
                                       uint8_t rcv_wscale, const std::string& md5_key)>;
  void set_ack_hold(AckHoldFn f) { ack_hold_ = std::move(f); }
  bool fenced() const { return fenced_; }
  // The BFD sessions with the BGP peers (set by the daemon): all of them go to a standby
  // after the configuration digest and before a SwitchoverCommit; bfd_changed() sends one
  // that came Up or went Down.
  void set_bfd_snapshot(std::function<std::vector<repl::BfdSession>()> f) { bfd_snapshot_ = std::move(f); }
  void bfd_changed(const repl::BfdSession& s);
  // After a stall of this process (BfdWiring holds the peers' BFD sessions): is this node
  // still the primary? With a standby connected, a probe over the channel decides: its
  // answer says yes (a TakeoverNotice sent before it would have arrived first), a
  // TakeoverNotice no (fenced). The channel closing, or no answer within kConfirmWait,
  // says yes: a standby that read the probe does not take over while it hears this node,
  // and one that took over before sent its notice already. No standby: yes at once.
  using ConfirmDone = std::function<void(bool still_primary, const std::string& why)>;
  void confirm_primary(ConfirmDone done);
  // A node that became primary by a takeover: its sessions were Established before
  // this replicator existed; a standby that connects gets them in its bulk sync.
  void adopt(uint64_t id, const wire::IpAddr& peer);

  // ---- SessionTap ----
  void on_open(const wire::IpAddr& peer, uint64_t id, const session::Endpoints& ep) override;
  void on_bytes(uint64_t id, session::Direction dir, uint64_t offset, std::span<const uint8_t> bytes) override;
  void on_close(uint64_t id) override;
  void on_established(uint64_t id) override;
  uint64_t outbound_limit(uint64_t id) override;
  uint64_t inbound_limit(uint64_t id) override;

 private:
  enum class Sync { NotReplicated, BulkSyncing, InSync };
  struct Session {
    uint64_t id = 0;
    wire::IpAddr peer;
    Sync sync = Sync::NotReplicated;
    bool established = false;
    // Inbound bytes since offset 0 until Established (the handshake and what came with
    // the KEEPALIVE), so the stream can start exactly at the established offset.
    std::vector<uint8_t> early_inbound;
    bool early_overflow = false;
    uint64_t in_read = 0, out_queued = 0;  // tapped so far
    uint64_t in_sent = 0, out_sent = 0;    // sent to the standby up to
    uint64_t in_acked = 0, out_acked = 0;  // the standby holds up to
    uint64_t in_from = 0;                  // the stream to the standby starts here
    uint64_t snapshot_in_end = 0;          // in sync once the standby consumed this far
    std::string pending_in, pending_out;   // tapped, not yet framed (coalesced per loop turn)
    uint64_t pending_in_at = 0, pending_out_at = 0;
    std::deque<std::pair<uint64_t, std::chrono::steady_clock::time_point>> unacked_reads;  // lag in time
    // Snapshot of this session in progress.
    std::unique_ptr<RibChunker> chunker;
    // Window estimation.
    uint64_t standby_read = 0;
    uint32_t standby_queued = 0;
    uint32_t standby_buffer = 0;
    uint32_t estimated_window = 0;
    uint64_t window_updates = 0;
    uint32_t clamp = 0;           // current TCP_WINDOW_CLAMP, 0 = never set
    uint32_t original_clamp = 0;  // to restore without a standby
    uint32_t original_rcvbuf = 0;
    uint32_t mss = 1460;
    // Checkpoints.
    std::optional<session::SeqBases> bases;
    repl::Checkpoint last_checkpoint;
    bool has_checkpoint = false;
    uint64_t checkpoints = 0;
    // The ACK hold.
    bool acks_held = false;
    uint8_t rcv_wscale = 0;
    std::string md5_key;
  };

  // Channel.
  Channel::Handlers handlers();
  void on_channel(const std::shared_ptr<Channel>& ch);
  void on_ready(const repl::Hello& remote);
  void answer_startup_query(const std::shared_ptr<Channel>& ch, const repl::Hello& remote);
  void on_message(repl::Envelope&& m);
  void on_closed(const std::string& why);
  void on_echo(uint64_t nonce);
  bool replicating() const { return channel_ && channel_->ready() && accepted_; }
  void send(const repl::Envelope& m);
  // Bulk sync.
  void begin_snapshot();
  void snapshot_step();
  void start_streaming(Session& s, const repl::SessionObject& object, const std::vector<uint8_t>& inbound_tail);
  // Stream.
  void queue_stream(Session& s, session::Direction dir, uint64_t offset, std::span<const uint8_t> bytes);
  void schedule_flush();
  void flush();
  void on_ack(const repl::StreamAck& a);
  void on_window_update(const repl::WindowUpdate& w);
  void apply_clamp(Session& s);
  void release_all();  // no standby: every gate open, clamps restored
  // Checkpoints.
  void arm_checkpoint_timer();
  void checkpoint(Session& s, bool force);
  SessionReplStatus session_status(const Session& s) const;
  // Switchover steps.
  void switchover_step();
  void on_switchover_ready();
  void finish_switchover(bool ok, const std::string& why);

  session::Speaker& speaker_;
  config::HaConfig ha_;
  ChannelIdentity identity_;
  std::shared_ptr<ChannelListener> listener_;
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<std::weak_ptr<Channel>> pending_cell_;  // handlers() -> on_channel()
  std::vector<std::shared_ptr<Channel>> handshaking_;      // accepted, Hello not yet verified
  std::vector<std::shared_ptr<Channel>> startup_queries_;  // answered startup queries, until closed
  bool accepted_ = false;  // the standby's Hello was accepted
  std::map<uint64_t, Session> sessions_;
  std::deque<uint64_t> snapshot_queue_;  // sessions still to send in this bulk sync
  bool snapshot_running_ = false;
  bool api_bulk_pending_ = false;             // the API's routes not all sent yet
  std::optional<wire::Prefix> api_cursor_;    // the last of them sent
  bool waiting_drain_ = false;
  uint64_t snapshot_id_ = 0;
  std::chrono::steady_clock::time_point snapshot_started_;
  bool flush_posted_ = false;
  std::unique_ptr<boost::asio::steady_timer> checkpoint_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  ReplStatus stats_;
  struct Switchover {
    bool active = false;
    bool prepared = false;  // Prepare sent, waiting for Ready
    SwitchoverDone done;
    std::chrono::steady_clock::time_point started;
    std::unique_ptr<boost::asio::steady_timer> timer;
  } sw_;
  std::function<bool(std::string& why)> release_vips_;
  std::function<void(const std::string& why)> on_fenced_;
  std::function<std::vector<repl::BfdSession>()> bfd_snapshot_;
  void send_bfd_sessions();
  GuardFn guard_;
  void guard(uint64_t id, bool protect);
  AckHoldFn ack_hold_;
  void hold_acks(Session& s);     // hold (or move the limit) to what the standby holds
  void release_acks(Session& s);
  bool fenced_ = false;
  // confirm_primary (primary_fence.cpp).
  static constexpr std::chrono::milliseconds kConfirmWait{1000};
  void finish_confirm(bool still_primary, const std::string& why);
  std::vector<ConfirmDone> confirm_waiting_;
  uint64_t probe_nonce_ = 0;
  std::chrono::steady_clock::time_point probe_sent_;
  std::unique_ptr<boost::asio::steady_timer> confirm_timer_;
};

}  // namespace tandem::replicator
