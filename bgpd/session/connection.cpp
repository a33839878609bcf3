#include "bgpd/session/connection.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "bgpd/session/peer.hpp"
#include "bgpd/session/speaker.hpp"
#include "bgpd/session/socket_protection.hpp"

namespace tandem::session {
namespace {

constexpr size_t kReadChunk = 256 * 1024;
// Pull at most this much from the RIB per write, so keepalives and other peers are
// never stuck behind one huge write.
constexpr size_t kRibPullBytes = 256 * 1024;
// Hand the socket a new batch only below this much queued data (back-pressure).
constexpr size_t kLowWater = 64 * 1024;
// SentTail: ask the kernel what the peer acknowledged once this much more is kept.
constexpr size_t kTrimEvery = 256 * 1024;
constexpr auto kDisconnectFlushLimit = std::chrono::seconds(2);
// At most this much unsent in the kernel (TCP_NOTSENT_LOWAT): a KEEPALIVE queued behind
// UPDATEs waits for this plus one write, not for a whole autotuned send buffer (with a
// peer reading 3 MB/s under an UPDATE flood, 0.46 s late instead of 0.12 s).
constexpr uint32_t kNotSentLowWater = 128 * 1024;

void bound_unsent(int fd, const std::string& peer) {
  std::string why;
  if (!set_notsent_lowat(fd, kNotSentLowWater, why)) spdlog::warn("peer {}: {}", peer, why);
}

uint64_t next_connection_id() {
  static uint64_t id = 0;
  return ++id;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

wire::IpAddr to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return wire::IpAddr::v4(a.to_v4().to_uint());
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return wire::IpAddr::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
  auto b = v6.to_bytes();
  return wire::IpAddr::v6(b.data());
}

asio::ip::address to_asio(const wire::IpAddr& a) {
  if (a.is_v4()) return asio::ip::address_v4(a.v4_host_order());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
  return asio::ip::address_v6(b);
}

Connection::Connection(asio::io_context& io, Peer& peer, fsm::Config config, bool outgoing,
                       std::optional<tcp::socket> socket, SessionTap* tap)
    : io_(io),
      peer_(peer),
      fsm_(std::move(config)),
      outgoing_(outgoing),
      tap_(tap),
      id_(next_connection_id()),
      socket_(std::move(socket)) {
  rx_buf_.resize(kReadChunk);
}

std::shared_ptr<Connection> Connection::make_shadow(asio::io_context& io, Peer& peer, fsm::Config config,
                                                   bool outgoing, const Endpoints& ep, ShadowSink sink) {
  auto c = std::make_shared<Connection>(io, peer, std::move(config), outgoing, std::nullopt, nullptr);
  c->shadow_ = true;
  c->shadow_sink_ = std::move(sink);
  c->endpoints_ = ep;
  c->rx_buf_ = {};
  return c;
}

Connection::~Connection() = default;

bool Connection::restore_established(const wire::Open& local, const wire::Open& peer, uint64_t inbound_offset,
                                     std::string& why) {
  if (!fsm_.restore_established(local, peer, inbound_offset, why)) return false;
  rx_offset_ = inbound_offset;
  peer_.on_established(*this, *fsm_.negotiated());
  return true;
}

bool Connection::promote(int fd, SessionTap* tap, std::span<const uint8_t> requeued, uint64_t outbound_end,
                         std::string& why) {
  if (!shadow_ || closed_ || fsm_.state() != fsm::State::Established || !endpoints_) {
    why = "not an Established shadow session";
    return false;
  }
  boost::system::error_code ec;
  tcp::socket s(io_);
  s.assign(endpoints_->local.is_v4() ? tcp::v4() : tcp::v6(), fd, ec);
  if (!ec) s.non_blocking(true, ec);
  if (ec) {
    why = "adopting the restored socket: " + ec.message();
    return false;
  }
  s.set_option(tcp::no_delay(true), ec);
  bound_unsent(s.native_handle(), peer_.name());
  // Leaving repair mode reset SO_REUSEADDR; the BGP listener on *:179 is bound after
  // this and must not conflict (an accepted socket inherits it from the listener).
  s.set_option(asio::socket_base::reuse_address(true), ec);
  socket_.emplace(std::move(s));
  ++sock_gen_;
  shadow_ = false;
  shadow_sink_ = nullptr;
  tap_ = tap;
  tx_offset_ = std::max<uint64_t>(outbound_end, requeued.size());
  sent_tail_.clear();
  sent_tail_trim_at_ = 0;
  if (peer_.speaker().keep_unacked_output()) keep_sent(tx_offset_ - requeued.size(), requeued);
  rx_buf_.resize(kReadChunk);
  peer_.speaker().register_connection(id_, weak_from_this());
  for (auto& a : fsm_.resume_timers()) apply(a);
  // The peer hears from the new primary at once (and its hold timer restarts).
  feed(fsm::ev::TimerExpired{fsm::Timer::Keepalive});
  do_read();
  return true;
}

std::optional<FrozenTcp> Connection::freeze_for_handoff(std::string& why) {
  if (!socket_ || closed_ || shadow_) {
    why = "no live socket";
    return std::nullopt;
  }
  auto frozen = session::freeze(socket_->native_handle(), why);
  if (!frozen) return std::nullopt;
  // Bytes the taps saw (the standby holds them, and believes the peer will get them)
  // that the kernel has not taken yet: they join the never-sent end of the send queue,
  // for the new owner to send. Left here they would be lost (bench/chaos: a switchover
  // during a transfer left routes missing at the peer).
  if (inflight_done_ < tx_inflight_.size()) {
    const auto rest = tx_inflight_.begin() + static_cast<std::ptrdiff_t>(inflight_done_);
    frozen->send_queue.insert(frozen->send_queue.end(), rest, tx_inflight_.end());
    frozen->write_seq += static_cast<uint32_t>(tx_inflight_.end() - rest);
    inflight_done_ = tx_inflight_.size();
  }
  // Closed for this process only: no tap close (the standby takes the session over),
  // no FSM event (the Peer must not take the session down and withdraw its routes).
  closed_ = true;
  ++sock_gen_;
  for (auto& t : timers_)
    if (t) t->cancel();
  if (flush_timer_) flush_timer_->cancel();
  if (send_hold_timer_) send_hold_timer_->cancel();
  boost::system::error_code ec;
  socket_->close(ec);  // in repair mode: silent
  socket_.reset();
  peer_.speaker().unregister_connection(id_);
  return frozen;
}

void Connection::shadow_receive(std::span<const uint8_t> bytes) {
  if (closed_ || !shadow_) return;
  rx_offset_ += bytes.size();
  feed(fsm::ev::BytesReceived{bytes});
}

void Connection::abort_transport(const std::string& why) {
  if (closed_ || shadow_ || !socket_) return;
  spdlog::warn("peer {}: resetting the TCP connection: {}", peer_.name(), why);
  if (tap_ && endpoints_) tap_->before_close(id_);  // the crash guard lets this RST go
  const ::linger abort_now{1, 0};  // close() sends RST instead of FIN
  if (::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now) != 0)
    spdlog::warn("peer {}: SO_LINGER: {}: the connection ends with FIN instead", peer_.name(), std::strerror(errno));
  boost::system::error_code ec;
  socket_->close(ec);
  socket_.reset();
  feed(fsm::ev::TcpClosed{});
}

void Connection::shadow_closed() {
  if (closed_ || !shadow_) return;
  feed(fsm::ev::TcpClosed{});
}

uint64_t Connection::outbound_written() const {
  // inflight_done_ keeps the last write's size once tx_inflight_ is emptied.
  return tx_inflight_.empty() ? tx_offset_ : tx_offset_ - (tx_inflight_.size() - inflight_done_);
}

void Connection::gate_moved() {
  if (closed_ || !socket_) return;
  if (read_paused_) {
    read_paused_ = false;
    do_read();
  }
  if (write_paused_) {
    write_paused_ = false;
    write_some();
  }
}

std::optional<SeqBases> Connection::tcp_seq_bases(std::string& why) const {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  return read_seq_bases(const_cast<tcp::socket&>(*socket_).native_handle(), outbound_written(), rx_offset_, why);
}

std::optional<TcpQueues> Connection::tcp_queues(std::string& why) const {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  return read_queues(const_cast<tcp::socket&>(*socket_).native_handle(), why);
}

std::optional<Connection::Unacked> Connection::unacked_output(std::string& why) {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  if (!peer_.speaker().keep_unacked_output()) {
    why = "unacknowledged output is not kept (no replication)";
    return std::nullopt;
  }
  auto q = read_queues(socket_->native_handle(), why);
  if (!q) return std::nullopt;
  const uint64_t acked = outbound_written() - q->unacked_and_unsent;
  sent_tail_.trim(acked);
  sent_tail_trim_at_ = sent_tail_.size() + kTrimEvery;
  Unacked u;
  u.start = std::max(acked, sent_tail_.start());
  u.bytes = sent_tail_.from(u.start);
  return u;
}

// Every byte the taps see, at its stream offset. The kernel is asked what the peer
// acknowledged only every kTrimEvery bytes: the tail is the kernel's send queue, what is
// still to be written, and at most that much more.
void Connection::keep_sent(uint64_t offset, std::span<const uint8_t> bytes) {
  sent_tail_.append(offset, bytes);
  if (sent_tail_.size() < sent_tail_trim_at_ || !socket_) return;
  std::string why;
  if (auto q = read_queues(socket_->native_handle(), why))
    sent_tail_.trim(outbound_written() - q->unacked_and_unsent);
  sent_tail_trim_at_ = sent_tail_.size() + kTrimEvery;
}

std::optional<TcpInfo> Connection::tcp_info(std::string& why) const {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  return read_tcp_info(const_cast<tcp::socket&>(*socket_).native_handle(), why);
}

std::optional<uint32_t> Connection::tcp_tsval(std::string& why) const {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  return read_tsval(const_cast<tcp::socket&>(*socket_).native_handle(), why);
}

bool Connection::set_window_clamp(uint32_t bytes, std::string& why) {
  if (!socket_) {
    why = "no socket";
    return false;
  }
  return session::set_window_clamp(socket_->native_handle(), bytes, why);
}

bool Connection::set_receive_buffer(uint32_t bytes, std::string& why) {
  if (!socket_) {
    why = "no socket";
    return false;
  }
  return session::set_receive_buffer(socket_->native_handle(), bytes, why);
}

std::optional<uint32_t> Connection::receive_buffer(std::string& why) const {
  if (!socket_) {
    why = "no socket";
    return std::nullopt;
  }
  return read_receive_buffer(const_cast<tcp::socket&>(*socket_).native_handle(), why);
}

std::optional<Endpoints> Connection::endpoints() const { return endpoints_; }

std::string Connection::describe() const {
  std::string dir = outgoing_ ? "outgoing" : "incoming";
  if (!endpoints_) return dir;
  return dir + " " + endpoints_->local.to_string() + ":" + std::to_string(endpoints_->local_port) + "->" +
         endpoints_->remote.to_string() + ":" + std::to_string(endpoints_->remote_port);
}

void Connection::start() {
  if (outgoing_) {
    feed(fsm::ev::ManualStart{});
    return;
  }
  // Incoming: the FSM is configured passive, so start puts it in Active; then the
  // accepted transport is up.
  feed(fsm::ev::ManualStart{});
  on_connected();
}

void Connection::feed(const fsm::Event& event) {
  if (closed_) return;
  const auto before = fsm_.received_counts();
  std::vector<fsm::Action> actions = fsm_.handle(event);
  const auto& after = fsm_.received_counts();
  for (size_t t = 1; t < after.size(); ++t) {
    if (after[t] != before[t]) peer_.count_received(static_cast<wire::MessageType>(t), after[t] - before[t]);
  }
  // An action may feed this connection again (an UPDATE error resets the session; a
  // lost collision). The FSM has then moved on, and the rest of this batch was computed
  // for the state before: applying it (e.g. an Established that followed the OPEN in
  // the same read) would resurrect a session the FSM has just closed.
  const uint64_t gen = ++feed_gen_;
  for (auto& a : actions) {
    if (closed_ || feed_gen_ != gen) return;
    apply(a);
  }
}

void Connection::apply(fsm::Action& action) {
  std::visit(
      Overloaded{
          [&](fsm::act::Connect&) { do_connect(); },
          [&](fsm::act::Disconnect&) {
            disconnect_after_write_ = true;
            if (!writing_ && tx_pending_.empty()) {
              finish_disconnect();
              return;
            }
            // A peer that does not read must not keep the socket open forever.
            flush_timer_ = std::make_unique<asio::steady_timer>(io_, kDisconnectFlushLimit);
            flush_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& e) {
              if (e || self->closed_ || !self->disconnect_after_write_) return;
              spdlog::info("peer {}: closing without flushing (peer not reading)", self->peer_.name());
              self->finish_disconnect();
            });
          },
          [&](fsm::act::Send& s) {
            peer_.count_sent(s.type, 1);
            queue_bytes(s.bytes);
          },
          // A shadow keeps no timers: the primary's session decides when it ends.
          [&](fsm::act::ArmTimer& t) {
            if (!shadow_) arm_timer(t.timer, t.seconds);
          },
          [&](fsm::act::CancelTimer& t) { cancel_timer(t.timer); },
          [&](fsm::act::StateChanged& s) { peer_.on_state_changed(*this, s); },
          [&](fsm::act::OpenReceived& o) {
            peer_.on_open_received(*this, o.open);
          },
          // The taps first: the bytes the Peer sends as the session starts (the
          // initial dump) must already be streamed to the standby.
          [&](fsm::act::Established& e) {
            if (tap_) tap_->on_established(id_);
            peer_.on_established(*this, e.negotiated);
          },
          [&](fsm::act::UpdateReceived& u) {
            if (auto err = peer_.on_update(*this, u.body)) {
              feed(fsm::ev::UpdateError{std::move(*err)});
            }
          },
          [&](fsm::act::RouteRefreshReceived& r) {
            peer_.on_route_refresh(*this, r.request);
          },
          [&](fsm::act::NotificationReceived& n) {
            peer_.on_notification(*this, n.notification, false);
          },
          [&](fsm::act::NotificationSent& n) { peer_.on_notification(*this, n.notification, true); },
          [&](fsm::act::SessionDown& d) { peer_.on_session_down(*this, d.reason); },
      },
      action);
}

std::string protect(int fd, const config::PeerConfig& pc) {
  if (!pc.password.empty())
    if (auto e = set_md5_key(fd, pc.address, pc.password); !e.empty()) return e;
  if (pc.ttl_security)
    if (auto e = set_gtsm(fd, pc.address.is_v6()); !e.empty()) return e;
  return {};
}

void Connection::do_connect() {
  const auto& pc = peer_.config();
  socket_.emplace(io_);
  ++sock_gen_;
  auto remote = to_asio(pc.address);
  tcp::endpoint ep(remote, pc.port);
  boost::system::error_code ec;
  socket_->open(ep.protocol(), ec);
  std::string protect_error;
  if (!ec) protect_error = protect(socket_->native_handle(), pc);
  if (!protect_error.empty()) ec = asio::error::operation_not_supported;
  if (!ec && pc.local_address) socket_->bind(tcp::endpoint(to_asio(*pc.local_address), 0), ec);
  if (ec) {
    spdlog::warn("peer {}: cannot prepare outgoing connection: {}", peer_.name(),
                 protect_error.empty() ? ec.message() : protect_error);
    socket_.reset();
    asio::post(io_, [self = shared_from_this()] { self->feed(fsm::ev::TcpConnectFailed{}); });
    return;
  }
  spdlog::debug("peer {}: connecting to {}:{}", peer_.name(), pc.address.to_string(), pc.port);
  socket_->async_connect(ep, [self = shared_from_this(), gen = sock_gen_](const boost::system::error_code& e) {
    if (self->closed_ || gen != self->sock_gen_) return;
    if (e) {
      spdlog::debug("peer {}: connect failed: {}", self->peer_.name(), e.message());
      self->socket_.reset();
      self->feed(fsm::ev::TcpConnectFailed{});
      return;
    }
    self->on_connected();
  });
}

void Connection::on_connected() {
  boost::system::error_code ec;
  socket_->set_option(tcp::no_delay(true), ec);
  bound_unsent(socket_->native_handle(), peer_.name());
  auto le = socket_->local_endpoint(ec);
  auto re = socket_->remote_endpoint(ec);
  if (ec) {
    feed(fsm::ev::TcpConnectFailed{});
    return;
  }
  endpoints_ = Endpoints{to_ip(le.address()), le.port(), to_ip(re.address()), re.port()};
  rx_offset_ = tx_offset_ = 0;
  peer_.speaker().register_connection(id_, weak_from_this());
  if (tap_) tap_->on_open(peer_.config().address, id_, *endpoints_);
  spdlog::debug("peer {}: TCP up ({})", peer_.name(), describe());
  feed(fsm::ev::TcpConnected{});
  do_read();
}

void Connection::do_read() {
  if (!socket_ || closed_) return;
  // Replication paces reads: the standby must hold inbound bytes before more are taken.
  size_t chunk = rx_buf_.size();
  if (tap_) {
    uint64_t limit = tap_->inbound_limit(id_);
    if (limit <= rx_offset_) {
      read_paused_ = true;
      return;
    }
    chunk = static_cast<size_t>(std::min<uint64_t>(chunk, limit - rx_offset_));
  }
  socket_->async_read_some(
      asio::buffer(rx_buf_.data(), chunk),
      [self = shared_from_this(), gen = sock_gen_](const boost::system::error_code& e, size_t n) {
        // A handler of an earlier socket of this connection must not touch the new one.
        if (self->closed_ || !self->socket_ || gen != self->sock_gen_) return;
        if (e) {
          if (e != asio::error::operation_aborted) {
            spdlog::info("peer {}: connection closed: {}", self->peer_.name(),
                         e == asio::error::eof ? "closed by peer" : e.message());
            self->socket_.reset();
            self->writing_ = false;
            self->tx_pending_.clear();
            self->feed(fsm::ev::TcpClosed{});
          }
          return;
        }
        std::span<const uint8_t> bytes(self->rx_buf_.data(), n);
        if (self->tap_) self->tap_->on_bytes(self->id_, Direction::Inbound, self->rx_offset_, bytes);
        self->rx_offset_ += n;
        self->feed(fsm::ev::BytesReceived{bytes});
        self->do_read();
      });
}

void Connection::queue_bytes(std::span<const uint8_t> bytes) {
  tx_pending_.insert(tx_pending_.end(), bytes.begin(), bytes.end());
  maybe_write();
}

void Connection::output_ready() { maybe_write(); }

void Connection::send_route_refresh(wire::Family family) {
  if (closed_ || fsm_.state() != fsm::State::Established) return;
  wire::RouteRefresh rr;
  rr.family = family;
  rr.subtype = wire::RouteRefresh::Normal;
  peer_.count_sent(wire::MessageType::RouteRefresh, 1);
  queue_bytes(wire::encode_route_refresh(rr));
}

void Connection::maybe_write() {
  if (shadow_) return shadow_write();
  if (writing_ || !socket_ || closed_) return;
  // Pull routes from the RIB only when little is queued: a slow peer leaves the work
  // in the RIB's dirty set instead of in our buffers.
  if (!disconnect_after_write_ && tx_pending_.size() < kLowWater && fsm_.state() == fsm::State::Established)
    peer_.take_output(*this, kRibPullBytes, tx_pending_);
  if (tx_pending_.empty()) return;
  tx_inflight_.swap(tx_pending_);
  tx_pending_.clear();
  writing_ = true;
  if (tap_) tap_->on_bytes(id_, Direction::Outbound, tx_offset_, tx_inflight_);
  if (peer_.speaker().keep_unacked_output()) keep_sent(tx_offset_, tx_inflight_);
  tx_offset_ += tx_inflight_.size();
  inflight_done_ = 0;
  write_some();
}

// A shadow's "socket" is its sink: what it would send is handed over at once. The RIB
// is pulled in bounded chunks, one per turn of the event loop, like a live session.
void Connection::shadow_write() {
  if (closed_) return;
  if (!tx_pending_.empty()) {
    shadow_sink_(tx_pending_);
    tx_offset_ += tx_pending_.size();
    tx_pending_.clear();
  }
  if (disconnect_after_write_) return finish_disconnect();
  if (fsm_.state() != fsm::State::Established || shadow_pull_posted_) return;
  shadow_pull_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->shadow_pull_posted_ = false;
    // Promoted meanwhile: the live write path pulls from the RIB now.
    if (self->closed_ || !self->shadow_ || self->fsm_.state() != fsm::State::Established) return;
    if (self->peer_.take_output(*self, kRibPullBytes, self->tx_pending_) > 0 || !self->tx_pending_.empty())
      self->shadow_write();
  });
}

// One write_some at a time: each completion that moved bytes re-arms the send hold
// timer, so only a peer that reads nothing at all for the send hold time trips it.
//
// The write itself is a non-blocking send() made here, and the bytes the kernel took
// are counted at once; only what follows a write runs later, from the event loop, as an
// Asio completion would. Counting in a completion handler (async_write_some) left the
// count behind the kernel while the handler waited: Asio writes speculatively in the
// initiating call. A sequence-base read in that window (a standby attaching, or the
// switchover's checkpoint) subtracted too few bytes from the kernel's write_seq, and
// the takeover that used those bases fell back to graceful restart (bench/chaos, bug 2).
void Connection::write_some() {
  if (!socket_ || closed_) return;
  // Replication: bytes reach the peer only once the standby holds them.
  size_t len = tx_inflight_.size() - inflight_done_;
  if (tap_) {
    uint64_t at = tx_offset_ - len;  // stream offset of the next byte to write
    uint64_t limit = tap_->outbound_limit(id_);
    if (limit <= at) {
      write_paused_ = true;
      return;
    }
    len = static_cast<size_t>(std::min<uint64_t>(len, limit - at));
  }
  arm_send_hold();
  boost::system::error_code ec;
  if (!socket_->non_blocking()) socket_->non_blocking(true, ec);
  const size_t n = ec ? 0 : socket_->write_some(asio::buffer(tx_inflight_.data() + inflight_done_, len), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    socket_->async_wait(tcp::socket::wait_write,
                        [self = shared_from_this(), gen = sock_gen_](const boost::system::error_code& e) {
                          if (gen != self->sock_gen_) return;
                          if (e) return self->after_write(e);
                          self->write_some();
                        });
    return;
  }
  if (!ec) inflight_done_ += n;
  asio::post(io_, [self = shared_from_this(), gen = sock_gen_, ec] {
    if (gen == self->sock_gen_) self->after_write(ec);
  });
}

void Connection::after_write(const boost::system::error_code& e) {
  if (closed_ || !socket_) {
    writing_ = false;
    return;
  }
  if (e) {
    writing_ = false;
    if (e == asio::error::operation_aborted) return;
    spdlog::info("peer {}: write failed: {}", peer_.name(), e.message());
    socket_.reset();
    tx_pending_.clear();
    feed(fsm::ev::TcpClosed{});
    return;
  }
  if (inflight_done_ < tx_inflight_.size()) {
    write_some();
    return;
  }
  writing_ = false;
  ++write_gen_;  // the send hold timer of this write is void
  tx_inflight_.clear();
  if (disconnect_after_write_ && tx_pending_.empty()) {
    finish_disconnect();
    return;
  }
  maybe_write();
}

// RFC 9687: no byte written for the send hold time means the peer has stopped reading
// (its window stays closed); instead of keeping the session, and the memory queued for
// it, forever, the session ends.
void Connection::arm_send_hold() {
  if (fsm_.state() != fsm::State::Established && fsm_.state() != fsm::State::OpenConfirm) return;
  uint32_t seconds = peer_.config().send_hold_time;
  if (seconds == 0) {
    const auto& n = fsm_.negotiated();
    seconds = std::max<uint32_t>(480, n ? 2u * n->hold_time : 0u);
  }
  if (!send_hold_timer_) send_hold_timer_ = std::make_unique<asio::steady_timer>(io_);
  send_hold_timer_->expires_after(std::chrono::seconds(seconds));
  send_hold_timer_->async_wait(
      [self = shared_from_this(), gen = ++write_gen_, seconds](const boost::system::error_code& e) {
        if (e || self->closed_ || !self->writing_ || gen != self->write_gen_) return;
        spdlog::error("peer {}: send hold timer expired: the peer has read nothing for {} s (RFC 9687); ending the "
                      "session ({})", self->peer_.name(), seconds, self->describe());
        // The NOTIFICATION cannot get through a closed window; the disconnect that
        // follows it closes the socket after the flush limit.
        self->feed(fsm::ev::SendNotification{wire::Notification{wire::err::kSendHoldTimerExpired, 0, {}}});
      });
}

void Connection::finish_disconnect() {
  disconnect_after_write_ = false;
  if (flush_timer_) flush_timer_->cancel();
  writing_ = false;
  if (socket_) {
    if (tap_ && endpoints_) tap_->before_close(id_);  // e.g. the crash guard lets this FIN go
    boost::system::error_code ec;
    socket_->shutdown(tcp::socket::shutdown_both, ec);
    socket_->close(ec);
    socket_.reset();
  }
  ++sock_gen_;  // pending handlers of this socket become stale
  tx_pending_.clear();
  tx_inflight_ = {};  // a fresh buffer: the aborted write may still reference the old one
  sent_tail_.clear();
  if (tap_ && endpoints_) tap_->on_close(id_);
  if (!shadow_) endpoints_.reset();
  peer_.speaker().unregister_connection(id_);
  peer_.on_disconnected(*this);
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& t : timers_)
    if (t) t->cancel();
  if (flush_timer_) flush_timer_->cancel();
  if (send_hold_timer_) send_hold_timer_->cancel();
  if (socket_) {
    if (tap_ && endpoints_) tap_->before_close(id_);
    boost::system::error_code ec;
    socket_->close(ec);
    socket_.reset();
    if (tap_ && endpoints_) tap_->on_close(id_);
  }
  peer_.speaker().unregister_connection(id_);
}

void Connection::arm_timer(fsm::Timer t, uint32_t seconds) {
  auto i = static_cast<size_t>(t);
  if (!timers_[i]) timers_[i] = std::make_unique<asio::steady_timer>(io_);
  uint64_t gen = ++timer_gen_[i];
  timers_[i]->expires_after(std::chrono::seconds(seconds));
  timers_[i]->async_wait([self = shared_from_this(), t, i, gen](const boost::system::error_code& e) {
    // A re-armed or cancelled timer bumps the generation: ignore stale wake-ups.
    if (e || self->closed_ || self->timer_gen_[i] != gen) return;
    self->feed(fsm::ev::TimerExpired{t});
  });
}

void Connection::cancel_timer(fsm::Timer t) {
  auto i = static_cast<size_t>(t);
  ++timer_gen_[i];
  if (timers_[i]) timers_[i]->cancel();
}

}  // namespace tandem::session
