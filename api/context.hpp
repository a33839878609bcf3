// What every service needs: the event loop that owns the speaker and the RIB, and a
// way to run a closure there and wait for its result (the gRPC threads never touch
// routing state themselves).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "api/event_hub.hpp"
#include "bgpd/mrt/writer.hpp"
#include "bgpd/session/speaker.hpp"
#include "replicator/status.hpp"

namespace tandem::api {

// One MRT writer's counters, by name ("updates", "rib").
struct MrtWriterInfo {
  std::string name;
  mrt::WriterStats stats;
};

struct Context {
  boost::asio::io_context& io;
  session::Speaker& speaker;
  EventHub& hub;
  std::chrono::milliseconds timeout{5000};  // for one closure on the event loop
  std::string version;
  std::atomic<bool> stopping{false};  // the server is shutting down: stop waiting
  // HaService: the replicator's status, called on the event loop; empty, or returning
  // nullopt, without replication.
  std::function<std::optional<replicator::ReplStatus>()> ha_status{};
  // HaService.Switchover, called on the event loop: starts it; `done` is called (on the
  // loop) with the outcome. Empty without replication.
  using SwitchoverDone = std::function<void(bool ok, const std::string& message)>;
  std::function<void(SwitchoverDone done)> ha_switchover{};
  // GlobalService: the MRT writers' counters (thread-safe reads); empty without [mrt].
  std::function<std::vector<MrtWriterInfo>()> mrt_status{};
};

// Run `fn` on the event loop thread and wait for its result. nullopt when the loop did
// not run it within the timeout (the closure may still run later: it must only use
// what it captured by value plus the speaker, which outlives the API server).
template <class Fn>
auto run_on_loop(const Context& ctx, Fn fn) -> std::optional<decltype(fn(ctx.speaker))> {
  using R = decltype(fn(ctx.speaker));
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  session::Speaker* sp = &ctx.speaker;
  boost::asio::post(ctx.io, [promise, sp, fn = std::move(fn)]() mutable {
    try {
      promise->set_value(fn(*sp));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  // Wait in slices, so that a server shutdown (which may be running on the loop thread
  // itself) does not wait for the whole timeout.
  const auto deadline = std::chrono::steady_clock::now() + ctx.timeout;
  while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (ctx.stopping.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
  }
  return future.get();
}

inline grpc::Status loop_timeout() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the daemon's event loop did not answer in time");
}

inline grpc::Status to_status(const session::OpResult& r) {
  using C = session::OpResult;
  switch (r.code) {
    case C::Ok: return grpc::Status::OK;
    case C::NotFound: return grpc::Status(grpc::StatusCode::NOT_FOUND, r.message);
    case C::AlreadyExists: return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, r.message);
    case C::FailedPrecondition: return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, r.message);
    case C::InvalidArgument: return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.message);
    case C::Unavailable: return grpc::Status(grpc::StatusCode::UNAVAILABLE, r.message);
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, r.message);
}

inline grpc::Status invalid(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
}

}  // namespace tandem::api
