#include "api/capture_hub.hpp"

#include <algorithm>

#include "bgpd/wire/message.hpp"

namespace tandem::api {

namespace {

int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<const std::string> why(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

constexpr size_t kItemOverhead = 256;  // queue accounting per record besides its bytes
constexpr auto kSnapshotMaxAge = std::chrono::seconds(1);
constexpr auto kReplicationMaxAge = std::chrono::seconds(1);

}  // namespace

// ---- CaptureSubscription ----

CaptureSubscription::Next CaptureSubscription::next(std::shared_ptr<const CaptureItem>& item, uint64_t& dropped,
                                                    std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, wait, [&] { return !queue_.empty() || closed_ || dropped_pending_ > 0; });
  if (!queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    bytes_ -= q.cost;
    item = std::move(q.item);
    dropped = q.dropped_before;
    return Next::Item;
  }
  if (dropped_pending_ > 0) {  // the queue was emptied after drops: say so now
    dropped = dropped_pending_;
    dropped_pending_ = 0;
    return Next::Dropped;
  }
  return closed_ ? Next::Closed : Next::Timeout;
}

uint64_t CaptureSubscription::dropped_total() const {
  std::lock_guard lk(mu_);
  return dropped_total_;
}

void CaptureSubscription::push(const std::shared_ptr<const CaptureItem>& item) {
  const size_t cost = item->bytes.size() + kItemOverhead;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    if (queue_.size() >= max_items_ || bytes_ + cost > max_bytes_) {
      ++dropped_pending_;
      ++dropped_total_;
      return;
    }
    queue_.push_back(Queued{item, dropped_pending_, cost});
    bytes_ += cost;
    dropped_pending_ = 0;
  }
  cv_.notify_one();
}

void CaptureSubscription::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

// ---- CaptureHub: subscribers ----

CaptureHub::CaptureHub(session::Speaker& speaker, ReplStatusFn repl) : speaker_(speaker), repl_(std::move(repl)) {}

std::shared_ptr<CaptureSubscription> CaptureHub::subscribe(CaptureFilter filter, size_t max_items, size_t max_bytes) {
  auto s = std::make_shared<CaptureSubscription>(std::move(filter), std::max<size_t>(max_items, 1),
                                                 std::max<size_t>(max_bytes, kItemOverhead * 2));
  std::lock_guard lk(mu_);
  if (subs_.empty()) {
    ++generation_;  // framers of an earlier capture are stale
    cleanup_ = false;
  }
  subs_.push_back(s);
  active_ = static_cast<int>(subs_.size());
  return s;
}

void CaptureHub::unsubscribe(const std::shared_ptr<CaptureSubscription>& s) {
  std::lock_guard lk(mu_);
  auto it = std::find(subs_.begin(), subs_.end(), s);
  if (it == subs_.end()) return;
  subs_.erase(it);
  s->close();
  active_ = static_cast<int>(subs_.size());
  if (subs_.empty()) cleanup_ = true;
}

void CaptureHub::close_all() {
  std::lock_guard lk(mu_);
  for (auto& s : subs_) s->close();
  subs_.clear();
  active_ = 0;
  cleanup_ = true;
}

size_t CaptureHub::subscribers() const {
  std::lock_guard lk(mu_);
  return subs_.size();
}

bool CaptureHub::any_wants(const wire::IpAddr& peer, int type) const {
  std::lock_guard lk(mu_);
  for (const auto& s : subs_) {
    const auto& f = s->filter();
    if (f.wants_peer(peer) && (type < 0 || f.wants_type(static_cast<uint8_t>(type)))) return true;
  }
  return false;
}

void CaptureHub::publish(const std::shared_ptr<const CaptureItem>& item, int type) {
  std::lock_guard lk(mu_);
  for (const auto& s : subs_) {
    const auto& f = s->filter();
    if (f.wants_peer(item->peer) && (type < 0 || f.wants_type(static_cast<uint8_t>(type)))) s->push(item);
  }
}

size_t CaptureHub::framing() const {
  size_t n = 0;
  for (const auto& [id, c] : conns_)
    if (c.in.running() || c.out.running()) ++n;
  return n;
}

void CaptureHub::reset_framing() {
  for (auto& [id, c] : conns_) {
    const auto observed = c.observed;
    c = Conn(c.peer, c.endpoints);
    c.observed = observed;
  }
}

// ---- CaptureHub: the tap ----

void CaptureHub::on_open(const wire::IpAddr& peer, uint64_t id, const session::Endpoints& ep) {
  Conn& c = conns_.insert_or_assign(id, Conn(peer, ep)).first->second;
  auto conn = speaker_.find_connection(id);
  if (conn) c.observed = conn->state();  // followed from here on (on_peer_state), capturing or not
  if (active_.load(std::memory_order_relaxed) == 0) return;
  // Capturing already: both streams start now, at offset 0.
  begin(c, conn.get());
  if (!any_wants(peer, -1)) return;
  auto item = std::make_shared<CaptureItem>();
  item->kind = CaptureItem::Kind::Connection;
  item->time_unix_nanos = now_unix_nanos();
  item->peer = peer;
  item->connection_id = id;
  item->endpoints = ep;
  item->opened = true;
  publish(item, -1);
}

// A connection seen from its first byte while capturing: framing from offset 0, and
// the sequence numbers read before anything was read or written (exact).
void CaptureHub::begin(Conn& c, session::Connection* conn) {
  c.generation = generation_.load();
  c.in.start(0);
  c.out.start(0);
  c.rx_end = c.tx_end = 0;
  c.snapshot_stale = true;
  if (!conn) {
    c.seq_unknown = why("the connection is not known to the speaker");
    return;
  }
  if (auto b = read_bases(c, *conn)) {
    c.send_base = b->send_seq_base;
    c.recv_base = b->recv_seq_base;
  }
}

void CaptureHub::on_close(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (active_.load(std::memory_order_relaxed) > 0 && any_wants(it->second.peer, -1)) {
    auto item = std::make_shared<CaptureItem>();
    item->kind = CaptureItem::Kind::Connection;
    item->time_unix_nanos = now_unix_nanos();
    item->peer = it->second.peer;
    item->connection_id = id;
    item->endpoints = it->second.endpoints;
    item->opened = false;
    publish(item, -1);
  }
  conns_.erase(it);
}

void CaptureHub::on_bytes(uint64_t id, session::Direction dir, uint64_t offset, std::span<const uint8_t> bytes) {
  if (active_.load(std::memory_order_relaxed) == 0) {
    if (cleanup_.load(std::memory_order_relaxed) && cleanup_.exchange(false)) reset_framing();
    return;
  }
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  if (c.generation != generation_.load(std::memory_order_relaxed)) {
    // Capture began after this connection opened: frame from the next boundary.
    const auto observed = c.observed;
    c = Conn(c.peer, c.endpoints);
    c.observed = observed;
    c.generation = generation_.load();
    if (auto conn = speaker_.find_connection(id)) {
      c.rx_end = conn->inbound_offset();
      c.tx_end = conn->outbound_offset();
      if (!c.observed) c.observed = conn->state();
    }
  }
  const bool inbound = dir == session::Direction::Inbound;
  if (inbound) {
    // Nothing is pending between the FSM and the observers when bytes are read.
    if (auto conn = speaker_.find_connection(id)) c.observed = conn->state();
  }
  capture::StreamFramer& f = inbound ? c.in : c.out;
  if (!f.running()) sync(id, c, dir, offset, bytes);
  if (!f.running()) return;  // not at a message boundary yet
  if ((inbound ? !c.recv_base : !c.send_base) && !c.seq_failed) {
    if (auto conn = speaker_.find_connection(id))
      inbound ? read_recv_base(c, *conn, bytes.size()) : read_send_base(c, *conn, offset);
  }
  (inbound ? c.rx_end : c.tx_end) = offset + bytes.size();
  f.feed(offset, bytes, [&](uint64_t at, std::span<const uint8_t> msg) { message(id, c, dir, at, msg); });
}

// Start framing one direction of a connection that was open before the capture began.
void CaptureHub::sync(uint64_t id, Conn& c, session::Direction dir, uint64_t offset, std::span<const uint8_t> bytes) {
  if (dir == session::Direction::Outbound) {
    // The connection hands the tap whole queued messages: every outbound chunk starts
    // at a message boundary (checked: the marker).
    if (bytes.size() >= 16 && std::all_of(bytes.begin(), bytes.begin() + 16, [](uint8_t b) { return b == 0xFF; }))
      c.out.start(offset);
    return;
  }
  // Inbound chunks are cut anywhere: resume from where the FSM's framing stands (its
  // last message boundary plus the partial message it holds), which is exactly the
  // start of this chunk, the FSM not having seen it yet.
  auto conn = speaker_.find_connection(id);
  if (!conn) return;
  const auto& fsm = conn->fsm();
  const auto pending = fsm.pending_input();
  if (fsm.consumed_offset() + pending.size() != offset) return;
  c.in.start(fsm.consumed_offset(), pending);
}

// Sequence numbers for a connection that was open before the capture began. The kernel
// gives the next sequence number to send and to read; the connection's byte counters
// turn them into the bases of stream offset 0 (tcp_state.hpp). Those counters are exact
// only at two moments, one per direction, both inside a tap callback:
// - an outbound chunk: the connection hands it over only when no write is in flight,
//   so everything before `offset` is in the kernel (its written counter is not updated
//   for this chunk yet: corrected here);
// - an inbound chunk: it was just read, the connection's read counter not yet advanced
//   (the receive base comes out `chunk_size` too high: corrected here).
// Each direction is read at its first chunk; a read costs two setsockopt calls and a
// window probe (TCP_REPAIR off), once per direction and capture.
std::optional<session::SeqBases> CaptureHub::read_bases(Conn& c, session::Connection& conn) {
  std::string err;
  auto b = conn.tcp_seq_bases(err);
  if (!b) {
    c.seq_failed = true;
    c.seq_unknown = why("cannot read the TCP state: " + err);
  }
  return b;
}

void CaptureHub::read_send_base(Conn& c, session::Connection& conn, uint64_t chunk_offset) {
  if (auto b = read_bases(c, conn))
    c.send_base = b->send_seq_base + static_cast<uint32_t>(conn.outbound_written() - chunk_offset);
}

void CaptureHub::read_recv_base(Conn& c, session::Connection& conn, size_t chunk_size) {
  if (auto b = read_bases(c, conn)) c.recv_base = b->recv_seq_base - static_cast<uint32_t>(chunk_size);
}

std::shared_ptr<const SessionSnapshot> CaptureHub::snapshot(uint64_t id, Conn& c, const session::Connection* conn) {
  const auto now = std::chrono::steady_clock::now();
  const bool known = c.observed.has_value() || conn != nullptr;
  const fsm::State state = c.observed.value_or(conn ? conn->state() : fsm::State::Idle);
  const bool fresh = c.snapshot && !c.snapshot_stale && now - c.snapshot_at < kSnapshotMaxAge;
  if (fresh && (!known || state == c.snapshot->state)) return c.snapshot;
  auto s = std::make_shared<SessionSnapshot>();
  if (conn) {
    s->state = state;
    s->outgoing = conn->outgoing();
    s->negotiated = conn->fsm().negotiated();
  }
  if (const auto* p = speaker_.find_peer(c.peer)) {
    auto st = p->status();
    if (!conn) s->state = st.state;
    s->gr_state = st.gr_state;
    s->gr_stale_families = std::move(st.gr_stale_families);
  }
  if (repl_) {
    refresh_replication();
    s->repl_role = repl_role_;
    if (!repl_role_.empty() && repl_role_ != "none") {
      auto it = repl_sync_.find(id);
      s->repl_sync = it != repl_sync_.end() ? it->second : "not-replicated";
    }
  }
  c.snapshot = std::move(s);
  c.snapshot_at = now;
  c.snapshot_stale = false;
  return c.snapshot;
}

void CaptureHub::refresh_replication() {
  const auto now = std::chrono::steady_clock::now();
  if (repl_at_ != std::chrono::steady_clock::time_point{} && now - repl_at_ < kReplicationMaxAge) return;
  repl_at_ = now;
  repl_sync_.clear();
  repl_role_.clear();
  auto r = repl_();
  if (!r) return;
  repl_role_ = r->role;
  for (const auto& s : r->sessions) repl_sync_[s.connection_id] = s.sync_state;
}

void CaptureHub::message(uint64_t id, Conn& c, session::Direction dir, uint64_t offset, std::span<const uint8_t> msg) {
  const int type = msg.size() > 18 ? msg[18] : 0;
  if (!any_wants(c.peer, type)) return;
  auto conn = speaker_.find_connection(id);
  auto item = std::make_shared<CaptureItem>();
  item->kind = CaptureItem::Kind::Message;
  item->time_unix_nanos = now_unix_nanos();
  item->peer = c.peer;
  item->connection_id = id;
  item->endpoints = c.endpoints;
  item->direction = dir;
  item->offset = offset;
  item->bytes.assign(msg.begin(), msg.end());
  const bool in = dir == session::Direction::Inbound;
  const auto& mine = in ? c.recv_base : c.send_base;
  const auto& other = in ? c.send_base : c.recv_base;
  if (mine) {
    item->seq_known = true;
    item->seq = session::seq_at(*mine, offset);
  } else {
    item->seq_unknown = c.seq_unknown ? c.seq_unknown : why("not read yet");
  }
  if (other) {
    item->ack_known = true;
    item->ack = session::seq_at(*other, in ? c.tx_end : c.rx_end);
  }
  item->session = snapshot(id, c, conn.get());
  publish(item, type);
}

void CaptureHub::on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) {
  // The transition belongs to the connection of this peer that was in `from` and has
  // moved on since (with two connections in a collision, usually only one is).
  for (auto& [id, c] : conns_) {
    if (c.peer != peer) continue;
    c.snapshot_stale = true;
    if (c.observed != from) continue;
    auto conn = speaker_.find_connection(id);
    if (conn && conn->state() != from) c.observed = to;
  }
  if (active_.load(std::memory_order_relaxed) == 0) return;
  if (!any_wants(peer, -1)) return;
  auto item = std::make_shared<CaptureItem>();
  item->kind = CaptureItem::Kind::StateChange;
  item->time_unix_nanos = now_unix_nanos();
  item->peer = peer;
  item->from = from;
  item->to = to;
  item->reason = reason;
  publish(item, -1);
}

}  // namespace tandem::api
