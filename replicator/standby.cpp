#include "replicator/standby.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "bgpd/mrt/framer.hpp"
#include "replicator/config_digest.hpp"
#include "replicator/status_fill.hpp"

namespace tandem::replicator {
namespace {

using Clock = std::chrono::steady_clock;
// The shadow reads at most this much per session per turn of the event loop, so one
// busy session does not starve the others or the channel.
constexpr size_t kConsumeChunk = 64 * 1024;
constexpr auto kCompareInterval = std::chrono::milliseconds(500);
constexpr size_t kDiffExamples = 5;

std::optional<wire::Open> open_from(const std::string& msg) {
  if (msg.size() < 19) return std::nullopt;
  auto r = wire::decode_open(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg.data()) + 19,
                                                      msg.size() - 19));
  if (!r) return std::nullopt;
  return std::move(r.value());
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

StandbyReplicator::StandbyReplicator(session::Speaker& speaker, const config::HaConfig& ha,
                                     ChannelIdentity identity, EpochStore& epoch)
    : speaker_(speaker), ha_(ha), identity_(std::move(identity)), epoch_(epoch) {
  stats_.role = "standby";
  stats_.node_id = identity_.node_id;
  stats_.epoch = epoch_.value();
  stats_.channel_state = "down";
  if (ha_.peer) stats_.peer_address = ha_.peer->first.to_string() + ":" + std::to_string(ha_.peer->second);
}

StandbyReplicator::~StandbyReplicator() {
  *alive_ = false;
  stop();
}

void StandbyReplicator::start() {
  stopped_ = false;
  arm_compare_timer();
  dial();
}

void StandbyReplicator::stop() {
  stopped_ = true;
  for (auto* t : {&redial_timer_, &window_timer_, &compare_timer_, &prepare_.timer, &lost_timer_})
    if (*t) (*t)->cancel();
  if (channel_) channel_->close("shutting down");
  channel_.reset();
}

// ---- channel ----

void StandbyReplicator::dial() {
  if (stopped_ || !ha_.peer) return;
  identity_.epoch = epoch_.value();
  ChannelOptions opts;
  opts.dead_after = std::chrono::milliseconds(ha_.channel_dead_ms);
  if (ha_.heartbeat) opts.keepalive_every = std::chrono::milliseconds(ha_.heartbeat_interval_ms);
  boost::asio::ip::tcp::endpoint ep(session::to_asio(ha_.peer->first), ha_.peer->second);
  stats_.channel_state = "connecting";
  config_ok_ = false;
  channel_ = Channel::connect(speaker_.io(), ep, identity_, handlers(), opts);
}

void StandbyReplicator::schedule_redial() {
  if (stopped_) return;
  if (!redial_timer_) redial_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  redial_timer_->expires_after(std::chrono::milliseconds(ha_.connect_retry_ms));
  std::weak_ptr<bool> alive = alive_;
  redial_timer_->async_wait([this, alive](const boost::system::error_code& e) {
    if (!e && alive.lock()) dial();
  });
}

Channel::Handlers StandbyReplicator::handlers() {
  std::weak_ptr<bool> alive = alive_;
  Channel::Handlers h;
  h.on_ready = [this, alive](const repl::Hello& remote) {
    if (alive.lock()) on_ready(remote);
  };
  h.on_message = [this, alive](repl::Envelope&& m) {
    if (alive.lock()) on_message(std::move(m));
  };
  h.on_closed = [this, alive](const std::string& why) {
    if (alive.lock()) on_closed(why);
  };
  return h;
}

void StandbyReplicator::on_ready(const repl::Hello& remote) {
  stats_.peer_node = remote.node_id();
  stats_.channel_state = "handshake";
  if (remote.epoch() < epoch_.value()) {
    refuse(repl::Error::CODE_STALE_EPOCH,
           "the primary " + remote.node_id() + " is at term " + std::to_string(remote.epoch()) +
               ", older than the term this node knows (" + std::to_string(epoch_.value()) +
               "): a stale primary is never mirrored");
    return;
  }
  if (remote.epoch() != epoch_.value()) {
    std::string why;
    if (!epoch_.store(remote.epoch(), why)) spdlog::error("replication: cannot keep the term: {}", why);
  }
  stats_.epoch = epoch_.value();
  ++stats_.channel_ups;
  spdlog::info("replication: connected to the primary {} ({}), term {}", remote.node_id(),
               channel_->remote_description(), remote.epoch());
}

void StandbyReplicator::refuse(repl::Error::Code code, const std::string& why) {
  spdlog::error("replication: {}", why);
  stats_.last_error = why;
  stats_.channel_state = "refused";
  if (!channel_) return;
  repl::Envelope e;
  e.mutable_error()->set_code(code);
  e.mutable_error()->set_message(why);
  channel_->send(e);
  auto ch = channel_;
  channel_.reset();
  ch->close(why);
  schedule_redial();
}

void StandbyReplicator::on_closed(const std::string& why) {
  if (!channel_) return;  // refused: already handled
  const bool vanished = channel_->peer_vanished() && !primary_refused_;
  // The primary's last frame (its Closing, say) still proves it alive until then.
  note_primary_alive(channel_->last_rx());
  channel_.reset();
  if (vanished) {
    // FIN or RST from the primary's kernel without a Closing frame: its process is gone.
    spdlog::warn("replication: the primary's process ended ({})", why);
    stats_.last_error = why;
    stats_.channel_state = "down";
    take_over_unplanned("the primary's process ended (" + why + ")");
    if (took_over_) return;
  }
  spdlog::warn("replication: channel to the primary down ({}); shadows kept as they are, re-dialling", why);
  stats_.last_error = why;
  stats_.channel_state = "down";
  schedule_redial();
}

void StandbyReplicator::send(const repl::Envelope& m) {
  if (channel_) channel_->send(m);
}

std::vector<repl::BfdSession> StandbyReplicator::bfd_sessions() const {
  std::vector<repl::BfdSession> out;
  for (const auto& [peer, s] : bfd_sessions_) out.push_back(s);
  return out;
}

void StandbyReplicator::on_message(repl::Envelope&& m) {
  if (!config_ok_ && m.body_case() != repl::Envelope::kConfigDigest && m.body_case() != repl::Envelope::kError) {
    refuse(repl::Error::CODE_PROTOCOL, "the primary sent state before its configuration digest");
    return;
  }
  switch (m.body_case()) {
    case repl::Envelope::kConfigDigest: return on_config_digest(m.config_digest());
    case repl::Envelope::kSnapshotBegin: return on_snapshot_begin(m.snapshot_begin());
    case repl::Envelope::kSession: return on_session(m.session(), true);
    case repl::Envelope::kSessionEstablished: return on_session(m.session_established().session(), false);
    case repl::Envelope::kRibChunk: return on_rib_chunk(m.rib_chunk());
    case repl::Envelope::kSessionSnapshotDone: return on_session_snapshot_done(m.session_snapshot_done());
    case repl::Envelope::kSnapshotEnd:
      ++stats_.snapshots;
      stats_.last_snapshot_ms = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - snapshot_started_).count());
      stats_.channel_state = "in-sync";
      spdlog::info("replication: bulk sync {} received in {} ms ({} routes)", m.snapshot_end().snapshot_id(),
                   stats_.last_snapshot_ms, stats_.last_snapshot_routes);
      return;
    case repl::Envelope::kStreamData: return on_stream(std::move(*m.mutable_stream_data()));
    case repl::Envelope::kSessionClosed: return on_session_closed(m.session_closed());
    case repl::Envelope::kCheckpoint: return on_checkpoint(m.checkpoint());
    case repl::Envelope::kSwitchoverPrepare: return on_switchover_prepare(m.switchover_prepare());
    case repl::Envelope::kSwitchoverCommit: return on_switchover_commit(m.switchover_commit());
    case repl::Envelope::kBfdSession: {
      const auto& b = m.bfd_session();
      spdlog::debug("replication: the primary's BFD session with {}: {} (discriminators {} / {})", b.peer(),
                    b.up() ? "Up" : "not Up", b.local_discriminator(), b.remote_discriminator());
      bfd_sessions_[b.peer()] = b;
      return;
    }
    case repl::Envelope::kApiRoutes: {
      std::string why;
      if (!api_routes_.apply(m.api_routes(), why)) spdlog::error("replication: the primary's API routes: {}", why);
      return;
    }
    case repl::Envelope::kError:
      primary_refused_ = true;
      spdlog::error("replication: the primary refused: {}", m.error().message());
      stats_.last_error = "primary: " + m.error().message();
      return;
    default:
      spdlog::warn("replication: unexpected message {} from the primary, ignored", static_cast<int>(m.body_case()));
  }
}

void StandbyReplicator::on_config_digest(const repl::ConfigDigest& d) {
  if (auto diff = compare_config(d, make_config_digest(speaker_.config()))) {
    refuse(repl::Error::CODE_CONFIG_MISMATCH, "configuration differs from the primary's: " + *diff);
    return;
  }
  config_ok_ = true;
  spdlog::info("replication: configuration matches the primary's ({} peers)", d.peers_size());
}

// ---- bulk sync ----

void StandbyReplicator::drop_all_shadows(const std::string& why) {
  if (!shadows_.empty()) spdlog::info("replication: dropping {} shadow sessions: {}", shadows_.size(), why);
  for (auto& [id, s] : shadows_)
    if (auto* p = speaker_.find_peer(s.peer)) p->reset_shadow(why);
  shadows_.clear();
  ack_due_.clear();
}

void StandbyReplicator::on_snapshot_begin(const repl::SnapshotBegin& b) {
  // The mirror is rebuilt from this snapshot: whatever the shadows held may have missed
  // bytes while the channel was down.
  drop_all_shadows("a new bulk sync begins");
  snapshot_started_ = Clock::now();
  stats_.channel_state = "bulk-syncing";
  stats_.last_snapshot_routes = 0;
  spdlog::info("replication: bulk sync {} of {} sessions begins", b.snapshot_id(), b.sessions());
}

void StandbyReplicator::on_session(const repl::SessionObject& o, bool from_snapshot) {
  auto addr = wire::IpAddr::parse(o.peer());
  session::Peer* peer = addr ? speaker_.find_peer(*addr) : nullptr;
  auto local = open_from(o.local_open());
  auto remote = open_from(o.peer_open());
  if (!peer || !local || !remote) {
    refuse(repl::Error::CODE_PROTOCOL, "session object " + std::to_string(o.connection_id()) + " for " + o.peer() +
                                           (!peer ? ": no such peer here" : ": its OPENs do not decode"));
    return;
  }
  // The primary's earlier connection to this peer ended before this one began.
  for (auto it = shadows_.begin(); it != shadows_.end();) {
    if (it->second.peer == *addr && it->second.conn && it->second.conn->outgoing() == o.outgoing()) {
      while (it->second.buffered) consume();  // bytes before the close first
      it = shadows_.erase(it);
    } else {
      ++it;
    }
  }
  Shadow& s = shadows_[o.connection_id()];
  s.id = o.connection_id();
  s.peer = *addr;
  s.object = o;
  s.in_next = s.consumed = o.inbound_offset();
  s.out_next = o.outbound_offset();
  // What the peer had not acknowledged when the object was taken precedes the stream:
  // kept like the stream's bytes, until a checkpoint says the peer has them. The start
  // is set even when there are none: a takeover must know the bytes before it are not here.
  s.object.clear_outbound_unacked();
  s.out_retained.clear();
  size_t unacked = o.outbound_unacked().size();
  if (unacked > o.outbound_offset()) {
    spdlog::error("replication: session {} ({}): {} unacknowledged outbound bytes before offset {}: ignored",
                  o.peer(), s.id, unacked, o.outbound_offset());
    unacked = 0;
  } else if (unacked > 0) {
    s.out_retained.push_back(o.outbound_unacked());
  }
  s.out_retained_start = o.outbound_offset() - unacked;
  session::Endpoints ep;
  if (auto a = wire::IpAddr::parse(o.endpoints().local_address())) ep.local = *a;
  if (auto a = wire::IpAddr::parse(o.endpoints().remote_address())) ep.remote = *a;
  ep.local_port = static_cast<uint16_t>(o.endpoints().local_port());
  ep.remote_port = static_cast<uint16_t>(o.endpoints().remote_port());
  const uint64_t id = s.id;
  std::weak_ptr<bool> alive = alive_;
  auto sink = [this, alive, id](std::span<const uint8_t> bytes) {
    if (!alive.lock()) return;
    auto it = shadows_.find(id);
    if (it == shadows_.end()) return;
    std::string why;
    if (!it->second.would_send.feed(bytes, why))
      spdlog::warn("replication: session {} ({}): the shadow's own output does not parse: {}",
                   it->second.peer.to_string(), id, why);
  };
  std::string why;
  s.conn = peer->attach_shadow(o.outgoing(), ep, *local, *remote, o.inbound_offset(), sink, why);
  if (!s.conn) {
    spdlog::error("replication: session {} ({}): cannot mirror it: {}", o.peer(), id, why);
    s.broken = true;
    return;
  }
  s.sent_by_primary.set_codec(s.conn->fsm().codec());
  s.would_send.set_codec(s.conn->fsm().codec());
  if (o.gr_stale_families_size() > 0) {
    std::vector<wire::Family> families;
    for (const auto& af : o.gr_stale_families())
      families.push_back(wire::Family{static_cast<wire::Afi>(af.afi()), static_cast<wire::Safi>(af.safi())});
    peer->gr_mirror_waiting_eor(families, o.gr_stale_seconds_left());
  }
  if (!from_snapshot) {
    s.snapshot_done = true;
    s.snapshot_in_end = o.inbound_offset();
    send_window_update(s);
  }
  spdlog::info("replication: session {} ({}) mirrored from inbound offset {}, outbound offset {} ({} bytes before "
               "it not yet acknowledged by the peer){}",
               o.peer(), id, o.inbound_offset(), o.outbound_offset(), o.outbound_unacked().size(),
               o.tcp().seq_known() ? "" : " (no TCP sequence numbers: " + o.tcp().seq_error() + ")");
}

void StandbyReplicator::on_rib_chunk(const repl::RibChunk& c) {
  auto it = shadows_.find(c.connection_id());
  if (it == shadows_.end() || !it->second.conn) return;  // closed meanwhile
  Shadow& s = it->second;
  auto* peer = speaker_.find_peer(s.peer);
  if (!peer) return;
  stats_.last_snapshot_routes += c.routes();
  mrt::MessageFramer framer(65535);
  bool ok = framer.feed(as_bytes(c.updates()), [&](std::span<const uint8_t> msg) {
    auto body = msg.subspan(19);
    if (c.table() == repl::TABLE_ADJ_RIB_OUT) {
      std::string why;
      if (!s.sent_by_primary.apply_update(body, why))
        spdlog::error("replication: session {} ({}): Adj-RIB-Out chunk: {}", s.peer.to_string(), s.id, why);
      return;
    }
    if (auto err = peer->on_update(*s.conn, body)) {
      spdlog::error("replication: session {} ({}): Adj-RIB-In chunk refused: {}", s.peer.to_string(), s.id,
                    err->reason);
      s.broken = true;
    }
  });
  if (!ok || framer.buffered() != 0) {
    spdlog::error("replication: session {} ({}): a RIB chunk is not whole UPDATE messages", s.peer.to_string(),
                  s.id);
    s.broken = true;
  }
  if (!c.stale_nlri().empty()) {
    std::vector<wire::Prefix> stale;
    const auto afi = static_cast<wire::Afi>(c.afi());
    if (!wire::decode_prefixes(as_bytes(c.stale_nlri()), afi, false, stale)) {
      spdlog::error("replication: session {} ({}): a RIB chunk's stale prefixes do not decode", s.peer.to_string(),
                    s.id);
      s.broken = true;
      return;
    }
    speaker_.rib().mark_stale(peer->id(), stale);
  }
}

void StandbyReplicator::on_session_snapshot_done(const repl::SessionSnapshotDone& d) {
  auto it = shadows_.find(d.connection_id());
  if (it == shadows_.end()) return;
  it->second.snapshot_done = true;
  it->second.snapshot_in_end = d.inbound_end();
  // Tell the primary at once how far the shadow has read: a quiet session would
  // otherwise stay "bulk-syncing" there until its next KEEPALIVE.
  if (it->second.buffer.empty()) send_window_update(it->second);
  spdlog::info("replication: session {} ({}) snapshot loaded: {} Adj-RIB-In, {} Adj-RIB-Out routes; in sync once "
               "the stream is read up to offset {}", it->second.peer.to_string(), it->first, d.adj_in_routes(),
               d.adj_out_routes(), d.inbound_end());
}

// ---- stream ----

void StandbyReplicator::on_stream(repl::StreamData&& d) {
  auto it = shadows_.find(d.connection_id());
  if (it == shadows_.end()) return;  // a session that could not be mirrored
  Shadow& s = it->second;
  const bool in = d.direction() == repl::DIRECTION_INBOUND;
  uint64_t& next = in ? s.in_next : s.out_next;
  if (d.offset() != next) {
    // A gap would make the mirror silently wrong: say so, and never claim sync.
    spdlog::error("replication: session {} ({}): {} stream jumps from offset {} to {}; the mirror is broken",
                  s.peer.to_string(), s.id, in ? "inbound" : "outbound", next, d.offset());
    s.broken = true;
    return;
  }
  next += d.data().size();
  ack_due_[s.id] = true;
  schedule_acks();
  if (in) {
    s.buffered += d.data().size();
    s.buffer.push_back(std::move(*d.mutable_data()));
    schedule_consume();
  } else {
    std::string why;
    if (!s.sent_by_primary.feed(as_bytes(d.data()), why))
      spdlog::warn("replication: session {} ({}): the primary's outbound stream does not parse: {}",
                   s.peer.to_string(), s.id, why);
    if (s.out_retained.empty()) s.out_retained_start = d.offset();
    s.out_retained.push_back(std::move(*d.mutable_data()));
  }
}

void StandbyReplicator::schedule_acks() {
  if (acks_posted_) return;
  acks_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(speaker_.io(), [this, alive] {
    if (!alive.lock()) return;
    acks_posted_ = false;
    for (auto& [id, due] : ack_due_) {
      auto it = shadows_.find(id);
      if (it == shadows_.end()) continue;
      repl::Envelope e;
      auto* a = e.mutable_stream_ack();
      a->set_connection_id(id);
      a->set_inbound_offset(it->second.in_next);
      a->set_outbound_offset(it->second.out_next);
      send(e);
    }
    ack_due_.clear();
  });
}

void StandbyReplicator::schedule_consume() {
  if (consume_posted_) return;
  consume_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(speaker_.io(), [this, alive] {
    if (!alive.lock()) return;
    consume_posted_ = false;
    consume();
  });
}

// The shadow sessions read their transmission buffers, a bounded amount each per turn.
void StandbyReplicator::consume() {
  bool more = false;
  std::vector<uint64_t> closing;
  for (auto& [id, s] : shadows_) {
    size_t budget = kConsumeChunk;
    while (budget > 0 && !s.buffer.empty()) {
      const std::string& front = s.buffer.front();
      const size_t n = std::min(budget, front.size() - s.buffer_front_used);
      auto bytes = as_bytes(front).subspan(s.buffer_front_used, n);
      s.buffer_front_used += n;
      s.buffered -= n;
      s.consumed += n;
      s.read_since_update += n;
      budget -= n;
      if (s.conn && !s.broken) s.conn->shadow_receive(bytes);
      if (s.buffer_front_used == front.size()) {
        s.buffer.pop_front();
        s.buffer_front_used = 0;
      }
    }
    if (s.read_since_update >= uint64_t{ha_.window_update_mss} * mss(s)) send_window_update(s);
    else if (s.read_since_update > 0) arm_window_timer();
    if (!s.buffer.empty()) more = true;
    else if (s.closed_by_primary) closing.push_back(id);
  }
  for (uint64_t id : closing) {
    auto it = shadows_.find(id);
    if (it != shadows_.end()) finish_close(it->second);
  }
  if (more) schedule_consume();
}

void StandbyReplicator::send_window_update(Shadow& s) {
  s.read_since_update = 0;
  ++s.window_updates;
  repl::Envelope e;
  auto* w = e.mutable_window_update();
  w->set_connection_id(s.id);
  w->set_read_offset(s.consumed);
  w->set_last_seq_read(s.object.tcp().recv_seq_base() + static_cast<uint32_t>(s.consumed));
  w->set_queued_bytes(static_cast<uint32_t>(s.buffered));
  w->set_buffer_bytes(ha_.standby_buffer_bytes);
  send(e);
}

// Below the threshold, a window update still goes out within the window-update timer.
void StandbyReplicator::arm_window_timer() {
  if (window_timer_armed_) return;
  if (!window_timer_) window_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  window_timer_armed_ = true;
  window_timer_->expires_after(std::chrono::milliseconds(ha_.window_update_timer_ms));
  std::weak_ptr<bool> alive = alive_;
  window_timer_->async_wait([this, alive](const boost::system::error_code& e) {
    if (e || !alive.lock()) return;
    window_timer_armed_ = false;
    for (auto& [id, s] : shadows_)
      if (s.read_since_update > 0) send_window_update(s);
  });
}

void StandbyReplicator::on_session_closed(const repl::SessionClosed& c) {
  auto it = shadows_.find(c.connection_id());
  if (it == shadows_.end()) return;
  it->second.closed_by_primary = true;
  if (it->second.buffer.empty()) finish_close(it->second);
}

// Every byte before the close has been read: the shadow's transport goes away too, and
// its Peer does what the primary's did (session down, graceful restart helper or not).
void StandbyReplicator::finish_close(Shadow& s) {
  spdlog::info("replication: session {} ({}) closed on the primary; its shadow ends", s.peer.to_string(), s.id);
  if (s.conn) s.conn->shadow_closed();
  shadows_.erase(s.id);
}

void StandbyReplicator::on_checkpoint(const repl::Checkpoint& c) {
  auto it = shadows_.find(c.connection_id());
  if (it == shadows_.end()) return;
  it->second.checkpoint = c;
  it->second.has_checkpoint = true;
  ++it->second.checkpoints;
  trim_retained(it->second, c.outbound_acked());
}

// The peer acknowledged everything before `acked`: no takeover will resend it.
void StandbyReplicator::trim_retained(Shadow& s, uint64_t acked) {
  while (!s.out_retained.empty() && s.out_retained_start + s.out_retained.front().size() <= acked) {
    s.out_retained_start += s.out_retained.front().size();
    s.out_retained.pop_front();
  }
}

// ---- comparison ----

void StandbyReplicator::arm_compare_timer() {
  if (!compare_timer_) compare_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  compare_timer_->expires_after(kCompareInterval);
  std::weak_ptr<bool> alive = alive_;
  compare_timer_->async_wait([this, alive](const boost::system::error_code& e) {
    if (e || !alive.lock()) return;
    for (auto& [id, s] : shadows_) compare(s);
    arm_compare_timer();
  });
}

// The two views settle at different moments (the shadow reads later, and the primary's
// packing differs in time), so they are compared only once both have been still for a
// whole interval, and again only after either changed.
void StandbyReplicator::compare(Shadow& s) {
  const uint64_t v[2] = {s.sent_by_primary.version(), s.would_send.version()};
  const bool quiet = v[0] == s.quiet_versions[0] && v[1] == s.quiet_versions[1] && s.buffer.empty();
  s.quiet_versions[0] = v[0];
  s.quiet_versions[1] = v[1];
  if (!quiet || !s.snapshot_done || (v[0] == s.compared_versions[0] && v[1] == s.compared_versions[1])) return;
  s.compared_versions[0] = v[0];
  s.compared_versions[1] = v[1];
  std::vector<std::string> examples;
  const size_t n = AdvertisedTable::diff(s.sent_by_primary, s.would_send, examples, kDiffExamples);
  ++s.compared;
  s.differences = n;
  if (n == 0) return;
  std::string list;
  for (const auto& e : examples) list += (list.empty() ? "" : "; ") + e;
  spdlog::warn("replication: session {} ({}): the shadow would advertise {} prefixes differently from what the "
               "primary sent (first = primary's, second = shadow's): {}", s.peer.to_string(), s.id, n, list);
}

// ---- status ----

SessionReplStatus StandbyReplicator::session_status(const Shadow& s) const {
  SessionReplStatus r;
  r.connection_id = s.id;
  r.peer = s.peer.to_string();
  if (s.broken) r.sync_state = "broken";
  else if (!s.snapshot_done || s.consumed < s.snapshot_in_end) r.sync_state = "bulk-syncing";
  else if (s.buffered > uint64_t{ha_.window_update_mss} * mss(s)) r.sync_state = "lagging";
  else r.sync_state = "in-sync";
  r.inbound_acked = s.in_next;
  r.inbound_consumed = s.consumed;
  r.outbound_acked = s.out_next;
  r.lag_bytes = s.buffered;
  r.standby_queued = static_cast<uint32_t>(s.buffered);
  r.estimated_window = ha_.standby_buffer_bytes > s.buffered ? static_cast<uint32_t>(ha_.standby_buffer_bytes - s.buffered) : 0;
  r.window_updates = s.window_updates;
  fill_checkpoint(r, s.checkpoint, s.has_checkpoint, s.checkpoints);
  r.outbound_differences = s.differences;
  r.outbound_compared = s.compared;
  return r;
}

ReplStatus StandbyReplicator::status() const {
  ReplStatus r = stats_;
  fill_channel(r, channel_);
  for (const auto& [id, s] : shadows_) r.sessions.push_back(session_status(s));
  return r;
}

}  // namespace tandem::replicator
