#include "replicator/primary.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "replicator/api_routes.hpp"
#include "replicator/status_fill.hpp"

namespace tandem::replicator {
namespace {

using Clock = std::chrono::steady_clock;
// Bulk sync works in steps of at most this long on the event loop, so sessions are
// never stalled longer by it; the channel's queue bounds the memory it takes.
constexpr auto kSnapshotStepBudget = std::chrono::milliseconds(2);
constexpr size_t kRoutesPerChunk = 1024;
// The channel hands everything queued to the kernel in one write, and over a veth or
// loopback the receiver's TCP work runs inside that write: a small limit keeps each
// write, and so each step, short.
constexpr size_t kSnapshotQueueLimit = 512u << 10;
// Inbound bytes kept per connection until Established (the handshake plus what came
// with the final KEEPALIVE).
constexpr size_t kEarlyInboundLimit = 4u << 20;

uint64_t realtime_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

const char* sync_name(bool replicating, int sync) {
  if (!replicating || sync == 0) return "not-replicated";
  return sync == 1 ? "bulk-syncing" : "in-sync";
}

}  // namespace

PrimaryReplicator::PrimaryReplicator(session::Speaker& speaker, const config::HaConfig& ha,
                                     ChannelIdentity identity)
    : speaker_(speaker), ha_(ha), identity_(std::move(identity)) {
  stats_.role = "primary";
  stats_.node_id = identity_.node_id;
  stats_.epoch = identity_.epoch;
  stats_.channel_state = "down";
  speaker_.set_api_route_listener([this](std::span<const wire::Prefix> prefixes, const wire::PathAttributes* attrs) {
    // Before the bulk sync has begun, it will carry the change.
    if (accepted_ && channel_) {
      repl::Envelope e;
      *e.mutable_api_routes() = api_routes_change(prefixes, attrs);
      send(e);
    }
  });
}

PrimaryReplicator::~PrimaryReplicator() {
  *alive_ = false;
  speaker_.set_api_route_listener(nullptr);
  stop();
}

bool PrimaryReplicator::start(std::string& why) {
  if (!ha_.listen) {
    why = "[ha] listen is not set";
    return false;
  }
  boost::asio::ip::tcp::endpoint ep(session::to_asio(ha_.listen->first), ha_.listen->second);
  ChannelOptions opts;
  opts.dead_after = std::chrono::milliseconds(ha_.channel_dead_ms);
  if (ha_.heartbeat) opts.keepalive_every = std::chrono::milliseconds(ha_.heartbeat_interval_ms);
  std::string error;
  listener_ = ChannelListener::listen(
      speaker_.io(), ep, identity_, [this](const boost::asio::ip::tcp::endpoint&) { return handlers(); },
      [this](const std::shared_ptr<Channel>& ch) { on_channel(ch); }, opts, &error);
  if (!listener_) {
    why = "cannot listen for the standby on " + ha_.listen->first.to_string() + ":" +
          std::to_string(ha_.listen->second) + ": " + error;
    return false;
  }
  stats_.channel_state = "listening";
  spdlog::info("replication: primary (node {}, term {}) waiting for the standby on {}:{}", identity_.node_id,
               identity_.epoch, ha_.listen->first.to_string(), ha_.listen->second);
  arm_checkpoint_timer();
  return true;
}

void PrimaryReplicator::stop() {
  if (listener_) listener_->close();
  listener_.reset();
  if (channel_) channel_->close("shutting down");
  channel_.reset();
  for (const auto& q : std::exchange(startup_queries_, {})) q->close("shutting down");
  accepted_ = false;
  if (checkpoint_timer_) checkpoint_timer_->cancel();
}

// ---- channel ----

Channel::Handlers PrimaryReplicator::handlers() {
  // The handlers learn their channel in on_channel (called right after this).
  auto cell = std::make_shared<std::weak_ptr<Channel>>();
  pending_cell_ = cell;
  std::weak_ptr<bool> alive = alive_;
  Channel::Handlers h;
  h.on_ready = [this, alive, cell](const repl::Hello& remote) {
    if (!alive.lock()) return;
    auto ch = cell->lock();
    if (!ch) return;
    if (remote.startup_query()) return answer_startup_query(ch, remote);
    if (channel_ && channel_ != ch) {
      spdlog::warn("replication: a new connection from the standby replaces the current one");
      auto old = channel_;
      channel_.reset();
      old->close("replaced by a new connection from the standby");
      release_all();
    }
    channel_ = ch;
    on_ready(remote);
  };
  h.on_message = [this, alive, cell](repl::Envelope&& m) {
    if (alive.lock() && channel_ && cell->lock() == channel_) on_message(std::move(m));
  };
  h.on_echo = [this, alive, cell](uint64_t nonce) {
    if (alive.lock() && channel_ && cell->lock() == channel_) on_echo(nonce);
  };
  h.on_closed = [this, alive, cell](const std::string& why) {
    if (!alive.lock()) return;
    auto ch = cell->lock();
    if (ch && std::erase(startup_queries_, ch) > 0) return;  // the asking node closed it: as it should
    if (ch && ch == channel_) on_closed(why);
    else if (!channel_) stats_.last_error = why;
  };
  h.on_drained = [this, alive, cell] {
    if (alive.lock() && channel_ && cell->lock() == channel_ && waiting_drain_) {
      waiting_drain_ = false;
      snapshot_step();
    }
  };
  return h;
}

void PrimaryReplicator::on_channel(const std::shared_ptr<Channel>& ch) {
  if (pending_cell_) *pending_cell_ = ch;
  pending_cell_.reset();
  // Keep it alive until its handshake ends (on_ready adopts it, on_closed drops it).
  handshaking_.push_back(ch);
  std::erase_if(handshaking_, [](const std::shared_ptr<Channel>& c) { return c->closed() || c->ready(); });
}

// The other node, configured as the primary, asked at its start who is the primary: our
// Hello (term included) was the answer. Its connection is not the standby's: nothing is
// sent on it, the standby's channel (if any) stays; the asking node closes it.
void PrimaryReplicator::answer_startup_query(const std::shared_ptr<Channel>& ch, const repl::Hello& remote) {
  spdlog::warn("replication: node {} ({}) asked at its start who is the primary: answered (term {}); it starts as "
               "the standby", remote.node_id(), ch->remote_description(), identity_.epoch);
  std::erase_if(startup_queries_, [](const std::shared_ptr<Channel>& c) { return c->closed(); });
  startup_queries_.push_back(ch);  // alive until the asking node closes it
}

void PrimaryReplicator::on_ready(const repl::Hello& remote) {
  std::erase_if(handshaking_, [](const std::shared_ptr<Channel>& c) { return c->closed() || c->ready(); });
  stats_.peer_node = remote.node_id();
  stats_.peer_address = channel_->remote_description();
  if (remote.epoch() > identity_.epoch) {
    // The standby has seen a newer primary: this node is the stale one (fencing).
    std::string why = "the standby " + remote.node_id() + " knows term " + std::to_string(remote.epoch()) +
                      ", newer than ours (" + std::to_string(identity_.epoch) +
                      "): this node is a stale primary; not replicating";
    spdlog::error("replication: {}", why);
    repl::Envelope e;
    e.mutable_error()->set_code(repl::Error::CODE_STALE_EPOCH);
    e.mutable_error()->set_message(why);
    channel_->send(e);
    stats_.last_error = why;
    stats_.channel_state = "refused";
    auto ch = channel_;
    channel_.reset();
    ch->close(why);
    return;
  }
  accepted_ = true;
  ++stats_.channel_ups;
  spdlog::info("replication: standby {} ({}) connected, term {}; sending the configuration digest and the "
               "bulk sync", remote.node_id(), channel_->remote_description(), remote.epoch());
  repl::Envelope e;
  *e.mutable_config_digest() = make_config_digest(speaker_.config());
  send(e);
  send_bfd_sessions();
  begin_snapshot();
}

void PrimaryReplicator::send_bfd_sessions() {
  if (!bfd_snapshot_ || !channel_) return;
  for (const auto& s : bfd_snapshot_()) {
    repl::Envelope e;
    *e.mutable_bfd_session() = s;
    send(e);
  }
}

void PrimaryReplicator::bfd_changed(const repl::BfdSession& s) {
  if (!replicating()) return;  // the next bulk sync sends it
  repl::Envelope e;
  *e.mutable_bfd_session() = s;
  send(e);
}

void PrimaryReplicator::on_message(repl::Envelope&& m) {
  switch (m.body_case()) {
    case repl::Envelope::kStreamAck: return on_ack(m.stream_ack());
    case repl::Envelope::kWindowUpdate: return on_window_update(m.window_update());
    case repl::Envelope::kSwitchoverReady: return on_switchover_ready();
    case repl::Envelope::kTakeoverNotice:
      return fence("the standby " + stats_.peer_node + " took the sessions over in term " +
                   std::to_string(m.takeover_notice().term()) + " (" + m.takeover_notice().reason() + ")");
    case repl::Envelope::kSwitchoverRefused:
      return finish_switchover(false, "the standby refused: " + m.switchover_refused().reason());
    case repl::Envelope::kError:
      spdlog::error("replication: the standby refused: {}", m.error().message());
      stats_.last_error = "standby: " + m.error().message();
      return;
    default:
      spdlog::warn("replication: unexpected message {} from the standby, ignored", static_cast<int>(m.body_case()));
  }
}

void PrimaryReplicator::on_closed(const std::string& why) {
  if (sw_.active) finish_switchover(false, "the replication channel closed: " + why);
  finish_confirm(true, "the channel to the standby closed (" + why + ") without a takeover notice");
  spdlog::warn("replication: channel to the standby down ({}); sessions carry on unreplicated", why);
  stats_.last_error = why;
  stats_.channel_state = listener_ ? "listening" : "down";
  channel_.reset();
  accepted_ = false;
  release_all();
}

void PrimaryReplicator::send(const repl::Envelope& m) {
  if (channel_) channel_->send(m);
}

// ---- bulk sync ----

void PrimaryReplicator::begin_snapshot() {
  ++snapshot_id_;
  snapshot_started_ = Clock::now();
  snapshot_queue_.clear();
  for (auto& [id, s] : sessions_) {
    s.sync = Sync::NotReplicated;
    s.chunker.reset();
    s.pending_in.clear();
    s.pending_out.clear();
    if (s.established) snapshot_queue_.push_back(id);
  }
  stats_.channel_state = "bulk-syncing";
  stats_.last_snapshot_routes = 0;
  repl::Envelope e;
  e.mutable_snapshot_begin()->set_snapshot_id(snapshot_id_);
  e.mutable_snapshot_begin()->set_sessions(static_cast<uint32_t>(snapshot_queue_.size()));
  send(e);
  api_cursor_.reset();
  api_bulk_pending_ = true;  // the API's routes go first, in the steps below
  spdlog::info("replication: bulk sync {} of {} sessions and {} API routes begins", snapshot_id_,
               snapshot_queue_.size(), speaker_.api_routes().size());
  snapshot_running_ = true;
  snapshot_step();
}

void PrimaryReplicator::snapshot_step() {
  if (!replicating() || !snapshot_running_) return;
  const auto t0 = Clock::now();
  while (api_bulk_pending_ || !snapshot_queue_.empty()) {
    if (channel_->queued_bytes() > kSnapshotQueueLimit) {
      waiting_drain_ = true;  // on_drained continues
      break;
    }
    if (Clock::now() - t0 >= kSnapshotStepBudget) {
      std::weak_ptr<bool> alive = alive_;
      boost::asio::post(speaker_.io(), [this, alive] {
        if (alive.lock()) snapshot_step();
      });
      break;
    }
    if (api_bulk_pending_) {
      bool done = false;
      repl::Envelope e;
      *e.mutable_api_routes() = api_routes_chunk(speaker_.api_routes(), api_cursor_, kRoutesPerChunk, done);
      send(e);
      api_bulk_pending_ = !done;
      continue;
    }
    auto it = sessions_.find(snapshot_queue_.front());
    auto conn = it == sessions_.end() ? nullptr : speaker_.find_connection(it->first);
    const session::Peer* peer = it == sessions_.end() ? nullptr : speaker_.find_peer(it->second.peer);
    if (!conn || !peer || conn->state() != fsm::State::Established) {
      snapshot_queue_.pop_front();  // closed meanwhile: its close went to the standby
      continue;
    }
    Session& s = it->second;
    if (!s.chunker) {
      // The session object, then the stream from the last message boundary on.
      const uint64_t in_off = conn->fsm().consumed_offset();
      auto pending = conn->fsm().pending_input();
      repl::Envelope e;
      *e.mutable_session() = make_session_object(*conn, s.peer, in_off, conn->outbound_offset());
      fill_outbound_unacked(*conn, *e.mutable_session());
      fill_gr_stale(peer->status(), *e.mutable_session());
      send(e);
      start_streaming(s, e.session(), std::vector<uint8_t>(pending.begin(), pending.end()));
      s.chunker = std::make_unique<RibChunker>(s.id, peer->id(), conn->fsm().negotiated()->families,
                                               conn->fsm().codec());
      continue;
    }
    if (auto chunk = s.chunker->next(speaker_.rib(), kRoutesPerChunk)) {
      stats_.last_snapshot_routes += chunk->routes();
      repl::Envelope e;
      *e.mutable_rib_chunk() = std::move(*chunk);
      send(e);
      continue;
    }
    repl::Envelope e;
    auto* d = e.mutable_session_snapshot_done();
    d->set_connection_id(s.id);
    d->set_inbound_end(s.in_read);
    d->set_outbound_end(s.out_queued);
    d->set_adj_in_routes(static_cast<uint32_t>(s.chunker->adj_in_routes()));
    d->set_adj_out_routes(static_cast<uint32_t>(s.chunker->adj_out_routes()));
    s.snapshot_in_end = s.in_read;
    spdlog::info("replication: session {} ({}) snapshot sent: {} Adj-RIB-In and {} Adj-RIB-Out routes",
                 s.peer.to_string(), s.id, s.chunker->adj_in_routes(), s.chunker->adj_out_routes());
    s.chunker.reset();
    send(e);
    snapshot_queue_.pop_front();
  }
  const auto step_us =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  stats_.max_stall_us = std::max(stats_.max_stall_us, step_us);
  if (step_us > 3000)
    spdlog::info("replication: bulk sync step took {} us (budget {} ms; {} sessions still queued)", step_us,
                 kSnapshotStepBudget.count(), snapshot_queue_.size());
  if (snapshot_queue_.empty() && !api_bulk_pending_ && snapshot_running_) {
    snapshot_running_ = false;
    repl::Envelope e;
    e.mutable_snapshot_end()->set_snapshot_id(snapshot_id_);
    send(e);
    ++stats_.snapshots;
    stats_.last_snapshot_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - snapshot_started_).count());
    stats_.channel_state = "in-sync";
    spdlog::info("replication: bulk sync {} sent in {} ms ({} routes, longest step {} us)", snapshot_id_,
                 stats_.last_snapshot_ms, stats_.last_snapshot_routes, stats_.max_stall_us);
  }
}

void PrimaryReplicator::start_streaming(Session& s, const repl::SessionObject& object,
                                        const std::vector<uint8_t>& inbound_tail) {
  s.sync = Sync::BulkSyncing;
  s.in_from = s.in_sent = s.in_acked = object.inbound_offset();
  s.out_sent = s.out_acked = object.outbound_offset();
  s.standby_read = object.inbound_offset();
  s.standby_queued = 0;
  s.snapshot_in_end = object.inbound_offset() + inbound_tail.size();
  s.unacked_reads.clear();
  if (object.tcp().seq_known())
    s.bases = session::SeqBases{object.tcp().send_seq_base(), object.tcp().recv_seq_base()};
  else
    spdlog::warn("replication: session {} ({}): no TCP sequence numbers ({}); checkpoints carry stream offsets only",
                 s.peer.to_string(), s.id, object.tcp().seq_error());
  if (object.tcp().mss() > 0) s.mss = object.tcp().mss();
  if (!inbound_tail.empty())
    queue_stream(s, session::Direction::Inbound, object.inbound_offset(), inbound_tail);
  apply_clamp(s);
  hold_acks(s);
}

// ---- the tap ----

void PrimaryReplicator::on_open(const wire::IpAddr& peer, uint64_t id, const session::Endpoints&) {
  Session& s = sessions_[id];
  s.id = id;
  s.peer = peer;
}

void PrimaryReplicator::on_established(uint64_t id) {
  auto it = sessions_.find(id);
  auto conn = speaker_.find_connection(id);
  if (it == sessions_.end() || !conn) return;
  Session& s = it->second;
  s.established = true;
  guard(id, true);
  std::vector<uint8_t> early = std::move(s.early_inbound);
  s.early_inbound = {};
  if (!replicating()) return;  // the next bulk sync covers it
  if (s.early_overflow) {
    spdlog::warn("replication: session {} ({}) sent more than {} bytes before Established; it is mirrored from "
                 "the next bulk sync", s.peer.to_string(), id, kEarlyInboundLimit);
    return;
  }
  // The stream starts just after the KEEPALIVE that made the session: the RIB has
  // nothing of this session yet, and the bytes after it are replayed on the standby.
  const uint64_t from = conn->fsm().established_offset();
  std::vector<uint8_t> tail;
  if (from < early.size()) tail.assign(early.begin() + static_cast<std::ptrdiff_t>(from), early.end());
  repl::Envelope e;
  *e.mutable_session_established()->mutable_session() =
      make_session_object(*conn, s.peer, from, conn->outbound_offset());
  fill_outbound_unacked(*conn, *e.mutable_session_established()->mutable_session());
  send(e);
  start_streaming(s, e.session_established().session(), tail);
  s.snapshot_in_end = from + tail.size();
  spdlog::info("replication: session {} ({}) Established: streamed to the standby from inbound offset {}",
               s.peer.to_string(), id, from);
}

void PrimaryReplicator::on_bytes(uint64_t id, session::Direction dir, uint64_t offset,
                                 std::span<const uint8_t> bytes) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  const uint64_t end = offset + bytes.size();
  if (dir == session::Direction::Inbound) {
    s.in_read = end;
    if (!s.established) {
      if (s.early_inbound.size() + bytes.size() > kEarlyInboundLimit) s.early_overflow = true;
      else s.early_inbound.insert(s.early_inbound.end(), bytes.begin(), bytes.end());
    }
  } else {
    s.out_queued = end;
  }
  if (s.sync == Sync::NotReplicated || !replicating()) return;
  if (dir == session::Direction::Inbound) s.unacked_reads.emplace_back(end, Clock::now());
  queue_stream(s, dir, offset, bytes);
  const uint64_t moved = dir == session::Direction::Inbound
                             ? end - s.last_checkpoint.inbound_offset()
                             : end - s.last_checkpoint.outbound_acked();
  if (moved > ha_.checkpoint_threshold_bytes) checkpoint(s, true);
}

void PrimaryReplicator::before_close(uint64_t id) {
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second.acks_held = false;  // unprotect releases
  guard(id, false);
}

void PrimaryReplicator::hold_acks(Session& s) {
  if (!ack_hold_ || !ha_.hold_acks || !s.bases || !s.established || s.sync == Sync::NotReplicated) return;
  auto conn = speaker_.find_connection(s.id);
  auto ep = conn ? conn->endpoints() : std::nullopt;
  if (!ep) return;
  if (!s.acks_held) {
    const session::Peer* peer = speaker_.find_peer(s.peer);
    if (!peer) return;
    std::string why;
    auto info = conn->tcp_info(why);
    if (!info) {
      spdlog::warn("replication: session {} ({}): no ACK hold ({})", s.peer.to_string(), s.id, why);
      return;
    }
    s.rcv_wscale = info->rcv_wscale;
    s.md5_key = peer->config().password;
    s.acks_held = true;
    spdlog::info("replication: session {} ({}): its bytes are acknowledged to the peer once the standby holds them "
                 "(ACK hold from inbound offset {}{})", s.peer.to_string(), s.id, s.in_acked,
                 s.md5_key.empty() ? "" : "; TCP-MD5: bare ACKs only, a segment with data carries the kernel's");
  }
  ack_hold_(*ep, session::seq_at(s.bases->recv_seq_base, s.in_acked), s.rcv_wscale, s.md5_key);
}

void PrimaryReplicator::release_acks(Session& s) {
  if (!s.acks_held) return;
  s.acks_held = false;
  auto conn = speaker_.find_connection(s.id);
  if (auto ep = conn ? conn->endpoints() : std::nullopt) ack_hold_(*ep, std::nullopt, s.rcv_wscale, s.md5_key);
}

void PrimaryReplicator::guard(uint64_t id, bool protect) {
  if (!guard_) return;
  auto it = sessions_.find(id);
  auto conn = speaker_.find_connection(id);
  if (it == sessions_.end() || !it->second.established || !conn) return;
  if (auto ep = conn->endpoints()) guard_(*ep, protect);
}

void PrimaryReplicator::on_close(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (it->second.sync != Sync::NotReplicated && replicating()) {
    flush();  // every byte before the close
    repl::Envelope e;
    e.mutable_session_closed()->set_connection_id(id);
    e.mutable_session_closed()->set_reason("connection closed on the primary");
    send(e);
  }
  sessions_.erase(it);
}

uint64_t PrimaryReplicator::outbound_limit(uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.sync == Sync::NotReplicated || !replicating()) return UINT64_MAX;
  return it->second.out_acked;
}

uint64_t PrimaryReplicator::inbound_limit(uint64_t id) {
  auto it = sessions_.find(id);
  // Switching over: nothing more is read; what arrives waits in the kernel and travels
  // in the frozen receive queue.
  if (sw_.active && it != sessions_.end()) return it->second.in_read;
  if (it == sessions_.end() || it->second.sync == Sync::NotReplicated || !replicating()) return UINT64_MAX;
  const Session& s = it->second;
  // Unheld inbound = read but not acknowledged by the standby + waiting in the kernel
  // (at most the clamp): read only as far as keeps the sum within the bound.
  const uint64_t bound = ha_.max_unreplicated_bytes;
  const uint64_t clamp = std::min<uint64_t>(s.clamp ? s.clamp : bound / 2, bound / 2);
  const uint64_t by_bound = s.in_acked + (bound - clamp);
  // And never more than the standby's transmission buffer can take.
  const uint64_t buffer = s.standby_buffer ? s.standby_buffer : ha_.standby_buffer_bytes;
  const uint64_t by_window = s.standby_read + buffer;
  return std::min(by_bound, by_window);
}

// ---- stream ----

void PrimaryReplicator::queue_stream(Session& s, session::Direction dir, uint64_t offset,
                                     std::span<const uint8_t> bytes) {
  std::string& buf = dir == session::Direction::Inbound ? s.pending_in : s.pending_out;
  uint64_t& at = dir == session::Direction::Inbound ? s.pending_in_at : s.pending_out_at;
  if (buf.empty()) at = offset;
  buf.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  schedule_flush();
}

// Coalesce everything tapped during one turn of the event loop into one frame per
// direction and session.
void PrimaryReplicator::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(speaker_.io(), [this, alive] {
    if (!alive.lock()) return;
    flush_posted_ = false;
    flush();
  });
}

void PrimaryReplicator::flush() {
  if (!replicating()) return;
  for (auto& [id, s] : sessions_) {
    for (auto dir : {session::Direction::Inbound, session::Direction::Outbound}) {
      const bool in = dir == session::Direction::Inbound;
      std::string& buf = in ? s.pending_in : s.pending_out;
      if (buf.empty()) continue;
      repl::Envelope e;
      auto* d = e.mutable_stream_data();
      d->set_connection_id(id);
      d->set_direction(in ? repl::DIRECTION_INBOUND : repl::DIRECTION_OUTBOUND);
      d->set_offset(in ? s.pending_in_at : s.pending_out_at);
      (in ? s.in_sent : s.out_sent) = d->offset() + buf.size();
      d->set_data(std::move(buf));
      buf.clear();
      send(e);
    }
  }
}

void PrimaryReplicator::on_ack(const repl::StreamAck& a) {
  auto it = sessions_.find(a.connection_id());
  if (it == sessions_.end()) return;
  Session& s = it->second;
  const uint64_t in_acked = s.in_acked;
  s.in_acked = std::max(s.in_acked, std::min(a.inbound_offset(), s.in_sent));
  s.out_acked = std::max(s.out_acked, std::min(a.outbound_offset(), s.out_sent));
  while (!s.unacked_reads.empty() && s.unacked_reads.front().first <= s.in_acked) s.unacked_reads.pop_front();
  if (s.in_acked != in_acked) hold_acks(s);
  speaker_.gate_moved(s.id);
}

void PrimaryReplicator::on_window_update(const repl::WindowUpdate& w) {
  auto it = sessions_.find(w.connection_id());
  if (it == sessions_.end()) return;
  Session& s = it->second;
  s.standby_read = std::max(s.standby_read, w.read_offset());
  s.standby_queued = w.queued_bytes();
  s.standby_buffer = w.buffer_bytes();
  ++s.window_updates;
  if (s.sync == Sync::BulkSyncing && s.standby_read >= s.snapshot_in_end) {
    s.sync = Sync::InSync;
    spdlog::info("replication: session {} ({}) in sync: the standby has consumed the stream up to offset {}",
                 s.peer.to_string(), s.id, s.standby_read);
  }
  apply_clamp(s);
  speaker_.gate_moved(s.id);
}

// The estimated standby window: its buffer less what is in it or on the way to it.
// The peer may not have more acknowledged-but-unheld data than that, nor more than half
// the configured bound (the other half is the read pacing's).
void PrimaryReplicator::apply_clamp(Session& s) {
  auto conn = speaker_.find_connection(s.id);
  if (!conn) return;
  const uint64_t buffer = s.standby_buffer ? s.standby_buffer : ha_.standby_buffer_bytes;
  const uint64_t in_flight = s.in_sent > s.standby_read ? s.in_sent - s.standby_read : 0;
  const uint64_t window = buffer > in_flight ? buffer - in_flight : 0;
  uint64_t target = std::min<uint64_t>(window, ha_.max_unreplicated_bytes / 2);
  target = std::max<uint64_t>(target / s.mss * s.mss, 2ull * s.mss);
  s.estimated_window = static_cast<uint32_t>(window);
  if (s.clamp != 0 && (target > s.clamp ? target - s.clamp : s.clamp - target) < s.mss) return;
  std::string why;
  if (s.original_clamp == 0) {
    if (auto info = conn->tcp_info(why)) s.original_clamp = info->window_clamp;
    if (auto rcvbuf = conn->receive_buffer(why)) s.original_rcvbuf = *rcvbuf;
  }
  // The clamp bounds what the peer has in flight; the receive buffer what waits unread
  // in the kernel, acknowledged: both are needed for the bound (the kernel doubles
  // SO_RCVBUF for its overhead, hence half).
  if (!conn->set_window_clamp(static_cast<uint32_t>(target), why) ||
      !conn->set_receive_buffer(static_cast<uint32_t>(target / 2), why)) {
    spdlog::warn("replication: session {} ({}): cannot clamp the window: {}", s.peer.to_string(), s.id, why);
    return;
  }
  spdlog::debug("replication: session {} ({}): window clamp {} (standby window {})", s.peer.to_string(), s.id,
                target, window);
  s.clamp = static_cast<uint32_t>(target);
}

void PrimaryReplicator::release_all() {
  for (auto& [id, s] : sessions_) {
    release_acks(s);
    s.sync = Sync::NotReplicated;
    s.chunker.reset();
    s.pending_in.clear();
    s.pending_out.clear();
    s.unacked_reads.clear();
    if (s.clamp != 0) {
      if (auto conn = speaker_.find_connection(id)) {
        std::string why;
        conn->set_window_clamp(s.original_clamp ? s.original_clamp : 64u << 20, why);
        conn->set_receive_buffer(s.original_rcvbuf ? s.original_rcvbuf : 4u << 20, why);
      }
      s.clamp = 0;
    }
    speaker_.gate_moved(id);
  }
  snapshot_queue_.clear();
  snapshot_running_ = false;
  waiting_drain_ = false;
}

// ---- checkpoints ----

void PrimaryReplicator::arm_checkpoint_timer() {
  if (!checkpoint_timer_) checkpoint_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  checkpoint_timer_->expires_after(std::chrono::milliseconds(ha_.checkpoint_interval_ms));
  std::weak_ptr<bool> alive = alive_;
  checkpoint_timer_->async_wait([this, alive](const boost::system::error_code& e) {
    if (e || !alive.lock()) return;
    if (replicating())
      for (auto& [id, s] : sessions_)
        if (s.sync != Sync::NotReplicated) checkpoint(s, false);
    arm_checkpoint_timer();
  });
}

void PrimaryReplicator::checkpoint(Session& s, bool force) {
  auto conn = speaker_.find_connection(s.id);
  if (!conn) return;
  std::string why;
  auto q = conn->tcp_queues(why);
  if (!q) return;
  const uint64_t written = conn->outbound_written();
  const uint64_t read = conn->inbound_offset();
  repl::Checkpoint c;
  c.set_connection_id(s.id);
  c.set_inbound_offset(read + q->unread);
  c.set_outbound_acked(written - q->unacked_and_unsent);
  if (s.bases) {
    c.set_snd_una(session::seq_at(s.bases->send_seq_base, written - q->unacked_and_unsent));
    c.set_snd_nxt(session::seq_at(s.bases->send_seq_base, written - q->unsent));
    c.set_rcv_nxt(session::seq_at(s.bases->recv_seq_base, read + q->unread));
  }
  if (auto info = conn->tcp_info(why)) c.set_peer_window(info->peer_window);
  if (auto ts = conn->tcp_tsval(why)) c.set_tsval(*ts);
  c.set_time_us(realtime_us());
  const auto& l = s.last_checkpoint;
  const bool moved = !s.has_checkpoint || c.snd_una() != l.snd_una() || c.snd_nxt() != l.snd_nxt() ||
                     c.rcv_nxt() != l.rcv_nxt() || c.inbound_offset() != l.inbound_offset() ||
                     c.outbound_acked() != l.outbound_acked() || c.peer_window() != l.peer_window();
  if (!moved && !force) return;
  s.last_checkpoint = c;
  s.has_checkpoint = true;
  ++s.checkpoints;
  repl::Envelope e;
  *e.mutable_checkpoint() = std::move(c);
  send(e);
}

// ---- status ----

SessionReplStatus PrimaryReplicator::session_status(const Session& s) const {
  SessionReplStatus r;
  r.connection_id = s.id;
  r.peer = s.peer.to_string();
  r.sync_state = sync_name(replicating(), static_cast<int>(s.sync));
  r.inbound_read = s.in_read;
  r.inbound_sent = s.in_sent;
  r.inbound_acked = s.in_acked;
  r.inbound_consumed = s.standby_read;
  r.outbound_queued = s.out_queued;
  r.outbound_sent = s.out_sent;
  r.outbound_acked = s.out_acked;
  if (auto conn = speaker_.find_connection(s.id)) r.outbound_written = conn->outbound_written();
  if (s.sync != Sync::NotReplicated) {
    r.lag_bytes = s.in_read > s.in_acked ? s.in_read - s.in_acked : 0;
    if (!s.unacked_reads.empty())
      r.lag_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.unacked_reads.front().second)
              .count());
    const uint64_t threshold = uint64_t{ha_.window_update_mss} * s.mss;
    if (s.sync == Sync::InSync &&
        (r.lag_us > uint64_t{ha_.window_update_timer_ms} * 1000 || s.in_sent - s.standby_read > threshold + s.standby_queued))
      r.sync_state = "lagging";
  }
  r.standby_queued = s.standby_queued;
  r.estimated_window = s.estimated_window;
  r.window_clamp = s.clamp;
  r.window_updates = s.window_updates;
  fill_checkpoint(r, s.last_checkpoint, s.has_checkpoint, s.checkpoints);
  return r;
}

ReplStatus PrimaryReplicator::status() const {
  ReplStatus r = stats_;
  fill_channel(r, channel_);
  for (const auto& [id, s] : sessions_)
    if (s.established) r.sessions.push_back(session_status(s));
  return r;
}

}  // namespace tandem::replicator
