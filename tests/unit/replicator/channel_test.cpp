// The replication channel over real loopback TCP: a good pair, wrong key, tampering,
// version and role refusals, garbage, dead peers. No timing assertion is tighter than
// a few seconds.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replicator/channel/channel.hpp"
#include "replicator/channel/key.hpp"

namespace tandem::replicator {
namespace {

using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

const Bytes kKey(32, 0x42);

ChannelIdentity identity(const std::string& node, repl::Role role, const Bytes& key = kKey, uint64_t epoch = 3) {
  return ChannelIdentity{node, role, epoch, key, "tandemd test"};
}

// What one end of a channel saw.
struct Side {
  std::shared_ptr<Channel> ch;
  std::optional<repl::Hello> remote;
  std::vector<repl::Envelope> messages;
  std::optional<std::string> closed;
  int closed_calls = 0;
  int drained = 0;
  std::vector<uint64_t> echoes;
};

Channel::Handlers handlers_for(const std::shared_ptr<Side>& s) {
  Channel::Handlers h;
  h.on_ready = [s](const repl::Hello& hello) { s->remote = hello; };
  h.on_message = [s](repl::Envelope&& m) { s->messages.push_back(std::move(m)); };
  h.on_closed = [s](const std::string& why) {
    s->closed = why;
    ++s->closed_calls;
  };
  h.on_drained = [s] { ++s->drained; };
  h.on_echo = [s](uint64_t nonce) { s->echoes.push_back(nonce); };
  return h;
}

repl::Envelope stream_data(uint64_t offset, std::string data) {
  repl::Envelope e;
  auto* d = e.mutable_stream_data();
  d->set_connection_id(1);
  d->set_offset(offset);
  d->set_data(std::move(data));
  return e;
}

class ReplChannel : public ::testing::Test {
 protected:
  // Runs the loop until pred() or the (generous) deadline; false on timeout.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  // A listener whose accepted channels are recorded in servers_.
  std::shared_ptr<ChannelListener> listen(ChannelIdentity id, ChannelOptions opts = {}) {
    std::string error;
    auto l = ChannelListener::listen(
        io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(id),
        [this](const tcp::endpoint&) {
          servers_.push_back(std::make_shared<Side>());
          return handlers_for(servers_.back());
        },
        [this](const std::shared_ptr<Channel>& ch) { servers_.back()->ch = ch; }, opts, &error);
    EXPECT_TRUE(l) << error;
    return l;
  }

  std::shared_ptr<Side> dial(const tcp::endpoint& to, ChannelIdentity id, ChannelOptions opts = {}) {
    auto s = std::make_shared<Side>();
    s->ch = Channel::connect(io_, to, std::move(id), handlers_for(s), opts);
    clients_.push_back(s);
    return s;
  }

  // A blocking raw TCP client for hand-made bytes (connect completes in the kernel).
  tcp::socket raw_client(const tcp::endpoint& to) {
    tcp::socket s(raw_io_);
    s.connect(to);
    return s;
  }

  // A frame carrying a hand-made Hello under the PSK, as a peer would send it.
  static Bytes hello_frame(const Bytes& key, uint32_t version, repl::Role role) {
    repl::Envelope e;
    auto* h = e.mutable_hello();
    h->set_version(version);
    h->set_node_id("raw");
    h->set_role(role);
    h->set_nonce(std::string(kNonceLen, 'n'));
    const auto bytes = e.SerializeAsString();
    FrameEncoder enc(key, kHelloSeq);
    Bytes out;
    enc.encode(Bytes(bytes.begin(), bytes.end()), out);
    return out;
  }

  // Open channels hold their Side through the handlers: closing ends that cycle.
  void TearDown() override {
    for (auto& v : {&clients_, &servers_}) {
      for (auto& s : *v) {
        if (s->ch) s->ch->close("test over");
      }
    }
    run_for(20ms);
  }

  asio::io_context io_;
  asio::io_context raw_io_;
  std::vector<std::shared_ptr<Side>> servers_;
  std::vector<std::shared_ptr<Side>> clients_;
};

// Forwards both directions between a client and a target; can flip one byte of the
// next client->server chunk, or go silent (drop everything) to simulate a dead peer.
class Proxy : public std::enable_shared_from_this<Proxy> {
 public:
  Proxy(asio::io_context& io, tcp::endpoint target)
      : io_(io), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), target_(target) {}
  void start() {
    acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      auto client = std::make_shared<tcp::socket>(std::move(s));
      auto server = std::make_shared<tcp::socket>(self->io_);
      server->async_connect(self->target_, [self, client, server](const boost::system::error_code& e) {
        if (e) return;
        self->pump(client, server, true);
        self->pump(server, client, false);
      });
    });
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

  bool tamper_next = false;
  bool silent = false;

 private:
  void pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to, bool c2s) {
    auto buf = std::make_shared<Bytes>(65536);
    from->async_read_some(asio::buffer(*buf), [self = shared_from_this(), from, to, c2s, buf](
                                                  const boost::system::error_code& ec, size_t n) {
      if (ec) {
        boost::system::error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      if (self->silent) return self->pump(from, to, c2s);
      if (c2s && self->tamper_next) {
        (*buf)[n / 2] ^= 0x10;
        self->tamper_next = false;
      }
      asio::async_write(*to, asio::buffer(buf->data(), n),
                        [self, from, to, c2s, buf](const boost::system::error_code& e, size_t) {
                          if (!e) self->pump(from, to, c2s);
                        });
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  tcp::endpoint target_;
};

bool contains(const std::optional<std::string>& s, const std::string& what) {
  return s && s->find(what) != std::string::npos;
}

TEST_F(ReplChannel, GoodPairExchangesMessagesBothWays) {
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  auto client = dial(listener->local_endpoint(), identity("a", repl::ROLE_PRIMARY));
  client->ch->send(stream_data(0, "sent before the handshake"));  // waits for the session key
  ASSERT_TRUE(run_until([&] { return client->remote && !servers_.empty() && servers_[0]->remote; }));
  auto server = servers_[0];
  EXPECT_TRUE(client->ch->ready());
  EXPECT_TRUE(server->ch->ready());
  EXPECT_EQ(client->remote->node_id(), "b");
  EXPECT_EQ(client->remote->role(), repl::ROLE_STANDBY);
  EXPECT_EQ(server->remote->node_id(), "a");
  EXPECT_EQ(server->remote->epoch(), 3u);
  EXPECT_EQ(server->remote->software(), "tandemd test");
  EXPECT_NE(client->ch->remote_description().find("127.0.0.1:"), std::string::npos);
  EXPECT_NE(client->ch->remote_description().find("(node b)"), std::string::npos);

  // Many sends in a row are coalesced; a big one crosses many reads.
  for (int i = 1; i <= 100; ++i) client->ch->send(stream_data(static_cast<uint64_t>(i), "x"));
  client->ch->send(stream_data(1000, std::string(3 * 1024 * 1024, 'y')));
  repl::Envelope ack;
  ack.mutable_stream_ack()->set_inbound_offset(42);
  server->ch->send(ack);
  ASSERT_TRUE(run_until([&] { return server->messages.size() == 102 && client->messages.size() == 1; }));
  EXPECT_EQ(server->messages[0].stream_data().data(), "sent before the handshake");
  for (int i = 1; i <= 100; ++i) EXPECT_EQ(server->messages[static_cast<size_t>(i)].stream_data().offset(), uint64_t(i));
  EXPECT_EQ(server->messages[101].stream_data().data().size(), 3u * 1024 * 1024);
  EXPECT_EQ(client->messages[0].stream_ack().inbound_offset(), 42u);
  EXPECT_GT(client->drained, 0);
  EXPECT_EQ(client->ch->queued_bytes(), 0u);

  const auto cc = client->ch->counters();
  const auto sc = server->ch->counters();
  EXPECT_EQ(cc.frames_out, 103u);  // Hello + 102
  EXPECT_EQ(sc.frames_in, 103u);
  EXPECT_EQ(cc.bytes_out, sc.bytes_in);
  EXPECT_EQ(cc.auth_failures + sc.auth_failures, 0u);

  client->ch->close("test over");
  EXPECT_FALSE(client->ch->ready());
  ASSERT_TRUE(run_until([&] { return client->closed && server->closed; }));
  EXPECT_EQ(*client->closed, "test over");
  // A close on purpose says so first: the other side knows the process is alive.
  EXPECT_EQ(*server->closed, "the other node closed the channel: test over");
  EXPECT_FALSE(server->ch->peer_vanished());
  run_for(50ms);
  EXPECT_EQ(client->closed_calls, 1);
  EXPECT_EQ(server->closed_calls, 1);
  client->ch->send(ack);  // ignored once closed
}

// A probe is answered by the other side's channel itself, after what that side sent
// before it (in order: a TakeoverNotice sent first is read first), and reaches neither
// side's on_message.
TEST_F(ReplChannel, ProbeIsAnsweredAfterWhatTheOtherSideSentBefore) {
  auto listener = listen(identity("a", repl::ROLE_PRIMARY));
  auto standby = dial(listener->local_endpoint(), identity("b", repl::ROLE_STANDBY));
  ASSERT_TRUE(run_until([&] { return standby->remote && !servers_.empty() && servers_[0]->remote; }));
  auto primary = servers_[0];
  repl::Envelope notice;
  notice.mutable_takeover_notice()->set_term(4);
  standby->ch->send(notice);
  primary->ch->probe(7);
  ASSERT_TRUE(run_until([&] { return !primary->echoes.empty(); }));
  EXPECT_EQ(primary->echoes, std::vector<uint64_t>{7});
  ASSERT_EQ(primary->messages.size(), 1u);
  EXPECT_EQ(primary->messages[0].takeover_notice().term(), 4u);
  EXPECT_TRUE(standby->messages.empty());
  EXPECT_TRUE(standby->echoes.empty());
  // Either side may probe.
  standby->ch->probe(8);
  ASSERT_TRUE(run_until([&] { return !standby->echoes.empty(); }));
  EXPECT_EQ(standby->echoes, std::vector<uint64_t>{8});
  EXPECT_EQ(primary->echoes.size(), 1u);
}

TEST_F(ReplChannel, WrongKeyClosesBothSidesWithAuthenticationReason) {
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  auto client = dial(listener->local_endpoint(), identity("a", repl::ROLE_PRIMARY, Bytes(32, 0x43)));
  ASSERT_TRUE(run_until([&] { return client->closed && !servers_.empty() && servers_[0]->closed; }));
  EXPECT_TRUE(contains(client->closed, "authentication")) << *client->closed;
  EXPECT_TRUE(contains(servers_[0]->closed, "authentication")) << *servers_[0]->closed;
  EXPECT_FALSE(client->remote);
  EXPECT_FALSE(servers_[0]->remote);
  EXPECT_EQ(servers_[0]->ch->counters().auth_failures, 1u);
}

TEST_F(ReplChannel, TamperedByteMidStreamCloses) {
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  auto proxy = std::make_shared<Proxy>(io_, listener->local_endpoint());
  proxy->start();
  auto client = dial(proxy->endpoint(), identity("a", repl::ROLE_PRIMARY));
  ASSERT_TRUE(run_until([&] { return client->remote && !servers_.empty() && servers_[0]->remote; }));
  client->ch->send(stream_data(0, "intact"));
  ASSERT_TRUE(run_until([&] { return servers_[0]->messages.size() == 1; }));
  proxy->tamper_next = true;
  client->ch->send(stream_data(6, std::string(200, 'z')));
  ASSERT_TRUE(run_until([&] { return servers_[0]->closed && client->closed; }));
  EXPECT_TRUE(contains(servers_[0]->closed, "authentication failed: bad MAC on frame 2")) << *servers_[0]->closed;
  EXPECT_EQ(servers_[0]->messages.size(), 1u);  // the tampered message never surfaced
  EXPECT_EQ(servers_[0]->ch->counters().auth_failures, 1u);
}

TEST_F(ReplChannel, VersionMismatchRefused) {
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  auto raw = raw_client(listener->local_endpoint());
  asio::write(raw, asio::buffer(hello_frame(kKey, kProtocolVersion + 1, repl::ROLE_PRIMARY)));
  ASSERT_TRUE(run_until([&] { return !servers_.empty() && servers_[0]->closed; }));
  EXPECT_TRUE(contains(servers_[0]->closed, "VERSION")) << *servers_[0]->closed;
  EXPECT_TRUE(contains(servers_[0]->closed, "version mismatch")) << *servers_[0]->closed;
}

TEST_F(ReplChannel, TwoPrimariesRefusedWithRole) {
  auto listener = listen(identity("b", repl::ROLE_PRIMARY));
  auto client = dial(listener->local_endpoint(), identity("a", repl::ROLE_PRIMARY));
  ASSERT_TRUE(run_until([&] { return client->closed && !servers_.empty() && servers_[0]->closed; }));
  EXPECT_TRUE(contains(client->closed, "ROLE")) << *client->closed;
  EXPECT_TRUE(contains(servers_[0]->closed, "ROLE")) << *servers_[0]->closed;
  EXPECT_FALSE(client->remote);  // on_ready never called
}

TEST_F(ReplChannel, MessageThatDoesNotParseIsRefused) {
  // A frame with a valid MAC (the sender has the key) but not an Envelope.
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  auto raw = raw_client(listener->local_endpoint());
  FrameEncoder enc(kKey, kHelloSeq);
  Bytes out;
  enc.encode(Bytes{0xFF, 0xFF, 0xFF}, out);
  asio::write(raw, asio::buffer(out));
  ASSERT_TRUE(run_until([&] { return !servers_.empty() && servers_[0]->closed; }));
  EXPECT_TRUE(contains(servers_[0]->closed, "does not parse")) << *servers_[0]->closed;
}

TEST_F(ReplChannel, GarbageClientClosedAndListenerKeepsServing) {
  auto listener = listen(identity("b", repl::ROLE_STANDBY));
  // An HTTP request: its "length" is far above the Hello limit.
  auto http = raw_client(listener->local_endpoint());
  asio::write(http, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_TRUE(run_until([&] { return servers_.size() == 1 && servers_[0]->closed; }));
  EXPECT_TRUE(contains(servers_[0]->closed, "refused before the Hello")) << *servers_[0]->closed;
  // A small frame with a made-up MAC.
  auto forged = raw_client(listener->local_endpoint());
  Bytes f{0, 0, 0, 2, 8, 1};
  f.resize(f.size() + kFrameMacLen, 0xEE);
  asio::write(forged, asio::buffer(f));
  ASSERT_TRUE(run_until([&] { return servers_.size() == 2 && servers_[1]->closed; }));
  EXPECT_TRUE(contains(servers_[1]->closed, "authentication")) << *servers_[1]->closed;

  // The raw client sees the server's Hello, then the end of the connection.
  Bytes sink(4096);
  boost::system::error_code ec;
  while (!ec) http.read_some(asio::buffer(sink), ec);

  auto good = dial(listener->local_endpoint(), identity("a", repl::ROLE_PRIMARY));
  ASSERT_TRUE(run_until([&] { return good->remote.has_value(); }));
  EXPECT_EQ(listener->accepted(), 3u);
}

TEST_F(ReplChannel, SilentClientTimesOutTheHandshake) {
  ChannelOptions opts;
  opts.dead_after = 200ms;
  auto listener = listen(identity("b", repl::ROLE_STANDBY), opts);
  auto raw = raw_client(listener->local_endpoint());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return !servers_.empty() && servers_[0]->closed; }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(contains(servers_[0]->closed, "handshake timed out")) << *servers_[0]->closed;
}

TEST_F(ReplChannel, KeepalivesHoldAnIdleChannelAndADeadPeerIsDetected) {
  ChannelOptions opts;
  // Long enough that a loaded 2-core CI machine does not stall past it (seen at 600 ms).
  opts.dead_after = 1200ms;
  auto listener = listen(identity("b", repl::ROLE_STANDBY), opts);
  auto proxy = std::make_shared<Proxy>(io_, listener->local_endpoint());
  proxy->start();
  auto client = dial(proxy->endpoint(), identity("a", repl::ROLE_PRIMARY), opts);
  ASSERT_TRUE(run_until([&] { return client->remote && !servers_.empty() && servers_[0]->remote; }));
  // Idle for 2.5 x dead_after: the Keepalives (not surfaced as messages) keep it up.
  run_for(3000ms);
  EXPECT_FALSE(client->closed) << *client->closed;
  EXPECT_FALSE(servers_[0]->closed) << *servers_[0]->closed;
  EXPECT_TRUE(client->messages.empty());
  EXPECT_GT(servers_[0]->ch->counters().frames_in, 1u);
  // The path goes silent (peer hung, cable cut): both ends give up on their own.
  proxy->silent = true;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return client->closed && servers_[0]->closed; }, 6000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // The first end to time out closes its side; the proxy then passes that close on, so
  // the other end may learn it that way rather than from its own timer.
  EXPECT_TRUE(contains(client->closed, "peer dead") || contains(servers_[0]->closed, "peer dead"))
      << *client->closed << " / " << *servers_[0]->closed;
  for (const auto* c : {&client->closed, &servers_[0]->closed})
    EXPECT_TRUE(contains(*c, "peer dead") || contains(*c, "peer closed")) << **c;
}

TEST_F(ReplChannel, ConnectFailureReportsClosed) {
  // A port nobody listens on: bind one, close it, dial it.
  tcp::endpoint dead;
  {
    tcp::acceptor a(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead = a.local_endpoint();
  }
  auto client = dial(dead, identity("a", repl::ROLE_PRIMARY));
  ASSERT_TRUE(run_until([&] { return client->closed.has_value(); }));
  EXPECT_TRUE(contains(client->closed, "connect failed")) << *client->closed;
}

TEST_F(ReplChannel, ListenerBindErrorIsReportedNotThrown) {
  auto first = listen(identity("b", repl::ROLE_STANDBY));
  std::string error;
  auto second = ChannelListener::listen(io_, first->local_endpoint(), identity("b", repl::ROLE_STANDBY), {}, {}, {},
                                        &error);
  EXPECT_FALSE(second);
  EXPECT_NE(error.find("bind"), std::string::npos) << error;
}

}  // namespace
}  // namespace tandem::replicator
