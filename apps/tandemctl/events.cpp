#include "apps/tandemctl/events.hpp"

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"
#include "tandem/v1/events.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

Command parse_events(Args& args) {
  args.set_topic("events");
  tv1::WatchEventsRequest request;
  while (!args.empty()) {
    const std::string word = args.next("argument");
    if (word == "help" || word == "--help" || word == "-h") return Help{"events"};
    if (word == "--peer") {
      if (!request.peer().empty()) args.fail("--peer given twice");
      request.set_peer(parse_address(args.next("--peer address"), "peer address", args.topic()));
    } else if (word == "--peer-state") {
      request.set_peer_state(true);
    } else if (word == "--best-path") {
      request.set_best_path(true);
    } else {
      args.fail("unknown events option '" + word + "'");
    }
  }
  if (!request.peer_state() && !request.best_path()) {
    request.set_peer_state(true);
    request.set_best_path(true);
  }
  return request;
}

std::string event_line(const tv1::Event& event) {
  std::string line = time_text(event.time_unix_nanos());
  if (event.has_peer_state()) {
    const auto& e = event.peer_state();
    line += fmt::format(" peer {} {} -> {}", e.address(), state_name(e.from()), state_name(e.to()));
    if (!e.reason().empty()) line += " (" + e.reason() + ")";
  } else if (event.has_best_path()) {
    const auto& e = event.best_path();
    if (e.withdrawn()) {
      line += fmt::format(" best {} {} withdrawn", family_name(e.family()), e.prefix());
    } else {
      const auto& r = e.best();
      const auto& a = r.attributes();
      line += fmt::format(" best {} {} via {} peer {}", family_name(e.family()), e.prefix(),
                          a.next_hop().empty() ? "-" : a.next_hop(), r.peer().empty() ? "local" : r.peer());
      auto path = as_path_text(a);
      line += " as-path [" + path + "]";
    }
  } else {
    line += " unknown event";
  }
  return line;
}

int execute(Context& ctx, const tv1::WatchEventsRequest& request) {
  auto stub = tv1::EventService::NewStub(ctx.connection.channel());
  grpc::ClientContext context;  // no deadline: runs until interrupted
  auto reader = stub->WatchEvents(&context, request);
  tv1::Event event;
  while (reader->Read(&event)) {
    if (ctx.options.json) {
      ctx.out << to_json(event, false) << '\n';
    } else {
      if (event.dropped_before() > 0) {
        ctx.out << fmt::format("({} events dropped: this client was too slow)\n", event.dropped_before());
      }
      ctx.out << event_line(event) << '\n';
    }
    ctx.out.flush();
    if (!ctx.out) {  // output closed: stop watching
      context.TryCancel();
      break;
    }
  }
  auto status = reader->Finish();
  if (!ctx.out) return 1;
  ctx.connection.check(status);
  return 0;
}

}  // namespace tandemctl
