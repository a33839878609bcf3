#include "replicator/channel/channel.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <exception>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "replicator/channel/key.hpp"

namespace tandem::replicator {

static_assert(static_cast<int>(NodeRole::Primary) == repl::ROLE_PRIMARY);
static_assert(static_cast<int>(NodeRole::Standby) == repl::ROLE_STANDBY);
static_assert(static_cast<int>(HandshakeErrorCode::Version) == repl::Error::CODE_VERSION);
static_assert(static_cast<int>(HandshakeErrorCode::Role) == repl::Error::CODE_ROLE);
static_assert(static_cast<int>(HandshakeErrorCode::Protocol) == repl::Error::CODE_PROTOCOL);

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kLingerMs = 200;  // how long a closing channel tries to deliver its Closing frame

HelloInfo to_info(const repl::Hello& h) {
  HelloInfo i;
  i.version = h.version();
  i.node_id = h.node_id();
  i.role = static_cast<NodeRole>(static_cast<int>(h.role()));
  i.epoch = h.epoch();
  i.nonce.assign(h.nonce().begin(), h.nonce().end());
  i.software = h.software();
  return i;
}

uint64_t realtime_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::string describe_endpoint(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port()) : fmt::format("{}:{}", a.to_string(), ep.port());
}

// ---- creation --------------------------------------------------------------------

Channel::Channel(Private, asio::ip::tcp::socket socket, bool client, ChannelIdentity identity, Handlers handlers,
                 ChannelOptions options)
    : socket_(std::move(socket)),
      watchdog_(socket_.get_executor()),
      client_(client),
      identity_(std::move(identity)),
      handlers_(std::move(handlers)),
      options_(options),
      read_buf_(kReadChunk) {
  local_hello_.version = kProtocolVersion;
  local_hello_.node_id = identity_.node_id;
  local_hello_.role = static_cast<NodeRole>(static_cast<int>(identity_.role));
  local_hello_.epoch = identity_.epoch;
  local_hello_.nonce = random_bytes(kNonceLen);
  local_hello_.software = identity_.software;
  // The Hello travels under the PSK at sequence 0, in both directions.
  encoder_ = FrameEncoder(identity_.key, kHelloSeq);
  decoder_ = FrameDecoder(identity_.key, kHelloSeq, kMaxHelloPayload);
  last_rx_ = last_tx_ = std::chrono::steady_clock::now();
}

Channel::~Channel() {
  boost::system::error_code ec;
  socket_.close(ec);  // nothing to report: no callbacks from a destructor
}

std::shared_ptr<Channel> Channel::connect(asio::io_context& io, const asio::ip::tcp::endpoint& remote,
                                          ChannelIdentity identity, Handlers handlers, ChannelOptions options) {
  auto ch = std::make_shared<Channel>(Private{}, asio::ip::tcp::socket(io), true, std::move(identity),
                                      std::move(handlers), options);
  ch->remote_addr_ = describe_endpoint(remote);
  ch->arm_watchdog();  // also bounds the dial
  ch->do_connect(remote);
  return ch;
}

std::shared_ptr<Channel> Channel::accept(asio::ip::tcp::socket socket, ChannelIdentity identity, Handlers handlers,
                                         ChannelOptions options) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  auto ch = std::make_shared<Channel>(Private{}, std::move(socket), false, std::move(identity),
                                      std::move(handlers), options);
  ch->remote_addr_ = ec ? std::string("(unknown peer)") : describe_endpoint(remote);
  ch->arm_watchdog();
  ch->start();
  return ch;
}

void Channel::do_connect(const asio::ip::tcp::endpoint& remote) {
  socket_.async_connect(remote, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->guarded([&] {
      if (self->closed_) return;
      if (ec) {
        self->close("connect failed: " + ec.message());
        return;
      }
      self->start();
    });
  });
}

template <class F>
void Channel::guarded(F&& f) {
  // A Channel never throws out of an Asio handler (a user handler or bad_alloc may).
  try {
    f();
  } catch (const std::exception& e) {
    refuse(std::string("internal error: ") + e.what());
  } catch (...) {
    refuse("internal error: unknown exception");
  }
}

void Channel::start() {
  connected_ = true;
  boost::system::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec) spdlog::debug("replication channel {}: TCP_NODELAY: {}", remote_addr_, ec.message());
  repl::Envelope env;
  auto* h = env.mutable_hello();
  h->set_version(local_hello_.version);
  h->set_node_id(local_hello_.node_id);
  h->set_role(identity_.role);
  h->set_epoch(local_hello_.epoch);
  h->set_nonce(std::string(local_hello_.nonce.begin(), local_hello_.nonce.end()));
  h->set_software(local_hello_.software);
  h->set_startup_query(identity_.startup_query);
  const std::string bytes = env.SerializeAsString();
  queue_frame(std::vector<uint8_t>(bytes.begin(), bytes.end()));
  write();
  read();
}

// ---- receiving -------------------------------------------------------------------

void Channel::read() {
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                            self->guarded([&] {
                              if (self->closed_) return;
                              if (ec) {
                                const bool gone = ec == asio::error::eof || ec == asio::error::connection_reset;
                                // No Closing frame came before it: the other process ended.
                                if (gone && self->ready_) self->peer_vanished_ = true;
                                self->transport_failed_ = true;
                                self->close(ec == asio::error::eof ? std::string("peer closed the connection")
                                                                   : "read failed: " + ec.message());
                                return;
                              }
                              self->on_bytes(std::span<const uint8_t>(self->read_buf_.data(), n));
                              if (!self->closed_) self->read();
                            });
                          });
}

void Channel::on_bytes(std::span<const uint8_t> bytes) {
  last_rx_ = std::chrono::steady_clock::now();
  counters_.bytes_in += bytes.size();
  decoder_.feed(bytes);
  while (!closed_) {
    FrameResult r = decoder_.next();
    if (r.need_more()) return;
    if (r.failed()) {
      if (r.error == FrameError::BadMac) ++counters_.auth_failures;
      if (!ready_) {
        refuse(r.error == FrameError::BadMac
                   ? "authentication failed: bad MAC on the Hello (wrong key, or not a tandem peer)"
                   : "refused before the Hello: " + r.reason + " (not a tandem peer?)");
      } else {
        refuse(r.reason);
      }
      return;
    }
    ++counters_.frames_in;
    if (!on_payload(r.payload)) return;
  }
}

bool Channel::on_payload(const std::vector<uint8_t>& payload) {
  repl::Envelope env;
  if (!env.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    refuse(fmt::format("protocol error: frame {} does not parse as an Envelope", decoder_.next_seq() - 1));
    return false;
  }
  if (!ready_) {
    if (!env.has_hello()) {
      refuse(fmt::format("protocol error: expected Hello, got body {}", static_cast<int>(env.body_case())));
      return false;
    }
    return on_hello(env.hello());
  }
  switch (env.body_case()) {
    case repl::Envelope::kHello: refuse("protocol error: second Hello"); return false;
    case repl::Envelope::kKeepalive: {  // there to keep the channel alive, and for probes
      const repl::Keepalive& ka = env.keepalive();
      if (ka.echo_request() != 0) {
        repl::Envelope answer;
        answer.mutable_keepalive()->set_time_us(realtime_us());
        answer.mutable_keepalive()->set_echo_reply(ka.echo_request());
        send(answer);
      }
      if (ka.echo_reply() != 0 && handlers_.on_echo) handlers_.on_echo(ka.echo_reply());
      return !closed_;
    }
    case repl::Envelope::kClosing:
      spdlog::info("replication channel {}: the other node closes it: {}", remote_description(),
                   env.closing().reason());
      transport_failed_ = true;  // nothing more to say to it
      shut("the other node closed the channel: " + env.closing().reason());
      return false;
    case repl::Envelope::kError:
      spdlog::warn("replication channel {}: peer reports error {}: {}", remote_description(),
                   repl::Error::Code_Name(env.error().code()), env.error().message());
      break;
    default: break;
  }
  if (handlers_.on_message) handlers_.on_message(std::move(env));
  return !closed_;
}

bool Channel::on_hello(const repl::Hello& hello) {
  remote_hello_ = hello;
  auto outcome = complete_handshake(identity_.key, client_, local_hello_, to_info(hello));
  if (auto* err = std::get_if<HandshakeError>(&outcome)) {
    const char* what = err->code == HandshakeErrorCode::Role      ? "ROLE"
                       : err->code == HandshakeErrorCode::Version ? "VERSION"
                                                                  : "PROTOCOL";
    refuse(fmt::format("handshake refused ({}): {}", what, err->message));
    return false;
  }
  auto& keys = std::get<SessionKeys>(outcome);
  encoder_.rekey(std::move(keys.send), kFirstSessionSeq);
  decoder_.rekey(std::move(keys.recv), kFirstSessionSeq);
  decoder_.set_max_payload(kMaxFramePayload);
  ready_ = true;
  spdlog::info("replication channel {}: ready (peer {} {}, epoch {}, {})", remote_description(),
               to_string(static_cast<NodeRole>(static_cast<int>(hello.role()))), hello.node_id(), hello.epoch(),
               hello.software());
  for (const auto& p : pending_) queue_frame(p);
  pending_.clear();
  pending_bytes_ = 0;
  write();
  if (handlers_.on_ready) handlers_.on_ready(remote_hello_);
  return !closed_;
}

// ---- sending ---------------------------------------------------------------------

void Channel::probe(uint64_t nonce) {
  repl::Envelope e;
  e.mutable_keepalive()->set_time_us(realtime_us());
  e.mutable_keepalive()->set_echo_request(nonce);
  send(e);
}

void Channel::send(const repl::Envelope& m) {
  if (closed_) return;
  const size_t size = m.ByteSizeLong();
  if (size > kMaxFramePayload) {
    // Dropping it would silently desynchronise the peer's state.
    refuse(fmt::format("cannot send a {}-byte message (frame limit {})", size, kMaxFramePayload));
    return;
  }
  std::vector<uint8_t> payload(size);
  if (size > 0 && !m.SerializeToArray(payload.data(), static_cast<int>(size))) {
    refuse("cannot serialise a message");
    return;
  }
  if (!ready_) {
    pending_bytes_ += payload.size();
    pending_.push_back(std::move(payload));
    return;
  }
  queue_frame(payload);
  write();
}

void Channel::queue_frame(const std::vector<uint8_t>& payload) {
  encoder_.encode(payload, out_);  // size checked by send(); a Hello is small
  ++counters_.frames_out;
  last_tx_ = std::chrono::steady_clock::now();
}

size_t Channel::queued_bytes() const { return pending_bytes_ + out_.size() + writing_.size(); }

void Channel::write() {
  if (closed_ || !connected_ || write_in_flight_ || out_.empty()) return;
  writing_.swap(out_);  // coalesce: everything queued so far goes out in one write
  out_.clear();
  write_in_flight_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->guarded([&] {
                        self->write_in_flight_ = false;
                        if (self->closed_) return self->finish_shut();
                        if (ec) {
                          self->transport_failed_ = true;
                          self->close("write failed: " + ec.message());
                          return;
                        }
                        self->counters_.bytes_out += n;
                        self->writing_.clear();
                        self->write();
                        if (self->ready_ && self->queued_bytes() < self->options_.low_water &&
                            self->handlers_.on_drained) {
                          self->handlers_.on_drained();
                        }
                      });
                    });
}

// ---- liveness --------------------------------------------------------------------

void Channel::arm_watchdog() {
  const auto tick = watchdog_tick();
  watchdog_.expires_after(tick);
  watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    self->guarded([&] { self->on_watchdog(); });
  });
}

std::chrono::milliseconds Channel::watchdog_tick() const {
  auto tick = options_.dead_after / 3;
  if (options_.keepalive_every.count() > 0) tick = std::min(tick, options_.keepalive_every);
  return std::max(tick, std::chrono::milliseconds(1));
}

size_t Channel::bytes_waiting() const {
  boost::system::error_code ec;
  const size_t n = const_cast<asio::ip::tcp::socket&>(socket_).available(ec);
  return ec ? 0 : n;
}

void Channel::on_watchdog() {
  const auto now = std::chrono::steady_clock::now();
  const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_rx_);
  // Frames waiting unread mean the other node is alive and this process was not
  // running (stopped, starved): read them before judging.
  if (silent >= options_.dead_after && connected_ && bytes_waiting() > 0) last_rx_ = now;
  else if (silent >= options_.dead_after) {
    refuse(!connected_ ? fmt::format("connect timed out after {} ms", silent.count())
           : !ready_   ? fmt::format("handshake timed out: no Hello within {} ms", silent.count())
                       : fmt::format("peer dead: nothing received for {} ms", silent.count()));
    return;
  }
  // Half a tick of slack: a Keepalive goes out on every tick when idle, not every other.
  const auto tick = watchdog_tick();
  if (ready_ && !write_in_flight_ && out_.empty() && now - last_tx_ >= tick / 2) {
    repl::Envelope ka;
    ka.mutable_keepalive()->set_time_us(realtime_us());
    send(ka);
  }
  if (!closed_) arm_watchdog();
}

// ---- closing ---------------------------------------------------------------------

void Channel::refuse(const std::string& why) {
  if (closed_) return;
  spdlog::warn("replication channel {}: closing: {}", remote_description(), why);
  shut(why);
}

void Channel::close(const std::string& why) {
  if (closed_) return;
  spdlog::info("replication channel {}: closed: {}", remote_description(), why);
  shut(why);
}

void Channel::shut(const std::string& why) {
  const bool say_closing = ready_ && connected_ && !transport_failed_;
  closed_ = true;
  watchdog_.cancel();
  if (say_closing) {
    repl::Envelope e;
    e.mutable_closing()->set_reason(why);
    const std::string bytes = e.SerializeAsString();
    queue_frame(std::vector<uint8_t>(bytes.begin(), bytes.end()));
    lingering_ = true;
    if (!write_in_flight_) {
      write_in_flight_ = true;  // write() refuses once closed: this last one is ours
      writing_.swap(out_);
      out_.clear();
      asio::async_write(socket_, asio::buffer(writing_),
                        [self = shared_from_this()](const boost::system::error_code&, size_t) {
                          self->write_in_flight_ = false;
                          self->finish_shut();
                        });
    }
    // Never wait long for a slow reader.
    watchdog_.expires_after(std::chrono::milliseconds(kLingerMs));
    watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code& e2) {
      if (!e2) self->finish_shut();
    });
  } else {
    finish_shut();
  }
  pending_.clear();
  pending_bytes_ = 0;
  // Posted, so that close() never re-enters the caller; the handlers die with it (they
  // often hold this channel: that cycle ends here).
  auto on_closed = std::move(handlers_.on_closed);
  handlers_ = Handlers{};
  asio::post(socket_.get_executor(), [self = shared_from_this(), on_closed = std::move(on_closed), why]() {
    try {
      if (on_closed) on_closed(why);
    } catch (const std::exception& e) {
      spdlog::error("replication channel {}: on_closed threw: {}", self->remote_description(), e.what());
    } catch (...) {
      spdlog::error("replication channel {}: on_closed threw", self->remote_description());
    }
  });
}

void Channel::finish_shut() {
  if (!socket_.is_open()) return;
  if (lingering_ && write_in_flight_) return;  // its completion comes back here
  if (lingering_ && !out_.empty()) {
    // The write in flight at close() ended; the Closing frame is still queued.
    write_in_flight_ = true;
    writing_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(writing_), [self = shared_from_this()](const boost::system::error_code&, size_t) {
      self->write_in_flight_ = false;
      self->finish_shut();
    });
    return;
  }
  lingering_ = false;
  boost::system::error_code ec;
  watchdog_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string Channel::remote_description() const {
  if (remote_hello_.node_id().empty()) return remote_addr_;
  return fmt::format("{} (node {})", remote_addr_, remote_hello_.node_id());
}

// ---- listener --------------------------------------------------------------------

ChannelListener::ChannelListener(Private, asio::io_context& io, ChannelIdentity identity,
                                 HandlersFactory make_handlers, OnChannel on_channel, ChannelOptions options)
    : acceptor_(io),
      retry_(io),
      identity_(std::move(identity)),
      make_handlers_(std::move(make_handlers)),
      on_channel_(std::move(on_channel)),
      options_(options) {}

std::shared_ptr<ChannelListener> ChannelListener::listen(asio::io_context& io, const asio::ip::tcp::endpoint& local,
                                                         ChannelIdentity identity, HandlersFactory make_handlers,
                                                         OnChannel on_channel, ChannelOptions options,
                                                         std::string* error) {
  auto l = std::make_shared<ChannelListener>(Private{}, io, std::move(identity), std::move(make_handlers),
                                             std::move(on_channel), options);
  boost::system::error_code ec;
  const char* step = "open";
  l->acceptor_.open(local.protocol(), ec);
  if (!ec) {
    step = "set SO_REUSEADDR on";
    l->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    step = "bind";
    l->acceptor_.bind(local, ec);
  }
  if (!ec) {
    step = "listen on";
    l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    const std::string why = fmt::format("replication listener: cannot {} {}: {}", step, describe_endpoint(local), ec.message());
    spdlog::error("{}", why);
    if (error) *error = why;
    return nullptr;
  }
  l->accept();
  return l;
}

asio::ip::tcp::endpoint ChannelListener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void ChannelListener::close() {
  closed_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void ChannelListener::accept() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     asio::ip::tcp::socket socket) {
    if (self->closed_) return;
    if (ec) {
      // EMFILE and friends: wait a little instead of spinning on the error.
      spdlog::warn("replication listener: accept failed: {}", ec.message());
      self->retry_.expires_after(std::chrono::milliseconds(100));
      self->retry_.async_wait([self](const boost::system::error_code& e) {
        if (!e) self->accept();
      });
      return;
    }
    ++self->accepted_;
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    try {
      auto handlers = self->make_handlers_ ? self->make_handlers_(remote) : Channel::Handlers{};
      auto ch = Channel::accept(std::move(socket), self->identity_, std::move(handlers), self->options_);
      if (self->on_channel_) self->on_channel_(ch);
    } catch (const std::exception& e) {
      spdlog::error("replication listener: connection from {}: {}", rec ? "?" : describe_endpoint(remote), e.what());
    }
    self->accept();
  });
}

}  // namespace tandem::replicator
