#include "apps/tandemctl/ha.hpp"

#include <chrono>

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"
#include "tandem/v1/ha.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }
std::string n_or_dash(std::uint64_t v) { return v ? std::to_string(v) : "-"; }

// "850 ms", "12 s", "01:02:03": how long ago a CLOCK_REALTIME microsecond stamp was.
std::string age_text(std::uint64_t then_us, std::uint64_t now_us) {
  const std::uint64_t d = now_us > then_us ? now_us - then_us : 0;
  if (d < 10'000'000) return fmt::format("{} ms", d / 1000);
  return duration_text(d / 1'000'000);
}

std::string checkpoint_age(const tv1::HaSessionStatus& s, std::uint64_t now_us) {
  if (!s.has_checkpoint()) return "-";
  return age_text(s.checkpoint_time_us(), now_us);
}

std::string seq(const tv1::HaSessionStatus& s, std::uint32_t v) {
  return s.has_checkpoint() ? std::to_string(v) : "-";
}

}  // namespace

Command parse_ha(Args& args) {
  args.set_topic("ha");
  if (args.empty()) return tv1::GetHaStatusRequest{};
  const std::string w = args.next("subcommand");
  if (w == "help" || w == "--help" || w == "-h") return Help{"ha"};
  if (w == "status") {
    args.expect_end();
    return tv1::GetHaStatusRequest{};
  }
  if (w == "switchover") {
    args.expect_end();
    return tv1::SwitchoverRequest{};
  }
  if (w != "digests") args.fail("unknown ha subcommand '" + w + "'");
  tv1::GetTableDigestsRequest request;
  while (!args.empty()) {
    const std::string word = args.next("argument");
    if (word == "--peer") {
      if (!request.peer().empty()) args.fail("--peer given twice");
      request.set_peer(parse_address(args.next("--peer address"), "peer address", args.topic()));
    } else {
      args.fail("unexpected '" + word + "'");
    }
  }
  return request;
}

void render_ha(const tv1::HaStatus& st, std::uint64_t now_us, std::ostream& out) {
  if (st.role() == "none" || st.role().empty()) {
    out << "Replication is not configured (no [ha] section)\n";
    return;
  }
  key_value_line(out, "Role", st.role());
  key_value_line(out, "Node", fmt::format("{} (epoch {})", or_dash(st.node_id()), st.epoch()));
  key_value_line(out, "Peer node", st.peer_address().empty() ? or_dash(st.peer_node())
                                                    : fmt::format("{} at {}", or_dash(st.peer_node()), st.peer_address()));
  key_value_line(out, "Channel", fmt::format("{} (up {} times)", st.channel_state(), st.channel_ups()));
  key_value_line(out, "Last error", or_dash(st.last_error()));
  if (!st.heartbeat().empty() && st.heartbeat() != "off")
    key_value_line(out, "Heartbeat",
         fmt::format("{}{} ({}; lost {} times)", st.heartbeat(),
                     st.heartbeat_change_age_ms() >= 0 ? fmt::format(" for {:.1f} s", st.heartbeat_change_age_ms() / 1000.0)
                                                       : std::string(),
                     or_dash(st.heartbeat_why()), st.heartbeat_losses()));
  key_value_line(out, "Frames", fmt::format("{} in, {} out", st.frames_in(), st.frames_out()));
  key_value_line(out, "Bytes", fmt::format("{} in, {} out", st.bytes_in(), st.bytes_out()));
  key_value_line(out, "Auth failures", std::to_string(st.auth_failures()));
  key_value_line(out, "Snapshots", st.snapshots() == 0
                             ? std::string("0")
                             : fmt::format("{}, last {} ms with {} routes, longest loop stall {} us", st.snapshots(),
                                           st.last_snapshot_ms(), st.last_snapshot_routes(), st.max_stall_us()));
  if (st.sessions().empty()) {
    out << "\nNo replicated sessions\n";
    return;
  }
  out << "\n";
  Table t({"Peer", "Sync", "Lag bytes", "Lag us", "Standby queued", "Window", "Clamp", "snd_una", "snd_nxt", "rcv_nxt",
           "Checkpoint", "Out diffs"},
          {false, false, true, true, true, true, true, true, true, true, true, true});
  for (const auto& s : st.sessions()) {
    t.add({s.peer(), s.sync_state(), std::to_string(s.lag_bytes()), std::to_string(s.lag_us()),
           std::to_string(s.standby_queued()), std::to_string(s.estimated_window()), n_or_dash(s.window_clamp()),
           seq(s, s.snd_una()), seq(s, s.snd_nxt()), seq(s, s.rcv_nxt()), checkpoint_age(s, now_us),
           fmt::format("{}/{}", s.outbound_differences(), s.outbound_compared())});
  }
  t.print(out);
}

void render_digests(const tv1::GetTableDigestsResponse& r, std::ostream& out) {
  if (r.peers().empty() && r.loc_rib().empty()) {
    out << "No tables\n";
    return;
  }
  Table t({"Peer", "Family", "Table", "Routes", "Digest"}, {false, false, false, true, false});
  for (const auto& p : r.peers()) {
    t.add({p.peer(), family_name(p.family()), "adj-rib-in", std::to_string(p.adj_rib_in().routes()),
           p.adj_rib_in().digest()});
    t.add({p.peer(), family_name(p.family()), "adj-rib-out", std::to_string(p.adj_rib_out().routes()),
           p.adj_rib_out().digest()});
  }
  for (const auto& l : r.loc_rib())
    t.add({"-", family_name(l.family()), "loc-rib", std::to_string(l.loc_rib().routes()), l.loc_rib().digest()});
  t.print(out);
}

int execute(Context& ctx, const tv1::GetHaStatusRequest& request) {
  auto response = call<tv1::HaService, tv1::HaStatus>(ctx, &tv1::HaService::Stub::GetStatus, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    render_ha(response, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count()),
              ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::GetTableDigestsRequest& request) {
  auto response =
      call<tv1::HaService, tv1::GetTableDigestsResponse>(ctx, &tv1::HaService::Stub::GetTableDigests, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_digests(response, ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::SwitchoverRequest& request) {
  auto response = call<tv1::HaService, tv1::SwitchoverResponse>(ctx, &tv1::HaService::Stub::Switchover, request);
  if (ctx.options.json) ctx.out << to_json(response, true) << '\n';
  else ctx.out << response.message() << '\n';
  return 0;
}

}  // namespace tandemctl
