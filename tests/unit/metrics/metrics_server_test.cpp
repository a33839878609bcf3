// MetricsServer over real sockets on 127.0.0.1 (ephemeral port): a Speaker with one
// passive peer and no listeners, the io_context on its own thread (as in tandemd, the
// only thread that touches the speaker), and a synchronous Beast client.

// GCC 12 with -O2 and sanitizers reports false -Wmaybe-uninitialized positives inside
// Boost 1.74's Beast parser and libstdc++'s <regex> as instantiated here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "apps/tandemd/metrics.hpp"

#include "tests/unit/private_netns.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <ctime>
#include <future>
#include <regex>
#include <thread>

namespace tandem::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

config::Config passive_peer_config() {
  config::Config c;
  c.file = "test";
  c.router_id = wire::IpAddr::parse("192.0.2.1")->v4_host_order();
  c.local_as = 65001;
  // No listeners: nothing binds port 179.
  config::PeerConfig p;
  p.address = *wire::IpAddr::parse("192.0.2.2");
  p.remote_as = 65002;
  p.description = "passive \"test\" peer";
  p.passive = true;
  c.peers.push_back(p);
  return c;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    speaker_ = std::make_unique<session::Speaker>(io_, passive_peer_config());
    std::string err;
    ASSERT_TRUE(speaker_->start(err)) << err;
    server_ = std::make_unique<MetricsServer>(io_, *speaker_, "127.0.0.1:0");
    ASSERT_TRUE(server_->start(err)) << err;
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    // Destroy the server on the loop thread (its owner), then stop the loop.
    asio::post(io_, [this] {
      server_.reset();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
    server_.reset();
    speaker_.reset();
  }

  // Runs fn on the loop thread (the server's owner) and waits for it.
  template <typename Fn>
  auto on_loop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  tcp::endpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), server_->port()}; }

  http::response<http::string_body> request(http::verb method, const std::string& target) {
    asio::io_context cio;
    beast::tcp_stream s(cio);
    s.expires_after(std::chrono::seconds(5));
    s.connect(endpoint());
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    if (method == http::verb::head) parser.skip(true);
    http::read(s, buf, parser);
    return parser.release();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<session::Speaker> speaker_;
  std::unique_ptr<MetricsServer> server_;
  std::thread thread_;
};

TEST_F(MetricsServerTest, GetMetrics) {
  auto res = request(http::verb::get, "/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = res.body();
  const std::string labels = R"({peer="192.0.2.2",remote_as="65002",description="passive \"test\" peer"})";
  EXPECT_NE(body.find("# TYPE tandem_peer_up gauge\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\ntandem_peer_up" + labels + " 0\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\ntandem_peer_prefixes_received" + labels + " 0\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\ntandem_peer_uptime_seconds" + labels + " 0\n"), std::string::npos) << body;
  EXPECT_TRUE(std::regex_search(body, std::regex("\ntandem_peer_state\\{peer=\"192\\.0\\.2\\.2\"[^}]*\\} [1-3]\n")))
      << body;
  EXPECT_NE(body.find("\ntandem_rib_prefixes{family=\"ipv4-unicast\"} 0\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\ntandem_rib_prefixes{family=\"ipv6-unicast\"} 0\n"), std::string::npos) << body;
  EXPECT_NE(body.find("\ntandem_rib_attribute_sets "), std::string::npos) << body;
  EXPECT_NE(body.find("\n# TYPE tandem_connections_refused_total counter\ntandem_connections_refused_total 0\n"),
            std::string::npos)
      << body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(body, m, std::regex("\nprocess_open_fds ([0-9]+)\n"))) << body;
  EXPECT_GT(std::stoul(m[1]), 2u);
  ASSERT_TRUE(std::regex_search(body, m, std::regex("\nprocess_resident_memory_bytes ([0-9]+)\n"))) << body;
  EXPECT_GT(std::stoull(m[1]), 0u);
  ASSERT_TRUE(std::regex_search(body, m, std::regex("\nprocess_start_time_seconds ([0-9.e+]+)\n"))) << body;
  double start = std::stod(m[1]);
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);
  EXPECT_NE(body.find("\nprocess_cpu_seconds_total "), std::string::npos) << body;
  EXPECT_NE(body.find("\nprocess_virtual_memory_bytes "), std::string::npos) << body;
}

TEST_F(MetricsServerTest, QueryStringIsIgnored) {
  EXPECT_EQ(request(http::verb::get, "/metrics?name[]=x").result(), http::status::ok);
}

TEST_F(MetricsServerTest, OtherPathsAre404) {
  auto res = request(http::verb::get, "/");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(request(http::verb::get, "/metricsx").result(), http::status::not_found);
  EXPECT_EQ(request(http::verb::get, "/metrics/").result(), http::status::not_found);
}

TEST_F(MetricsServerTest, OtherMethodsAre405) {
  auto res = request(http::verb::post, "/metrics");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD");
}

TEST_F(MetricsServerTest, HeadHasHeadersOnly) {
  auto res = request(http::verb::head, "/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res.body().empty());
  EXPECT_GT(std::stoul(std::string(res[http::field::content_length])), 100u);
}

TEST_F(MetricsServerTest, KeepAliveServesSeveralRequests) {
  asio::io_context cio;
  beast::tcp_stream s(cio);
  s.expires_after(std::chrono::seconds(5));
  s.connect(endpoint());
  beast::flat_buffer buf;
  for (const char* target : {"/metrics", "/nope", "/metrics"}) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result(), std::string_view(target) == "/metrics" ? http::status::ok : http::status::not_found);
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(MetricsServerTest, OversizedRequestIsRefused) {
  asio::io_context cio;
  tcp::socket s(cio);
  s.connect(endpoint());
  std::string req =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  asio::write(s, asio::buffer(req));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(s, buf, res, ec);
  ASSERT_FALSE(ec) << ec.message();  // the server drains the rest: no RST before the answer
  EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
  EXPECT_FALSE(res.keep_alive());
  // And it is still serving.
  EXPECT_EQ(request(http::verb::get, "/metrics").result(), http::status::ok);
}

TEST_F(MetricsServerTest, GarbageIsBadRequest) {
  asio::io_context cio;
  tcp::socket s(cio);
  s.connect(endpoint());
  asio::write(s, asio::buffer(std::string("this is not http\r\n\r\n")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(s, buf, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::bad_request);
}

TEST_F(MetricsServerTest, StalledClientDoesNotBlockOthers) {
  asio::io_context cio;
  tcp::socket stalled(cio);
  stalled.connect(endpoint());
  asio::write(stalled, asio::buffer(std::string("GET /metr")));  // and nothing more
  tcp::socket silent(cio);
  silent.connect(endpoint());  // sends nothing at all
  EXPECT_EQ(request(http::verb::get, "/metrics").result(), http::status::ok);
}

TEST_F(MetricsServerTest, IdleConnectionsTimeOut) {
  on_loop([this] {
    server_->set_io_timeout(std::chrono::milliseconds(300));
    return 0;
  });
  asio::io_context cio;
  tcp::socket idle(cio);
  idle.connect(endpoint());
  tcp::socket partial(cio);
  partial.connect(endpoint());
  asio::write(partial, asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n")));  // never ends
  auto t0 = std::chrono::steady_clock::now();
  for (tcp::socket* s : {&idle, &partial}) {
    char c;
    boost::system::error_code ec;
    s->read_some(asio::buffer(&c, 1), ec);  // blocks until the server closes
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(on_loop([this] { return server_->connections(); }), 0u);
}

TEST_F(MetricsServerTest, TooManyConnectionsEvictTheOldest) {
  asio::io_context cio;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 40; i++) {
    idle.push_back(std::make_unique<tcp::socket>(cio));
    idle.back()->connect(endpoint());
  }
  // A scraper still gets through, and the server never holds more than its limit.
  EXPECT_EQ(request(http::verb::get, "/metrics").result(), http::status::ok);
  EXPECT_LE(on_loop([this] { return server_->connections(); }), 32u);
  char c;
  boost::system::error_code ec;
  idle.front()->read_some(asio::buffer(&c, 1), ec);  // the oldest was closed
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

TEST(MetricsListen, ParsesAddresses) {
  std::string err;
  auto v4 = parse_listen_address("127.0.0.1:9179", err);
  ASSERT_TRUE(v4) << err;
  EXPECT_EQ(v4->address().to_string(), "127.0.0.1");
  EXPECT_EQ(v4->port(), 9179);
  auto v6 = parse_listen_address("[::1]:9179", err);
  ASSERT_TRUE(v6) << err;
  EXPECT_TRUE(v6->address().is_v6());
  EXPECT_EQ(v6->port(), 9179);
  for (const char* bad : {"", "127.0.0.1", "::1:9179", "[::1]9179", "[::1]:", "localhost:9179", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:9x", "[127.0.0.1:9179"}) {
    err.clear();
    EXPECT_FALSE(parse_listen_address(bad, err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(MetricsListen, StartFailsOnBadAddressOrBusyPort) {
  asio::io_context io;
  session::Speaker speaker(io, passive_peer_config());
  std::string err;
  MetricsServer bad(io, speaker, "nonsense");
  EXPECT_FALSE(bad.start(err));
  EXPECT_NE(err.find("nonsense"), std::string::npos);

  MetricsServer first(io, speaker, "127.0.0.1:0");
  ASSERT_TRUE(first.start(err)) << err;
  MetricsServer second(io, speaker, "127.0.0.1:" + std::to_string(first.port()));
  err.clear();
  EXPECT_FALSE(second.start(err));
  EXPECT_NE(err.find("cannot listen"), std::string::npos) << err;
}

TEST(MetricsCollect, ReadsProcSelf) {
  auto p = read_process_metrics();
  ASSERT_TRUE(p);
  EXPECT_GT(p->resident_memory_bytes, 0u);
  EXPECT_GE(p->virtual_memory_bytes, p->resident_memory_bytes);
  EXPECT_GT(p->open_fds, 2u);
  EXPECT_GT(p->start_time_seconds, 1.6e9);
}

// collect_metrics takes the speaker's count of refused connections: strangers connect
// to a speaker listening on 127.0.0.1:179 in a private network namespace.
class MetricsRefusedTest : public test::PrivateNetnsTest<MetricsRefusedTest> {
 public:
  static constexpr const char* kNetnsSetup = "true";  // lo is enough
};

TEST_F(MetricsRefusedTest, CountsRefusedConnections) {
  asio::io_context io;
  auto c = passive_peer_config();
  c.listen = {*wire::IpAddr::parse("127.0.0.1")};
  c.port = 179;
  session::Speaker speaker(io, c);
  std::string err;
  ASSERT_TRUE(speaker.start(err)) << err;
  EXPECT_EQ(collect_metrics(speaker, std::chrono::system_clock::now()).connections_refused, 0u);
  for (int i = 0; i < 3; i++) {
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), 179});
    std::array<uint8_t, 1> buf{};
    bool closed = false;
    s.async_read_some(asio::buffer(buf), [&](const boost::system::error_code&, size_t) { closed = true; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!closed && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(closed) << "the speaker did not close a stranger's connection";
  }
  auto snapshot = collect_metrics(speaker, std::chrono::system_clock::now());
  EXPECT_EQ(snapshot.connections_refused, 3u);
  EXPECT_NE(render_metrics(snapshot).find("\ntandem_connections_refused_total 3\n"), std::string::npos);
}

}  // namespace
}  // namespace tandem::app
