#include "apps/tandemctl/connection.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <grpc/support/log.h>

namespace tandemctl {

std::string status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::string channel_target(const GlobalOptions& options) {
  if (!options.address.empty()) return options.address;
  return "unix:" + options.socket;
}

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError(std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Connects to the unix socket once, so that a missing socket or a daemon that is not
// running is reported at once with the system's reason rather than after a timeout.
void probe_unix_socket(const std::string& path, const std::string& target) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw CommandError("cannot reach tandemd at " + target + ": socket path too long");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw CommandError(std::string("socket: ") + std::strerror(errno));
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw CommandError("cannot reach tandemd at " + target + ": " + std::strerror(err));
}

}  // namespace

namespace {
void no_log(gpr_log_func_args*) {}
}  // namespace

Connection::Connection(const GlobalOptions& options)
    : target_(channel_target(options)), timeout_seconds_(options.timeout_seconds) {
  // gRPC's own log lines ("Handshake failed ...") would duplicate our error message.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(no_log);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  if (options.address.empty()) {
    probe_unix_socket(options.socket, target_);
    channel_ = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  } else {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = read_file(options.tls_ca, "CA certificate");
    tls.pem_cert_chain = read_file(options.tls_cert, "client certificate");
    tls.pem_private_key = read_file(options.tls_key, "client key");
    channel_ = grpc::CreateCustomChannel(target_, grpc::SslCredentials(tls), args);
  }
}

void Connection::set_deadline(grpc::ClientContext& context) const {
  auto ms = static_cast<std::int64_t>(timeout_seconds_ * 1000.0);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

void Connection::fail(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    throw CommandError("cannot reach tandemd at " + target_ + ": " + status.error_message());
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    throw CommandError("DEADLINE_EXCEEDED: no answer from tandemd at " + target_ + fmt::format(" within {:g}s (see --timeout)", timeout_seconds_));
  }
  throw CommandError(status_code_name(status.error_code()) + ": " + status.error_message());
}

}  // namespace tandemctl
