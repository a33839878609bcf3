#include "apps/tandemctl/global.hpp"

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"
#include "tandem/v1/global.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

tv1::SetGlobalRequest parse_set(Args& args) {
  tv1::SetGlobalRequest request;
  auto& g = *request.mutable_global();
  auto field = [&](const char* name) {
    for (const auto& f : request.update_fields()) {
      if (f == name) args.fail(std::string("'") + name + "' given twice");
    }
    request.add_update_fields(name);
  };
  while (!args.empty()) {
    const std::string key = args.next("keyword");
    if (key == "router-id") {
      field("router_id");
      auto v = args.value_of(key);
      if (!is_ipv4(v)) args.fail("invalid router-id '" + v + "' (expected a dotted quad)");
      g.set_router_id(v);
    } else if (key == "as") {
      field("local_as");
      g.set_local_as(parse_u32(args.value_of(key), "AS number", args.topic(), 1));
    } else if (key == "listen") {
      field("listen_addresses");
      for (const auto& a : split(args.value_of(key), ',')) {
        g.add_listen_addresses(parse_address(a, "listen address", args.topic()));
      }
    } else if (key == "port") {
      field("port");
      g.set_port(parse_u32(args.value_of(key), "port", args.topic(), 1, 65535));
    } else {
      args.fail("unknown global set option '" + key + "'");
    }
  }
  if (request.update_fields().empty()) {
    args.fail("nothing to set (give router-id, as, listen or port)");
  }
  return request;
}


}  // namespace

Command parse_global(Args& args) {
  args.set_topic("global");
  if (args.empty()) return tv1::GetGlobalRequest{};
  const std::string sub = args.next("global command");
  if (sub == "help" || sub == "--help" || sub == "-h") return Help{"global"};
  if (sub == "set") return parse_set(args);
  args.fail("unknown global command '" + sub + "'");
}

// The global view's keys are short: a narrower column than the other "show" forms.
static void global_line(std::ostream& out, std::string_view key, const std::string& value) {
  key_value_line(out, key, value, 12);
}

void render_global(const tv1::Global& global, std::ostream& out) {
  std::string listen;
  for (const auto& a : global.listen_addresses()) listen += (listen.empty() ? "" : ", ") + a;
  global_line(out, "Router ID", global.router_id());
  global_line(out, "Local AS", std::to_string(global.local_as()));
  global_line(out, "Listen", listen.empty() ? "-" : listen);
  global_line(out, "Port", std::to_string(global.port()));
}

void render_global(const tv1::GetGlobalResponse& response, std::ostream& out) {
  render_global(response.global(), out);
  global_line(out, "Version", response.version());
  global_line(out, "Uptime", fmt::format("{} (since {})", duration_text(response.uptime_seconds()),
                                         time_text(response.started_unix_seconds() * 1'000'000'000)));
  if (response.has_memory()) {
    const auto& mem = response.memory();
    auto mib = [](uint64_t b) { return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1 << 20)); };
    global_line(out, "Memory",
                fmt::format("RSS {}{}{}; RIB {} prefixes, {} paths, {} attribute sets; {} queued to peers{}",
                            mib(mem.rss_bytes()), mem.budget_bytes() ? " of a budget of " + mib(mem.budget_bytes()) : "",
                            mem.over_budget() ? " (OVER BUDGET)" : "", mem.rib_prefixes(), mem.rib_paths(),
                            mem.attribute_sets(), mib(mem.output_queued_bytes()),
                            mem.unacked_output_kept_bytes()
                                ? ", " + mib(mem.unacked_output_kept_bytes()) + " kept until acknowledged"
                                : std::string()));
  }
  for (const auto& m : response.mrt())
    global_line(out, "MRT",
                fmt::format("{}: {} records written ({} bytes), {} dropped, {} write errors, {} queued; file {}{}",
                            m.name(), m.records_written(), m.bytes_written(), m.records_dropped(), m.write_errors(),
                            m.queue_records(), m.current_file().empty() ? "-" : m.current_file(),
                            m.last_error().empty() ? "" : "; last error: " + m.last_error()));
  const auto& gr = response.graceful_restart();
  if (!gr.restarting()) return;
  if (gr.deferred().empty()) {
    global_line(out, "Graceful restart", "restarted; selection deferral complete");
    return;
  }
  global_line(out, "Graceful restart", fmt::format("restarting: routes and End-of-RIB held back ({} s left)",
                                                   gr.deferral_remaining_seconds()));
  for (const auto& d : gr.deferred()) {
    std::string who;
    for (const auto& w : d.waiting_for()) who += (who.empty() ? "" : ", ") + w;
    global_line(out, "  " + family_name(d.family()), "waiting for End-of-RIB from " + (who.empty() ? "-" : who));
  }
}

int execute(Context& ctx, const tv1::GetGlobalRequest& request) {
  auto response = call<tv1::GlobalService, tv1::GetGlobalResponse>(ctx, &tv1::GlobalService::Stub::GetGlobal, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_global(response, ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::SetGlobalRequest& request) {
  auto response = call<tv1::GlobalService, tv1::SetGlobalResponse>(ctx, &tv1::GlobalService::Stub::SetGlobal, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_global(response.global(), ctx.out);
  }
  return 0;
}

}  // namespace tandemctl
