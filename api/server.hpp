// The gRPC management API server: the tandem.v1 services, grpc.health.v1 and server
// reflection, on a UNIX socket (always) and optionally on TCP with mutual TLS.
//
// The server owns no routing state: handlers run on gRPC's threads and post closures to
// the daemon's event loop, which owns the speaker and the RIB (see context.hpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/capture_hub.hpp"
#include "api/context.hpp"
#include "api/event_hub.hpp"
#include "bgpd/config/config.hpp"
#include "healthbpf/driver_status.hpp"

namespace tandem::api {

class GlobalServiceImpl;
class PeerServiceImpl;
class RibServiceImpl;
class EventServiceImpl;
class BfdServiceImpl;
class HaServiceImpl;
class CaptureServiceImpl;

struct ServerOptions {
  config::ApiConfig api;
  std::string version;
  std::chrono::milliseconds loop_timeout{5000};
  // BfdService: the BFD driver's status, called on the event loop; unset or nullopt
  // when [bfd] is disabled.
  std::function<std::optional<healthbpf::DriverStatus>()> bfd_status{};
  // HaService: the replicator's status, called on the event loop; unset or nullopt
  // without replication (copied to Context::ha_status).
  std::function<std::optional<replicator::ReplStatus>()> ha_status{};
  // HaService.Switchover (copied to Context::ha_switchover).
  std::function<void(std::function<void(bool, const std::string&)>)> ha_switchover{};
  // GlobalService: the MRT writers' counters (copied to Context::mrt_status).
  std::function<std::vector<MrtWriterInfo>()> mrt_status{};
};

class Server {
 public:
  Server(boost::asio::io_context& io, session::Speaker& speaker, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bind the UNIX socket (replacing a stale socket file, then chmod to socket_mode) and,
  // when configured, the mTLS TCP listener. Registers the event hub with the speaker:
  // call it on the event loop thread or before that thread runs. False + error on
  // failure (nothing left running).
  bool start(std::string& error);
  // Stop accepting, end the event streams, wait (at most ~2 s) for handlers. Call it
  // while the event loop still runs or after it stopped for good (handlers waiting on
  // the loop time out). Idempotent.
  void stop();

  // The TCP port actually bound (tcp_listen with port 0 picks one); 0 if none.
  int tcp_port() const { return tcp_port_; }
  EventHub& hub() { return hub_; }
  CaptureHub& capture() { return capture_; }

 private:
  boost::asio::io_context& io_;
  session::Speaker& speaker_;
  ServerOptions opts_;
  EventHub hub_;
  CaptureHub capture_;  // a session tap and observer while the server runs
  Context ctx_;
  std::unique_ptr<GlobalServiceImpl> global_;
  std::unique_ptr<PeerServiceImpl> peer_;
  std::unique_ptr<RibServiceImpl> rib_;
  std::unique_ptr<EventServiceImpl> events_;
  std::unique_ptr<BfdServiceImpl> bfd_;
  std::unique_ptr<HaServiceImpl> ha_;
  std::unique_ptr<CaptureServiceImpl> capture_service_;
  std::unique_ptr<grpc::Server> server_;
  int tcp_port_ = 0;
  bool observing_ = false;
};

// Read a whole file (PEM); false + error when it cannot be read.
bool read_file(const std::string& path, std::string& out, std::string& error);

}  // namespace tandem::api
