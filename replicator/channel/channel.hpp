// The replication channel between the two tandemd nodes of a pair: one TCP connection
// carrying tandem.v1.repl.Envelope messages in HMAC-SHA256 frames (frame.hpp) after a
// mutually authenticated handshake (handshake.hpp). Runs on the daemon's io_context
// thread; every handler holds a shared_ptr, so a closed Channel is safe to drop.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "replicator/channel/frame.hpp"
#include "replicator/channel/handshake.hpp"
#include "tandem/v1/replication.pb.h"

namespace tandem::replicator {

namespace asio = boost::asio;
namespace repl = tandem::v1::repl;

// "192.0.2.1:7179", "[2001:db8::1]:7179": an endpoint in logs.
std::string describe_endpoint(const asio::ip::tcp::endpoint& ep);

struct ChannelIdentity {
  std::string node_id;
  repl::Role role = repl::ROLE_UNSPECIFIED;
  uint64_t epoch = 0;
  std::vector<uint8_t> key;  // the pre-shared key (load_key)
  std::string software;      // "tandemd 0.1.0"
  bool startup_query = false;  // Hello.startup_query (replicator/startup_role.cpp)
};

struct ChannelOptions {
  // Nothing received for this long (handshake included) closes the channel; a Keepalive
  // is sent every dead_after / 3 when nothing else was.
  std::chrono::milliseconds dead_after{3000};
  // Send a Keepalive at least this often when idle (0: dead_after / 3). With the pair's
  // heartbeat on, the heartbeat interval: silence on the channel then means something
  // within the heartbeat's detection time (a heartbeat path failure is not a dead node).
  std::chrono::milliseconds keepalive_every{0};
  // on_drained is called after a write completes leaving fewer bytes queued than this.
  size_t low_water = 64 * 1024;
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  struct Handlers {
    std::function<void(const repl::Hello& remote)> on_ready;  // handshake done
    std::function<void(repl::Envelope&& message)> on_message;  // never Hello or Keepalive
    std::function<void(const std::string& why)> on_closed;     // once; after it nothing is called
    std::function<void()> on_drained;  // a write completed, below the low-water mark
    std::function<void(uint64_t nonce)> on_echo;  // the answer to probe(nonce)
  };
  struct Counters {
    uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0, auth_failures = 0;
  };

  // Client side: dials, then handshakes. Server side: wraps an accepted socket. Neither
  // calls a handler before returning (on_closed of a failure is posted).
  static std::shared_ptr<Channel> connect(asio::io_context& io, const asio::ip::tcp::endpoint& remote,
                                          ChannelIdentity identity, Handlers handlers,
                                          ChannelOptions options = {});
  static std::shared_ptr<Channel> accept(asio::ip::tcp::socket socket, ChannelIdentity identity,
                                         Handlers handlers, ChannelOptions options = {});

  // Serialises, frames and queues; everything queued goes out in one async_write.
  // Before the handshake completes the message waits unframed (the session key is not
  // known yet). Ignored once closed.
  void send(const repl::Envelope& m);
  size_t queued_bytes() const;  // for back-pressure by the caller
  // A Keepalive the other node answers at once (on_echo(nonce), nonce != 0), after
  // everything it sent before: a round trip through both processes.
  void probe(uint64_t nonce);
  bool ready() const { return ready_ && !closed_; }
  // The TCP connection was made (something listens there), whether or not the handshake
  // completed after it.
  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  // No callbacks after this except on_closed(why), once (posted). When the channel is
  // ready, a Closing frame goes out first (best effort, after what is queued, within
  // kLingerMs): the other node then knows this was on purpose, not a dead process.
  void close(const std::string& why);
  // The other node's process is gone: the connection ended (FIN or RST from its kernel)
  // without a Closing frame. Meaningful once closed().
  bool peer_vanished() const { return peer_vanished_; }
  // Bytes from the other node waiting in the kernel, not read yet: it was alive lately
  // even if this process did not look (e.g. it was stopped itself).
  size_t bytes_waiting() const;
  std::chrono::steady_clock::time_point last_rx() const { return last_rx_; }
  std::string remote_description() const;  // "10.0.0.2:40000 (node b)"
  Counters counters() const { return counters_; }

  struct Private {};  // make_shared needs a public constructor; this keeps it ours
  Channel(Private, asio::ip::tcp::socket socket, bool client, ChannelIdentity identity, Handlers handlers,
          ChannelOptions options);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

 private:
  void start();  // connected: options, Hello, read loop
  void do_connect(const asio::ip::tcp::endpoint& remote);
  void read();
  void on_bytes(std::span<const uint8_t> bytes);
  bool on_payload(const std::vector<uint8_t>& payload);  // false: closed
  bool on_hello(const repl::Hello& hello);
  void queue_frame(const std::vector<uint8_t>& payload);
  void write();
  void arm_watchdog();
  std::chrono::milliseconds watchdog_tick() const;
  void on_watchdog();
  void refuse(const std::string& why);  // close, logged as a warning
  void shut(const std::string& why);    // close without logging
  void finish_shut();                   // the socket itself, once the Closing frame left
  template <class F>
  void guarded(F&& f);

  asio::ip::tcp::socket socket_;
  asio::steady_timer watchdog_;
  const bool client_;
  ChannelIdentity identity_;
  Handlers handlers_;
  ChannelOptions options_;
  HelloInfo local_hello_;
  repl::Hello remote_hello_;
  bool connected_ = false;
  bool ready_ = false;
  bool closed_ = false;
  bool lingering_ = false;     // closed, the Closing frame still being written
  bool peer_vanished_ = false;
  bool transport_failed_ = false;  // the socket failed or the other side closed: say nothing
  std::string remote_addr_;

  FrameEncoder encoder_;
  FrameDecoder decoder_;
  std::vector<std::vector<uint8_t>> pending_;  // serialised before the handshake completed
  size_t pending_bytes_ = 0;
  std::vector<uint8_t> out_;      // framed, waiting for the write in flight
  std::vector<uint8_t> writing_;  // the write in flight
  bool write_in_flight_ = false;
  std::vector<uint8_t> read_buf_;
  std::chrono::steady_clock::time_point last_rx_, last_tx_;
  Counters counters_;
};

// Accepts replication connections on an endpoint; each becomes a server-side Channel.
class ChannelListener : public std::enable_shared_from_this<ChannelListener> {
 public:
  // Called per accepted connection for the new channel's handlers...
  using HandlersFactory = std::function<Channel::Handlers(const asio::ip::tcp::endpoint& remote)>;
  // ...then with the channel (before any of its handlers can run), for the owner to keep.
  using OnChannel = std::function<void(const std::shared_ptr<Channel>& channel)>;

  // Null (with *error set and logged) when the endpoint cannot be bound.
  static std::shared_ptr<ChannelListener> listen(asio::io_context& io, const asio::ip::tcp::endpoint& local,
                                                 ChannelIdentity identity, HandlersFactory make_handlers,
                                                 OnChannel on_channel = {}, ChannelOptions options = {},
                                                 std::string* error = nullptr);
  asio::ip::tcp::endpoint local_endpoint() const;
  uint64_t accepted() const { return accepted_; }
  void close();

  struct Private {};
  ChannelListener(Private, asio::io_context& io, ChannelIdentity identity, HandlersFactory make_handlers,
                  OnChannel on_channel, ChannelOptions options);

 private:
  void accept();

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  ChannelIdentity identity_;
  HandlersFactory make_handlers_;
  OnChannel on_channel_;
  ChannelOptions options_;
  bool closed_ = false;
  uint64_t accepted_ = 0;
};

}  // namespace tandem::replicator
