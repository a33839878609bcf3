// The gRPC channel to tandemd (unix socket, or TCP with mutual TLS) and the mapping
// of call failures to error messages.
#pragma once

#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include <grpcpp/grpcpp.h>

#include "apps/tandemctl/command.hpp"

namespace tandemctl {

// A failure after the command line was understood (exit status 1); what() is the
// message printed after "tandemctl: ".
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "INVALID_ARGUMENT" etc.
std::string status_code_name(grpc::StatusCode code);

// The channel target for the options: "unix:/run/tandemd/tandemd.sock" or "HOST:PORT".
std::string channel_target(const GlobalOptions& options);

class Connection {
 public:
  // Checks that the socket can be connected to (for a unix socket) or reads the TLS
  // files (for TCP), then creates the channel. Throws CommandError.
  explicit Connection(const GlobalOptions& options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::string& target() const { return target_; }
  // Sets the --timeout deadline on a unary call.
  void set_deadline(grpc::ClientContext& context) const;
  // Throws the CommandError for a failed call: "cannot reach tandemd at ..." when the
  // daemon is unreachable, else "CODE: message".
  [[noreturn]] void fail(const grpc::Status& status) const;
  void check(const grpc::Status& status) const {
    if (!status.ok()) fail(status);
  }

 private:
  std::string target_;
  double timeout_seconds_;
  std::shared_ptr<grpc::Channel> channel_;
};

// What a command runs with.
struct Context {
  const GlobalOptions& options;
  Connection& connection;
  std::ostream& out;
};

// One unary call of `Service` with the --timeout deadline; throws CommandError on
// failure. E.g. call<tv1::RibService, tv1::AddRouteResponse>(ctx, &tv1::RibService::Stub::AddRoute, req).
template <class Service, class Response, class Request, class Method>
Response call(Context& ctx, Method method, const Request& request) {
  auto stub = Service::NewStub(ctx.connection.channel());
  grpc::ClientContext context;
  ctx.connection.set_deadline(context);
  Response response;
  ctx.connection.check(((*stub).*method)(&context, request, &response));
  return response;
}

}  // namespace tandemctl
