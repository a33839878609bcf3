#include "apps/tandemctl/capture_text.hpp"

#include <ctime>

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

std::string gr_text(tv1::GracefulRestartState s) {
  switch (s) {
    case tv1::GRACEFUL_RESTART_STATE_NONE: return "none";
    case tv1::GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART: return "helper waiting-restart";
    case tv1::GRACEFUL_RESTART_STATE_HELPER_WAITING_EOR: return "helper waiting-eor";
    case tv1::GRACEFUL_RESTART_STATE_HELPER_LONG_LIVED_STALE: return "helper long-lived-stale";
    default: return "unknown";
  }
}

std::string endpoint(const std::string& address, std::uint32_t port) {
  return address.find(':') != std::string::npos ? fmt::format("[{}]:{}", address, port)
                                                 : fmt::format("{}:{}", address, port);
}

const char* type_name(const tv1::CapturedMessage& m) {
  switch (m.type()) {
    case tv1::BGP_MESSAGE_TYPE_OPEN: return "OPEN";
    case tv1::BGP_MESSAGE_TYPE_UPDATE: return "UPDATE";
    case tv1::BGP_MESSAGE_TYPE_NOTIFICATION: return "NOTIFICATION";
    case tv1::BGP_MESSAGE_TYPE_KEEPALIVE: return "KEEPALIVE";
    case tv1::BGP_MESSAGE_TYPE_ROUTE_REFRESH: return "ROUTE-REFRESH";
    default: return "message";
  }
}

}  // namespace

std::string capture_time_text(std::int64_t unix_nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::int64_t micros = (unix_nanos % 1'000'000'000) / 1'000;
  if (micros < 0) {
    micros += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", buf, micros);
}

std::string session_text(const tv1::CapturedMessage& m) {
  const auto& s = m.session();
  std::string out = state_name(s.state());
  out += s.outgoing() ? ", outgoing" : ", incoming";
  out += fmt::format(", conn {}, offset {}", m.connection_id(), m.stream_offset());
  if (m.tcp_seq_known()) {
    out += fmt::format(", seq {}", m.tcp_seq());
    if (m.tcp_ack_known()) out += fmt::format(" ack {}", m.tcp_ack());
  } else {
    out += ", seq unknown (" + m.tcp_seq_unknown() + ")";
  }
  if (s.has_negotiated()) {
    const auto& n = s.negotiated();
    out += ", families " + families_text(n.families());
    if (n.four_octet_as()) out += ", 4-octet-as";
    if (n.route_refresh()) out += ", route-refresh";
    if (n.enhanced_route_refresh()) out += ", enhanced-route-refresh";
    if (n.extended_message()) out += ", extended-message";
    if (n.add_path_receive_size() > 0) out += ", add-path-receive " + families_text(n.add_path_receive());
    if (n.graceful_restart()) out += ", peer-gr";
    if (n.long_lived_graceful_restart()) out += ", peer-llgr";
    out += fmt::format(", hold {}", n.hold_time());
  } else {
    out += ", not negotiated yet";
  }
  out += ", gr " + gr_text(s.graceful_restart_state());
  if (s.graceful_restart_stale_families_size() > 0)
    out += " (stale " + families_text(s.graceful_restart_stale_families()) + ")";
  if (!s.replication_role().empty())
    out += fmt::format(", replication {} {}", s.replication_role(),
                       s.replication_sync().empty() ? "-" : s.replication_sync());
  return out;
}

std::string capture_line(const tv1::CaptureRecord& r) {
  const std::string t = capture_time_text(r.time_unix_nanos());
  if (r.has_message()) {
    const auto& m = r.message();
    return fmt::format("{} {} {} {} | {}", t, m.direction() == tv1::CAPTURE_DIRECTION_SENT ? "sent" : "recv",
                       m.peer(), m.summary(), session_text(m));
  }
  if (r.has_state_change()) {
    const auto& s = r.state_change();
    std::string line = fmt::format("{} state {} {} -> {}", t, s.peer(), state_name(s.from()), state_name(s.to()));
    if (!s.reason().empty()) line += " (" + s.reason() + ")";
    return line;
  }
  if (r.has_connection()) {
    const auto& c = r.connection();
    const auto& e = c.endpoints();
    return fmt::format("{} conn {} #{} {} {} <-> {}", t, c.peer(), c.connection_id(), c.opened() ? "open" : "closed",
                       endpoint(e.local_address(), e.local_port()), endpoint(e.remote_address(), e.remote_port()));
  }
  if (r.has_dropped()) {
    return fmt::format("{} ({} records dropped: this client was too slow; {} in all)", t, r.dropped().records(),
                       r.dropped().total());
  }
  return t + " (unknown record)";
}

std::string packet_comment(const tv1::CapturedMessage& m) {
  const bool sent = m.direction() == tv1::CAPTURE_DIRECTION_SENT;
  return fmt::format("tandem: {} {} {} {}: {} | {}", sent ? "sent" : "received", type_name(m), sent ? "to" : "from",
                     m.peer(), m.summary(), session_text(m));
}

}  // namespace tandemctl
