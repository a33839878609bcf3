// The Prometheus endpoint: a small HTTP/1.1 server (Boost.Beast) on the daemon's
// io_context thread, which owns the speaker and the RIB, so a scrape reads their state
// directly. A scrape costs O(peers): counters only, never a walk over routes.
//
// GET (or HEAD) /metrics answers the text exposition format 0.0.4; any other path is
// 404, another method on /metrics 405. Requests are bounded (8 KiB of headers, 1 KiB
// of body), every read and write has a 10 s deadline, at most 32 connections are open
// at once (a new one closes the oldest) and a keep-alive connection serves at most 100
// requests, so no client can stall the loop, hold resources for long or lock out the
// scraper.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "apps/tandemd/metrics_render.hpp"
#include "bgpd/session/speaker.hpp"

namespace tandem::app {

// The speaker's counters at `now` (peers in address order, IPv4 then IPv6 Loc-RIB).
MetricsSnapshot collect_metrics(const session::Speaker& speaker, std::chrono::system_clock::time_point now);
// process_* metrics from /proc/self; nullopt when /proc is not readable.
std::optional<ProcessMetrics> read_process_metrics();

class MetricsServer {
 public:
  // `listen`: "127.0.0.1:9179", "[::1]:9179", "0.0.0.0:9179"; port 0 picks a free one.
  MetricsServer(boost::asio::io_context& io, const session::Speaker& speaker, std::string listen);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Bind and start accepting. False + error when the address is malformed or the bind
  // fails.
  bool start(std::string& error);
  // The bound port (after a successful start); useful with port 0.
  uint16_t port() const { return port_; }
  const std::string& listen() const { return listen_; }

  // The body served for GET /metrics (exposed for tests).
  std::string render() const;
  // Deadline for reading a request / writing a response (default 10 s); for tests.
  void set_io_timeout(std::chrono::milliseconds timeout);
  // Connections currently open (after pruning closed ones).
  size_t connections() const;

  struct Shared;
  class Connection;

 private:
  void do_accept();

  const session::Speaker& speaker_;
  std::string listen_;
  uint16_t port_ = 0;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;  // after an accept error (e.g. EMFILE)
  std::shared_ptr<Shared> shared_;
};

// "127.0.0.1:9179" / "[::1]:9179" -> endpoint; nullopt + error when malformed.
std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& listen, std::string& error);

}  // namespace tandem::app
