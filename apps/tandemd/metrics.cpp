#include "apps/tandemd/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace tandem::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxConnections = 32;
constexpr unsigned kMaxRequestsPerConnection = 100;
constexpr size_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 1024;
constexpr size_t kMaxDrainBytes = 64 * 1024;
constexpr std::chrono::milliseconds kDefaultIoTimeout{10000};

std::string read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> boot_time_seconds() {
  std::istringstream in(read_file("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return std::nullopt;
}

// Counts /proc/self/fd entries, not counting the descriptor used to read the directory.
std::optional<uint64_t> count_open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return std::nullopt;
  std::string own = std::to_string(dirfd(d));
  uint64_t n = 0;
  while (const dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name == own) continue;
    n++;
  }
  closedir(d);
  return n;
}

}  // namespace

std::optional<ProcessMetrics> read_process_metrics() {
  std::string stat = read_file("/proc/self/stat");
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string tok; in >> tok;) f.push_back(tok);
  if (f.size() < 22) return std::nullopt;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page <= 0) return std::nullopt;
  auto field = [&](int n) { return std::strtoull(f[static_cast<size_t>(n - 3)].c_str(), nullptr, 10); };

  ProcessMetrics p;
  p.cpu_seconds = static_cast<double>(field(14) + field(15)) / static_cast<double>(ticks);
  p.virtual_memory_bytes = field(23);
  p.resident_memory_bytes = field(24) * static_cast<uint64_t>(page);
  if (auto btime = boot_time_seconds())
    p.start_time_seconds = *btime + static_cast<double>(field(22)) / static_cast<double>(ticks);
  p.open_fds = count_open_fds().value_or(0);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) p.max_fds = rl.rlim_cur;
  return p;
}

MetricsSnapshot collect_metrics(const session::Speaker& speaker, std::chrono::system_clock::time_point now) {
  MetricsSnapshot s;
  for (const auto& st : speaker.status()) {
    PeerMetrics p;
    p.address = st.address.to_string();
    p.remote_as = st.remote_as;
    p.description = st.description;
    p.enabled = st.enabled;
    p.state = st.state;
    if (st.state == fsm::State::Established && st.established_since) {
      std::chrono::duration<double> up = now - *st.established_since;
      p.uptime_seconds = std::max(0.0, up.count());
    }
    p.prefixes_received = st.counters.received;
    p.prefixes_accepted = st.counters.accepted;
    p.prefixes_advertised = st.counters.advertised;
    p.messages_received = st.messages_in;
    p.messages_sent = st.messages_out;
    p.updates_received = st.counters.updates_in;
    p.updates_sent = st.counters.updates_out;
    s.peers.push_back(std::move(p));
  }
  for (auto fam : {wire::kIpv4Unicast, wire::kIpv6Unicast})
    s.rib.push_back({fam.to_string(), speaker.rib().loc_rib_size(fam)});
  s.attribute_sets = speaker.rib().attribute_sets();
  s.connections_refused = speaker.connections_refused();
  s.process = read_process_metrics();
  return s;
}

std::optional<tcp::endpoint> parse_listen_address(const std::string& listen, std::string& error) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    auto end = listen.find(']');
    if (end == std::string::npos || end + 1 >= listen.size() || listen[end + 1] != ':') {
      error = "listen address \"" + listen + "\": expected [IPv6]:PORT";
      return std::nullopt;
    }
    host = listen.substr(1, end - 1);
    port = listen.substr(end + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || listen.find(':') != colon) {
      error = "listen address \"" + listen + "\": expected ADDRESS:PORT or [IPv6]:PORT";
      return std::nullopt;
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    error = "listen address \"" + listen + "\": \"" + host + "\" is not an IP address";
    return std::nullopt;
  }
  const bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (port.empty() || port.size() > 5 || !digits || std::stoul(port) > 65535) {
    error = "listen address \"" + listen + "\": bad port \"" + port + "\"";
    return std::nullopt;
  }
  return tcp::endpoint(addr, static_cast<uint16_t>(std::stoul(port)));
}

// State shared by the server and its connections; the server clears `server` when it
// goes away, so a connection that outlives it (pending handlers) never touches it.
struct MetricsServer::Shared {
  MetricsServer* server = nullptr;
  std::vector<std::weak_ptr<Connection>> connections;  // oldest first
  std::chrono::milliseconds io_timeout = kDefaultIoTimeout;

  void prune() {
    std::erase_if(connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
  }
};

class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), buffer_(kHeaderLimit + kBodyLimit), shared_(std::move(shared)) {}

  void start() { read(); }
  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(shared_->io_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      close();
      return;
    }
    if (ec) {
      // A malformed or oversized request: say so and close.
      http::status st = http::status::bad_request;
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
        st = http::status::request_header_fields_too_large;
      else if (ec == http::error::body_limit)
        st = http::status::payload_too_large;
      respond_error(st, 11, false);
      return;
    }
    served_++;
    const auto& req = parser_->get();
    bool keep_alive = req.keep_alive() && served_ < kMaxRequestsPerConnection;
    std::string_view target(req.target().data(), req.target().size());
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target != "/metrics") {
      respond_error(http::status::not_found, req.version(), keep_alive);
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      respond_error(http::status::method_not_allowed, req.version(), keep_alive);
      return;
    }
    if (shared_->server == nullptr) {
      respond_error(http::status::service_unavailable, req.version(), false);
      return;
    }
    res_ = {};
    res_.result(http::status::ok);
    res_.version(req.version());
    res_.set(http::field::server, "tandemd");
    res_.set(http::field::content_type, std::string(kMetricsContentType));
    res_.keep_alive(keep_alive);
    std::string body = shared_->server->render();
    if (req.method() == http::verb::head) {
      res_.content_length(body.size());
    } else {
      res_.body() = std::move(body);
      res_.prepare_payload();
    }
    write(req.method() == http::verb::head);
  }

  void respond_error(http::status st, unsigned version, bool keep_alive) {
    res_ = {};
    res_.result(st);
    res_.version(version);
    res_.set(http::field::server, "tandemd");
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    if (st == http::status::method_not_allowed) res_.set(http::field::allow, "GET, HEAD");
    res_.keep_alive(keep_alive);
    res_.body() = std::string(http::obsolete_reason(st)) + "\n";
    res_.prepare_payload();
    write(false);
  }

  void write(bool head) {
    stream_.expires_after(shared_->io_timeout);
    serializer_.emplace(res_);
    if (head) serializer_->split(true);
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->close();
      } else if (!self->res_.keep_alive()) {
        self->finish();
      } else {
        self->read();
      }
    };
    // HEAD: headers only (the Content-Length describes the GET body).
    if (head) http::async_write_header(stream_, *serializer_, std::move(done));
    else http::async_write(stream_, *serializer_, std::move(done));
  }

  // After the last response: send FIN, then read and discard what the client still
  // sends (a bounded amount, within the deadline) before closing, so that unread input
  // does not turn the close into a RST that could destroy the response in flight.
  void finish() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(shared_->io_timeout);
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxDrainBytes) self->close();
      else self->drain();
    });
  }

  beast::tcp_stream stream_;
  std::array<char, 4096> scratch_{};
  size_t drained_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  std::shared_ptr<Shared> shared_;
  unsigned served_ = 0;
};

MetricsServer::MetricsServer(asio::io_context& io, const session::Speaker& speaker, std::string listen)
    : speaker_(speaker),
      listen_(std::move(listen)),
      acceptor_(io),
      accept_retry_(io),
      shared_(std::make_shared<Shared>()) {
  shared_->server = this;
}

MetricsServer::~MetricsServer() {
  shared_->server = nullptr;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  for (auto& w : shared_->connections)
    if (auto c = w.lock()) c->close();
}

bool MetricsServer::start(std::string& error) {
  auto ep = parse_listen_address(listen_, error);
  if (!ep) return false;
  boost::system::error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && ep->address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on " + listen_ + ": " + ec.message();
    acceptor_.close(ec);
    return false;
  }
  auto bound = acceptor_.local_endpoint(ec);
  port_ = bound.port();
  spdlog::debug("metrics: listening on port {}", port_);
  do_accept();
  return true;
}

void MetricsServer::set_io_timeout(std::chrono::milliseconds timeout) { shared_->io_timeout = timeout; }

size_t MetricsServer::connections() const {
  shared_->prune();
  return shared_->connections.size();
}

std::string MetricsServer::render() const {
  return render_metrics(collect_metrics(speaker_, std::chrono::system_clock::now()));
}

void MetricsServer::do_accept() {
  acceptor_.async_accept([this, shared = shared_](boost::system::error_code ec, tcp::socket socket) {
    if (shared->server == nullptr || ec == asio::error::operation_aborted) return;
    if (!ec) {
      shared->prune();
      // At the limit the oldest connection makes room: idle clients cannot lock out
      // the scraper for a whole timeout.
      if (shared->connections.size() >= kMaxConnections) {
        spdlog::debug("metrics: {} connections open, closing the oldest", shared->connections.size());
        if (auto oldest = shared->connections.front().lock()) oldest->close();
        shared->connections.erase(shared->connections.begin());
      }
      auto c = std::make_shared<Connection>(std::move(socket), shared);
      shared->connections.push_back(c);
      c->start();
    } else {
      // Out of descriptors and the like: retry later instead of spinning.
      spdlog::warn("metrics: accept: {}", ec.message());
      accept_retry_.expires_after(std::chrono::milliseconds(200));
      accept_retry_.async_wait([this, shared](boost::system::error_code e) {
        if (!e && shared->server != nullptr) do_accept();
      });
      return;
    }
    do_accept();
  });
}

}  // namespace tandem::app
