#include "apps/tandemctl/mrt_inject.hpp"

#include <chrono>

#include <fmt/format.h>

#include "apps/tandemctl/mrt_routes.hpp"
#include "tandem/v1/rib.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;
namespace wire = tandem::wire;

namespace {

constexpr std::size_t kRoutesPerRequest = 20000;

NextHopRewrite next_hops(const std::vector<std::string>& words) {
  NextHopRewrite r;
  for (const auto& w : words) {
    if (w == "self") {
      r.self_v4 = r.self_v6 = true;
    } else if (auto ip = wire::IpAddr::parse(w)) {
      (ip->is_v4() ? r.v4 : r.v6) = *ip;
    }
  }
  return r;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string error_text(const std::string& file, const MrtRouteStats& s) {
  const auto& e = s.fatal ? *s.fatal_error : *s.first_error;
  std::string out = fmt::format("{}: record at offset {}: {}", file, e.offset, e.reason);
  if (s.fatal) out += " (reading stopped there)";
  if (s.malformed > 1) out += fmt::format("; {} malformed records in all, the first at offset {}", s.malformed,
                                          s.first_error->offset);
  return out;
}

}  // namespace

Command parse_mrt(Args& args) {
  args.set_topic("mrt");
  const std::string sub = args.next("mrt command (inject)");
  if (sub == "help" || sub == "--help" || sub == "-h") return Help{"mrt"};
  if (sub != "inject") args.fail("unknown mrt command '" + sub + "' (inject)");
  MrtInjectCommand c;
  bool v4 = false, v6 = false, self = false;
  while (!args.empty()) {
    const std::string word = args.next("argument");
    if (word == "--count") {
      c.count = parse_u32(args.next("--count value"), "--count", args.topic(), 1);
    } else if (word == "--nexthop" || word == "--next-hop") {
      std::string nh = args.next("--nexthop address");
      if (nh == "self") {
        if (self || v4 || v6) args.fail("--nexthop self cannot be combined with another --nexthop");
        self = true;
      } else {
        parse_address(nh, "--nexthop address", args.topic());
        bool& seen = is_ipv4(nh) ? v4 : v6;
        if (seen || self) args.fail("--nexthop: at most one IPv4 and one IPv6 address (or self)");
        seen = true;
      }
      c.next_hops.push_back(nh);
    } else if (!word.empty() && word[0] == '-') {
      args.fail("unknown mrt inject option '" + word + "'");
    } else {
      if (!c.file.empty()) args.fail("one FILE only (got '" + c.file + "' and '" + word + "')");
      c.file = word;
    }
  }
  if (c.file.empty()) args.fail("missing FILE");
  return c;
}

int execute(Context& ctx, const MrtInjectCommand& command) {
  std::string error;
  auto reader = MrtRouteReader::open(command.file, error);
  if (!reader) throw CommandError("cannot read " + command.file + ": " + error);
  const NextHopRewrite rewrite = next_hops(command.next_hops);

  auto stub = tv1::RibService::NewStub(ctx.connection.channel());
  grpc::ClientContext context;  // no deadline: a large file takes a while
  tv1::InjectRoutesResponse response;
  const auto t0 = std::chrono::steady_clock::now();
  auto writer = stub->InjectRoutes(&context, &response);
  std::vector<MrtRoute> batch;
  std::uint64_t sent = 0;
  bool more = true;
  while (more && (command.count == 0 || sent < command.count)) {
    batch.clear();
    std::size_t want = kRoutesPerRequest;
    if (command.count > 0) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, command.count - sent));
    more = reader->next(batch, want);
    if (batch.empty()) continue;
    for (auto& r : batch) rewrite.apply(r);
    tv1::InjectRoutesRequest req;
    add_routes(batch, req);
    if (!writer->Write(req)) break;  // the daemon ended the call: Finish() says why
    sent += batch.size();
  }
  writer->WritesDone();
  ctx.connection.check(writer->Finish());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = secs > 0 ? static_cast<double>(response.routes()) / secs : 0.0;
  const auto& s = reader->stats();
  if (ctx.options.json) {
    ctx.out << fmt::format(
        "{{\"file\":{},\"routes\":\"{}\",\"requests\":\"{}\",\"seconds\":{:.3f},\"routes_per_second\":{:.0f},"
        "\"daemon_loop_micros\":\"{}\",\"records\":\"{}\",\"other_paths_skipped\":\"{}\","
        "\"withdrawals_skipped\":\"{}\",\"records_skipped\":\"{}\",\"malformed_records\":\"{}\","
        "\"attributes_dropped\":\"{}\"}}\n",
        json_string(command.file), response.routes(), response.requests(), secs, rate, response.loop_micros(),
        s.records, s.other_paths, s.withdrawals, s.skipped_records, s.malformed, s.attributes_dropped);
  } else {
    ctx.out << fmt::format("injected {} routes from {} in {:.3f} s ({:.0f} routes/s; {:.1f} ms on the daemon's "
                           "event loop)\n",
                           response.routes(), command.file, secs, rate,
                           static_cast<double>(response.loop_micros()) / 1000.0);
    ctx.out << fmt::format("{} records read; skipped: {} further paths, {} withdrawals, {} other records; "
                           "{} malformed; {} attributes dropped\n",
                           s.records, s.other_paths, s.withdrawals, s.skipped_records, s.malformed,
                           s.attributes_dropped);
  }
  ctx.out.flush();
  if (s.first_error || s.fatal) throw CommandError(error_text(command.file, s));
  return 0;
}

}  // namespace tandemctl
