// Live capture for CaptureService: a session tap and speaker observer on the event loop
// that cuts each connection's byte streams into BGP messages (with stream offsets and,
// when the kernel tells, TCP sequence numbers), notes the session's state with each,
// and fans the records out to subscribers (gRPC threads).
//
// Never blocks or slows a session: each subscriber has a bounded queue (records and
// bytes); what does not fit is dropped and counted, and the count reaches the client
// before the next record (or on its own when the queue is empty). While nobody
// captures, the tap does nothing per byte (one atomic load); it only notes each
// connection's endpoints when it opens and follows its FSM state per transition.
// Framing starts at the next message boundary when a subscriber arrives (outbound
// chunks always start at one, inbound ones resume from the FSM's own framing position).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bgpd/capture/stream_framer.hpp"
#include "bgpd/session/speaker.hpp"
#include "replicator/status.hpp"

namespace tandem::api {

struct CaptureFilter {
  std::optional<wire::IpAddr> peer;  // only this peer
  uint32_t types = 0;                // bit (1 << type code) per message type; 0 = every type
  bool wants_peer(const wire::IpAddr& p) const { return !peer || *peer == p; }
  bool wants_type(uint8_t type) const { return types == 0 || (type < 32 && ((types >> type) & 1u) != 0); }
};

// The state of a session when a message was handled; shared by the records made while
// it did not change. Received messages: the state when the bytes holding them were read,
// before the FSM handled them (messages read in one chunk share it). Sent messages: the
// state they were produced in, before the transition they go with.
struct SessionSnapshot {
  fsm::State state = fsm::State::Idle;
  bool outgoing = false;
  std::optional<fsm::Negotiated> negotiated;
  session::GrHelperState gr_state = session::GrHelperState::None;
  std::vector<wire::Family> gr_stale_families;
  std::string repl_role;  // "" without replication
  std::string repl_sync;
};

struct CaptureItem {
  enum class Kind : uint8_t { Message, StateChange, Connection };
  Kind kind = Kind::Message;
  int64_t time_unix_nanos = 0;
  wire::IpAddr peer;
  uint64_t connection_id = 0;
  session::Endpoints endpoints;
  // Message
  session::Direction direction = session::Direction::Inbound;
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;  // the whole message
  bool seq_known = false, ack_known = false;
  uint32_t seq = 0, ack = 0;
  std::shared_ptr<const std::string> seq_unknown;  // why, when !seq_known
  std::shared_ptr<const SessionSnapshot> session;
  // StateChange
  fsm::State from = fsm::State::Idle, to = fsm::State::Idle;
  std::string reason;
  // Connection
  bool opened = false;
};

class CaptureSubscription {
 public:
  CaptureSubscription(CaptureFilter filter, size_t max_items, size_t max_bytes)
      : filter_(std::move(filter)), max_items_(max_items), max_bytes_(max_bytes) {}

  // ---- consumer (gRPC thread) ----
  enum class Next { Item, Dropped, Timeout, Closed };
  // Item: `item` and, in `dropped`, the records dropped just before it (0 if none).
  // Dropped: nothing queued but records were dropped (`dropped`). Timeout: nothing
  // within `wait`. Closed: the hub closed and everything was taken.
  Next next(std::shared_ptr<const CaptureItem>& item, uint64_t& dropped, std::chrono::milliseconds wait);
  uint64_t dropped_total() const;

  // ---- producer (event loop) ----
  const CaptureFilter& filter() const { return filter_; }
  void push(const std::shared_ptr<const CaptureItem>& item);
  void close();

 private:
  struct Queued {
    std::shared_ptr<const CaptureItem> item;
    uint64_t dropped_before = 0;
    size_t cost = 0;
  };
  const CaptureFilter filter_;
  const size_t max_items_, max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  size_t bytes_ = 0;
  uint64_t dropped_pending_ = 0;  // dropped since the last queued record
  uint64_t dropped_total_ = 0;
  bool closed_ = false;
};

class CaptureHub : public session::SessionTap, public session::SpeakerObserver {
 public:
  static constexpr size_t kDefaultItems = 16384;
  static constexpr size_t kDefaultBytes = 32u << 20;
  using ReplStatusFn = std::function<std::optional<replicator::ReplStatus>()>;

  // `repl`: the replicator's status (called on the event loop, at most once a second
  // while capturing); empty without replication.
  explicit CaptureHub(session::Speaker& speaker, ReplStatusFn repl = {});

  // Any thread.
  std::shared_ptr<CaptureSubscription> subscribe(CaptureFilter filter, size_t max_items = kDefaultItems,
                                                 size_t max_bytes = kDefaultBytes);
  void unsubscribe(const std::shared_ptr<CaptureSubscription>& s);
  void close_all();
  size_t subscribers() const;

  // Event loop thread: SessionTap, SpeakerObserver.
  void on_open(const wire::IpAddr& peer, uint64_t connection_id, const session::Endpoints& ep) override;
  void on_bytes(uint64_t connection_id, session::Direction dir, uint64_t offset,
                std::span<const uint8_t> bytes) override;
  void on_close(uint64_t connection_id) override;
  void on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) override;
  // Connections whose streams are being framed now (0 while nobody captures; tests).
  size_t framing() const;

 private:
  struct Conn {
    Conn(const wire::IpAddr& p, const session::Endpoints& e) : peer(p), endpoints(e) {}
    wire::IpAddr peer;
    session::Endpoints endpoints;
    uint64_t generation = 0;  // the capture generation the framers belong to
    capture::StreamFramer in, out;
    uint64_t rx_end = 0, tx_end = 0;  // stream positions seen (for the acknowledgement numbers)
    // Sequence numbers of stream offset 0, per direction (see read_send_base/read_recv_base).
    std::optional<uint32_t> send_base, recv_base;
    bool seq_failed = false;  // reading them failed (no privilege...): do not try again
    std::shared_ptr<const std::string> seq_unknown;
    // The FSM state as the speaker's observers have been told so far: a message sent
    // while the connection applies the actions of one FSM event is reported in the state
    // it was produced in (a NOTIFICATION in Established, not the Idle it leads to).
    std::optional<fsm::State> observed;
    std::shared_ptr<const SessionSnapshot> snapshot;
    std::chrono::steady_clock::time_point snapshot_at{};
    bool snapshot_stale = true;
  };
  bool any_wants(const wire::IpAddr& peer, int type) const;  // type < 0: not a message
  void publish(const std::shared_ptr<const CaptureItem>& item, int type);
  void begin(Conn& c, session::Connection* conn);
  void sync(uint64_t id, Conn& c, session::Direction dir, uint64_t offset, std::span<const uint8_t> bytes);
  std::optional<session::SeqBases> read_bases(Conn& c, session::Connection& conn);
  void read_send_base(Conn& c, session::Connection& conn, uint64_t chunk_offset);
  void read_recv_base(Conn& c, session::Connection& conn, size_t chunk_size);
  std::shared_ptr<const SessionSnapshot> snapshot(uint64_t id, Conn& c, const session::Connection* conn);
  void message(uint64_t id, Conn& c, session::Direction dir, uint64_t offset, std::span<const uint8_t> msg);
  void refresh_replication();
  void reset_framing();

  session::Speaker& speaker_;
  ReplStatusFn repl_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<CaptureSubscription>> subs_;
  std::atomic<int> active_{0};             // subscribers
  std::atomic<uint64_t> generation_{0};    // bumped when capture starts (0 -> 1 subscriber)
  std::atomic<bool> cleanup_{false};       // the last subscriber left: release the framers
  // Event loop only.
  std::unordered_map<uint64_t, Conn> conns_;
  std::chrono::steady_clock::time_point repl_at_{};
  std::string repl_role_;
  std::map<uint64_t, std::string> repl_sync_;
};

}  // namespace tandem::api
