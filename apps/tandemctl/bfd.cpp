#include "apps/tandemctl/bfd.hpp"

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"
#include "tandem/v1/bfd.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

std::string ms(uint64_t us) {
  if (us == 0) return "-";
  if (us % 1000 == 0) return std::to_string(us / 1000);
  return fmt::format("{:.1f}", double(us) / 1000.0);
}

std::string age(int64_t age_ms) {
  if (age_ms < 0) return "never";
  if (age_ms < 10'000) return fmt::format("{} ms", age_ms);
  return duration_text(static_cast<uint64_t>(age_ms / 1000));
}

std::string discr(uint32_t d) { return d ? std::to_string(d) : "-"; }

std::string path_text(const tv1::ListBfdSessionsResponse& r) {
  std::string ifs;
  for (const auto& i : r.interfaces()) ifs += (ifs.empty() ? "" : ", ") + i;
  return ifs.empty() ? r.path() : fmt::format("{} on {}", r.path(), ifs);
}

std::string transmit_text(const tv1::ListBfdSessionsResponse& r) {
  std::string ifs;
  for (const auto& i : r.reply_interfaces()) ifs += (ifs.empty() ? "" : ", ") + i;
  return ifs.empty() ? "user-space" : fmt::format("XDP program answers in steady state on {}, user-space otherwise", ifs);
}

}  // namespace

Command parse_bfd(Args& args) {
  args.set_topic("bfd");
  tv1::ListBfdSessionsRequest request;
  if (args.empty()) return request;
  const std::string w = args.next("peer address");
  if (w == "help" || w == "--help" || w == "-h") return Help{"bfd"};
  request.set_peer(parse_address(w, "peer address", args.topic()));
  args.expect_end();
  return request;
}

void render_bfd(const tv1::ListBfdSessionsResponse& r, bool detail, std::ostream& out) {
  if (!r.enabled()) {
    out << "BFD is disabled ([bfd] enabled = false)\n";
    return;
  }
  if (!detail) {
    out << "Receive path: " << path_text(r) << "\n";
    out << "Transmit path: " << transmit_text(r) << "\n";
    if (r.sessions().empty()) {
      out << "No BFD sessions (no peer has bfd = true)\n";
      return;
    }
    out << "\n";
    Table t({"Peer", "State", "Remote", "Diag", "TX ms", "RX ms", "Detect ms", "Last RX", "In", "Out", "Downs"},
            {false, false, false, false, true, true, true, true, true, true, true});
    for (const auto& s : r.sessions()) {
      std::string diag = s.local_diag() == "No Diagnostic" ? "-" : s.local_diag();
      t.add({s.peer(), s.local_state(), s.remote_state(), diag, ms(s.tx_interval_us()), ms(s.rx_interval_us()),
             ms(s.detect_time_us()), age(s.last_rx_age_ms()), std::to_string(s.packets_in()),
             std::to_string(s.packets_out()), std::to_string(s.down_transitions())});
    }
    t.print(out);
    return;
  }
  for (const auto& s : r.sessions()) {
    key_value_line(out, "Peer", s.peer());
    key_value_line(out, "Local address", s.local_address().empty() ? "(kernel's choice)" : s.local_address());
    key_value_line(out, "State", fmt::format("{} (remote {})", s.local_state(), s.remote_state()));
    key_value_line(out, "Diagnostic", fmt::format("{} (remote {})", s.local_diag(), s.remote_diag().empty() ? "-" : s.remote_diag()));
    key_value_line(out, "Discriminators", fmt::format("local {}, remote {}", s.local_discriminator(), discr(s.remote_discriminator())));
    key_value_line(out, "Configured", fmt::format("tx {} ms, rx {} ms, multiplier {}", ms(s.desired_min_tx_us()),
                                        ms(s.required_min_rx_us()), s.detect_mult()));
    key_value_line(out, "Remote", fmt::format("tx {} ms, rx {} ms, multiplier {}", ms(s.remote_min_tx_us()),
                                    ms(s.remote_min_rx_us()), s.remote_detect_mult()));
    key_value_line(out, "Negotiated", fmt::format("tx {} ms, rx {} ms, detect time {} ms", ms(s.tx_interval_us()),
                                        ms(s.rx_interval_us()), ms(s.detect_time_us())));
    key_value_line(out, "Last receive", age(s.last_rx_age_ms()));
    key_value_line(out, "Packets", fmt::format("{} in, {} out ({} by the XDP program{}), {} send errors", s.packets_in(),
                                     s.packets_out(), s.packets_out_kernel(),
                                     s.kernel_replies() ? ", answering now" : "", s.send_errors()));
    key_value_line(out, "Transitions", fmt::format("{} up, {} down, last change {}", s.up_transitions(), s.down_transitions(),
                                         s.last_change_age_ms() < 0 ? "never" : age(s.last_change_age_ms()) + " ago"));
  }
  key_value_line(out, "Receive path", path_text(r));
  key_value_line(out, "Transmit path", transmit_text(r));
  std::string cs;
  for (const auto& c : r.counters())
    if (c.value() != 0) cs += fmt::format("{}{} {}", cs.empty() ? "" : ", ", c.name(), c.value());
  key_value_line(out, "Receive counters", cs.empty() ? "-" : cs);
}

int execute(Context& ctx, const tv1::ListBfdSessionsRequest& request) {
  auto response =
      call<tv1::BfdService, tv1::ListBfdSessionsResponse>(ctx, &tv1::BfdService::Stub::ListSessions, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_bfd(response, !request.peer().empty(), ctx.out);
  }
  return 0;
}

}  // namespace tandemctl
