// One TCP connection to a BGP peer: the Asio socket, its Fsm, the FSM's timers, and
// the write path (batching and back-pressure). Turns FSM actions into I/O; hands the
// routing-relevant ones (OPEN received, Established, UPDATE, ...) to its Peer.
#pragma once

#include <array>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/fsm/fsm.hpp"
#include "bgpd/session/sent_tail.hpp"
#include "bgpd/session/tap.hpp"
#include "bgpd/session/tcp_repair.hpp"
#include "bgpd/session/tcp_state.hpp"

namespace tandem::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Peer;

wire::IpAddr to_ip(const asio::ip::address& a);
// TCP-MD5 and GTSM as configured for the peer, on a socket (outgoing, or just accepted:
// there the MD5 key comes from the listener). Error message, empty on success.
std::string protect(int fd, const config::PeerConfig& pc);
asio::ip::address to_asio(const wire::IpAddr& a);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Outgoing: `socket` empty, the FSM's Connect action dials the peer.
  // Incoming: an accepted socket.
  Connection(asio::io_context& io, Peer& peer, fsm::Config config, bool outgoing,
             std::optional<tcp::socket> socket, SessionTap* tap);
  // A shadow (standby): no socket. It is fed the primary's inbound bytes; what it would
  // send goes to `sink` (compared there with what the primary sent), never to a peer.
  // Its FSM starts Established from the two OPENs (see restore_established).
  using ShadowSink = std::function<void(std::span<const uint8_t>)>;
  static std::shared_ptr<Connection> make_shadow(asio::io_context& io, Peer& peer, fsm::Config config,
                                                 bool outgoing, const Endpoints& ep, ShadowSink sink);
  ~Connection();

  void start();                       // ManualStart (outgoing) / accept (incoming)
  void feed(const fsm::Event& event);  // run one event through the FSM
  void close();                       // drop everything now, no NOTIFICATION
  void output_ready();                // the RIB has something for this peer
  // Replace the FSM's configuration; takes effect with the next OPEN it sends.
  void reconfigure(fsm::Config config) { fsm_.reconfigure(std::move(config)); }
  // Queue a ROUTE-REFRESH (Established only; the caller checked the capability).
  void send_route_refresh(wire::Family family);

  // ---- shadow sessions (standby) ----
  // Established from the OPENs, inbound resuming at `inbound_offset`; tells the Peer.
  bool restore_established(const wire::Open& local, const wire::Open& peer, uint64_t inbound_offset,
                           std::string& why);
  // The primary's inbound bytes, contiguous from restore_established's offset.
  void shadow_receive(std::span<const uint8_t> bytes);
  // The primary's session ended: the shadow's transport is gone too.
  void shadow_closed();
  bool shadow() const { return shadow_; }
  // Takeover: the shadow becomes the live session on `fd`, a socket restored from the
  // primary's frozen one (tcp_repair.hpp) carrying this very TCP connection. The FSM
  // stays Established; Hold and Keepalive start, a KEEPALIVE goes out at once, reading
  // begins (the restored receive queue first). `tap`: the speaker's taps from now on.
  // `requeued`: the restored send queue (the bytes the peer has not acknowledged), kept
  // as the start of its SentTail; it ends at `outbound_end`, the old primary's outbound
  // stream offset, from which this connection's outbound offsets carry on (a shadow
  // counted only its own output, which can be less than the queue).
  bool promote(int fd, SessionTap* tap, std::span<const uint8_t> requeued, uint64_t outbound_end,
               std::string& why);
  // End a live session with a RST from this socket (its own sequence number and TCP-MD5
  // signature), no NOTIFICATION: to the FSM a closed transport (graceful restart keeps
  // the peer's routes stale). A takeover's session that cannot be carried on after all.
  void abort_transport(const std::string& why);

  // ---- planned switchover (primary) ----
  // Nothing queued or being written: what the session produced has reached the socket.
  bool drained() const { return !writing_ && tx_pending_.empty() && outbound_written() == tx_offset_; }
  // Freeze the socket (TCP_REPAIR) and give it up without a sound: the connection is
  // closed for this process (no NOTIFICATION, no FIN: close() in repair mode sends
  // nothing) and its state returned for the standby. nullopt + why (then nothing changed).
  std::optional<FrozenTcp> freeze_for_handoff(std::string& why);

  // ---- for the taps (replication) ----
  // A tap's limit moved: write and read what the limits now allow.
  void gate_moved();
  uint64_t inbound_offset() const { return rx_offset_; }    // bytes read from the socket
  uint64_t outbound_offset() const { return tx_offset_; }   // bytes handed to the tap
  uint64_t outbound_written() const;                        // of those, handed to the socket
  // The socket's TCP state (tcp_state.hpp); nullopt + why without a socket or privilege.
  std::optional<SeqBases> tcp_seq_bases(std::string& why) const;
  // Output queued in this process: not yet handed to the socket, or handed but unwritten.
  // (inflight_done_ keeps the last write's size once tx_inflight_ is emptied.)
  size_t queued_bytes() const {
    return tx_pending_.size() + (tx_inflight_.empty() ? 0 : tx_inflight_.size() - inflight_done_);
  }
  std::optional<TcpQueues> tcp_queues(std::string& why) const;
  // The outbound bytes the peer has not acknowledged (the kernel's send queue and what
  // is still to be written), from `start` to outbound_offset(): for a standby's bulk
  // sync. Only with Speaker::keep_unacked_output; start > the peer's acknowledged
  // offset when the tail was cut at its limit. nullopt + why without a socket.
  struct Unacked {
    uint64_t start = 0;
    std::vector<uint8_t> bytes;
  };
  std::optional<Unacked> unacked_output(std::string& why);
  size_t unacked_output_kept_bytes() const { return sent_tail_.size(); }  // memory report
  std::optional<TcpInfo> tcp_info(std::string& why) const;
  std::optional<uint32_t> tcp_tsval(std::string& why) const;
  bool set_window_clamp(uint32_t bytes, std::string& why);
  bool set_receive_buffer(uint32_t bytes, std::string& why);
  std::optional<uint32_t> receive_buffer(std::string& why) const;

  fsm::State state() const { return fsm_.state(); }
  bool outgoing() const { return outgoing_; }
  bool closed() const { return closed_; }
  uint64_t id() const { return id_; }
  const fsm::Fsm& fsm() const { return fsm_; }
  std::optional<Endpoints> endpoints() const;
  std::string describe() const;  // "outgoing 192.0.2.1:40000->192.0.2.2:179"

 private:
  void apply(fsm::Action& action);
  void do_connect();
  void on_connected();
  void do_read();
  void queue_bytes(std::span<const uint8_t> bytes);
  void maybe_write();
  void write_some();
  void keep_sent(uint64_t offset, std::span<const uint8_t> bytes);
  void after_write(const boost::system::error_code& e);
  void shadow_write();
  void arm_send_hold();
  void finish_disconnect();
  void arm_timer(fsm::Timer t, uint32_t seconds);
  void cancel_timer(fsm::Timer t);

  asio::io_context& io_;
  Peer& peer_;
  fsm::Fsm fsm_;
  bool outgoing_;
  SessionTap* tap_;
  uint64_t id_;
  std::optional<tcp::socket> socket_;
  std::array<std::unique_ptr<asio::steady_timer>, 5> timers_;
  std::array<uint64_t, 5> timer_gen_{};
  std::unique_ptr<asio::steady_timer> flush_timer_;
  std::unique_ptr<asio::steady_timer> send_hold_timer_;  // RFC 9687, while a write is pending
  uint64_t write_gen_ = 0;  // bumped per write start and completion: stale send-hold expiries
  std::vector<uint8_t> rx_buf_;
  std::vector<uint8_t> tx_pending_;   // queued, not yet handed to the socket
  std::vector<uint8_t> tx_inflight_;  // being written (write_some), from inflight_done_ on
  SentTail sent_tail_;                // tapped and not known to be acknowledged (keep_unacked_output)
  size_t sent_tail_trim_at_ = 0;      // its size at which to ask the kernel what was acknowledged
  size_t inflight_done_ = 0;
  bool writing_ = false;
  bool disconnect_after_write_ = false;
  bool closed_ = false;
  uint64_t feed_gen_ = 0;  // bumped per feed(): a nested feed ends the outer batch
  uint64_t rx_offset_ = 0, tx_offset_ = 0;
  uint64_t sock_gen_ = 0;  // bumped per socket; stale Asio handlers compare it
  std::optional<Endpoints> endpoints_;
  bool read_paused_ = false;   // at the tap's inbound limit
  bool write_paused_ = false;  // at the tap's outbound limit
  bool shadow_ = false;
  ShadowSink shadow_sink_;
  bool shadow_pull_posted_ = false;
};

}  // namespace tandem::session
