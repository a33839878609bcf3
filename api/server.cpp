#include "api/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

#include "api/services.hpp"

namespace tandem::api {

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

namespace {

// Whether something accepts connections on the UNIX socket at `path`.
bool socket_in_use(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  bool used = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return used;
}

}  // namespace

Server::Server(boost::asio::io_context& io, session::Speaker& speaker, ServerOptions options)
    : io_(io),
      speaker_(speaker),
      opts_(std::move(options)),
      hub_(speaker),
      capture_(speaker, opts_.ha_status),
      ctx_{io, speaker, hub_, opts_.loop_timeout, opts_.version},
      global_(std::make_unique<GlobalServiceImpl>(ctx_)),
      peer_(std::make_unique<PeerServiceImpl>(ctx_)),
      rib_(std::make_unique<RibServiceImpl>(ctx_)),
      events_(std::make_unique<EventServiceImpl>(ctx_)),
      bfd_(std::make_unique<BfdServiceImpl>(ctx_, opts_.bfd_status)),
      ha_(std::make_unique<HaServiceImpl>(ctx_)),
      capture_service_(std::make_unique<CaptureServiceImpl>(capture_)) {
  ctx_.ha_status = opts_.ha_status;
  ctx_.mrt_status = opts_.mrt_status;
  ctx_.ha_switchover = opts_.ha_switchover;
}

Server::~Server() { stop(); }

bool Server::start(std::string& error) {
  // One gRPC library reference held for the whole process: otherwise destroying the
  // server runs grpc_shutdown(), which joins gRPC's executor threads and can block for
  // up to ~10 s (a thread sleeping in epoll_wait), delaying tandemd's exit on SIGTERM.
  static const bool grpc_held = [] {
    grpc_init();
    return true;
  }();
  (void)grpc_held;
  const auto& a = opts_.api;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder b;

  // UNIX socket: remove a stale socket file first (refuse anything that is not a socket).
  if (a.socket.empty()) {
    error = "api: socket path is empty";
    return false;
  }
  std::error_code fs_ec;
  auto parent = std::filesystem::path(a.socket).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, fs_ec)) {
    std::filesystem::create_directories(parent, fs_ec);
    if (fs_ec) {
      error = "api: cannot create " + parent.string() + ": " + fs_ec.message();
      return false;
    }
  }
  struct stat st {};
  if (::lstat(a.socket.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "api: " + a.socket + " exists and is not a socket";
      return false;
    }
    if (socket_in_use(a.socket)) {
      error = "api: " + a.socket + " is in use (another tandemd running?)";
      return false;
    }
    ::unlink(a.socket.c_str());  // stale, from a daemon that did not clean up
  }
  b.AddListeningPort("unix:" + a.socket, grpc::InsecureServerCredentials());

  if (!a.tcp_listen.empty()) {
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair kc;
    if (!read_file(a.tls_client_ca, ssl.pem_root_certs, error) || !read_file(a.tls_key, kc.private_key, error) ||
        !read_file(a.tls_cert, kc.cert_chain, error)) {
      error = "api: " + error;
      return false;
    }
    ssl.pem_key_cert_pairs.push_back(std::move(kc));
    b.AddListeningPort(a.tcp_listen, grpc::SslServerCredentials(ssl), &tcp_port_);
  }
  b.RegisterService(global_.get());
  b.RegisterService(peer_.get());
  b.RegisterService(rib_.get());
  b.RegisterService(events_.get());
  b.RegisterService(bfd_.get());
  b.RegisterService(ha_.get());
  b.RegisterService(capture_service_.get());
  server_ = b.BuildAndStart();
  if (!server_) {
    error = "api: cannot start the gRPC server on unix:" + a.socket +
            (a.tcp_listen.empty() ? "" : " and " + a.tcp_listen) + " (see the gRPC log above)";
    return false;
  }
  if (!a.tcp_listen.empty() && tcp_port_ == 0) {
    error = "api: cannot listen on " + a.tcp_listen;
    stop();
    return false;
  }
  if (::chmod(a.socket.c_str(), static_cast<mode_t>(a.socket_mode)) != 0) {
    error = "api: chmod " + a.socket + ": " + std::strerror(errno);
    stop();
    return false;
  }
  speaker_.add_observer(&hub_);
  speaker_.add_observer(&capture_);
  speaker_.add_tap(&capture_);
  observing_ = true;
  spdlog::info("api: gRPC on unix:{} (mode {:04o}){}", a.socket, a.socket_mode,
               a.tcp_listen.empty() ? "" : fmt::format(" and {} (mutual TLS, port {})", a.tcp_listen, tcp_port_));
  return true;
}

void Server::stop() {
  if (!server_ && !observing_) return;
  if (observing_) {
    // The observer list belongs to the event loop thread.
    auto detach = [hub = &hub_, capture = &capture_](session::Speaker& sp) {
      sp.remove_observer(hub);
      sp.remove_observer(capture);
      sp.remove_tap(capture);
      return true;
    };
    if (io_.get_executor().running_in_this_thread() || io_.stopped()) {
      detach(speaker_);
    } else {
      auto r = run_on_loop(ctx_, detach);
      if (!r) detach(speaker_);  // the loop is not running any more
    }
    observing_ = false;
  }
  // Handlers waiting for the loop give up now; event streams end.
  ctx_.stopping = true;
  hub_.close_all();
  capture_.close_all();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
    ::unlink(opts_.api.socket.c_str());
  }
}

}  // namespace tandem::api
