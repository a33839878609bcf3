#include "apps/tandemd/metrics_render.hpp"

#include <cmath>

#include <fmt/format.h>

namespace tandem::app {
namespace {

// Prometheus' Go parser spells the special values NaN, +Inf and -Inf.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}
std::string number(uint64_t v) { return fmt::format("{}", v); }

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    // HELP text escapes only backslash and newline.
    for (char c : help) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels` is the already rendered "{...}" part, or empty.
  void sample(std::string_view name, std::string_view labels, const std::string& value) {
    out_ += name;
    out_ += labels;
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

 private:
  std::string& out_;
};

std::string peer_labels(const PeerMetrics& p) {
  return fmt::format("{{peer=\"{}\",remote_as=\"{}\",description=\"{}\"}}", escape_label_value(p.address),
                     p.remote_as, escape_label_value(p.description));
}

template <typename Get>
void per_peer(Writer& w, const MetricsSnapshot& s, const std::vector<std::string>& labels, std::string_view name,
              std::string_view type, std::string_view help, Get get) {
  w.family(name, type, help);
  for (size_t i = 0; i < s.peers.size(); i++) w.sample(name, labels[i], get(s.peers[i]));
}

}  // namespace

int peer_state_value(bool enabled, fsm::State state) {
  if (!enabled) return 0;
  return static_cast<int>(state) + 1;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_metrics(const MetricsSnapshot& s) {
  std::string out;
  out.reserve(1024 + s.peers.size() * 1200);
  Writer w(out);

  std::vector<std::string> labels;
  labels.reserve(s.peers.size());
  for (const auto& p : s.peers) labels.push_back(peer_labels(p));

  per_peer(w, s, labels, "tandem_peer_state", "gauge",
           "BGP session state: 0 disabled, 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established.",
           [](const PeerMetrics& p) { return fmt::format("{}", peer_state_value(p.enabled, p.state)); });
  per_peer(w, s, labels, "tandem_peer_up", "gauge", "1 if the BGP session is Established, else 0.",
           [](const PeerMetrics& p) {
             return std::string(p.enabled && p.state == fsm::State::Established ? "1" : "0");
           });
  per_peer(w, s, labels, "tandem_peer_uptime_seconds", "gauge",
           "Seconds since the session reached Established (0 when it is not Established).",
           [](const PeerMetrics& p) { return number(p.uptime_seconds); });
  per_peer(w, s, labels, "tandem_peer_prefixes_received", "gauge",
           "Prefixes in the peer's Adj-RIB-In (all address families).",
           [](const PeerMetrics& p) { return number(p.prefixes_received); });
  per_peer(w, s, labels, "tandem_peer_prefixes_accepted", "gauge",
           "Prefixes from the peer eligible for best-path selection (all address families).",
           [](const PeerMetrics& p) { return number(p.prefixes_accepted); });
  per_peer(w, s, labels, "tandem_peer_prefixes_advertised", "gauge",
           "Prefixes in the peer's Adj-RIB-Out (all address families).",
           [](const PeerMetrics& p) { return number(p.prefixes_advertised); });
  per_peer(w, s, labels, "tandem_peer_messages_received_total", "counter",
           "BGP messages received from the peer.",
           [](const PeerMetrics& p) { return number(p.messages_received); });
  per_peer(w, s, labels, "tandem_peer_messages_sent_total", "counter", "BGP messages sent to the peer.",
           [](const PeerMetrics& p) { return number(p.messages_sent); });
  per_peer(w, s, labels, "tandem_peer_updates_received_total", "counter",
           "UPDATE messages received from the peer.",
           [](const PeerMetrics& p) { return number(p.updates_received); });
  per_peer(w, s, labels, "tandem_peer_updates_sent_total", "counter", "UPDATE messages sent to the peer.",
           [](const PeerMetrics& p) { return number(p.updates_sent); });

  w.family("tandem_rib_prefixes", "gauge", "Prefixes with a best path in the Loc-RIB.");
  for (const auto& f : s.rib)
    w.sample("tandem_rib_prefixes", fmt::format("{{family=\"{}\"}}", escape_label_value(f.family)),
             number(f.prefixes));
  w.family("tandem_rib_attribute_sets", "gauge", "Distinct interned path attribute sets.");
  w.sample("tandem_rib_attribute_sets", "", number(s.attribute_sets));
  // Every refusal, also those the rate-limited log only summed up (docs/security.md).
  w.family("tandem_connections_refused_total", "counter",
           "TCP connections refused at accept (not a configured peer, or shutting down) since tandemd started.");
  w.sample("tandem_connections_refused_total", "", number(s.connections_refused));

  if (s.process) {
    const auto& p = *s.process;
    w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    w.sample("process_cpu_seconds_total", "", number(p.cpu_seconds));
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    w.sample("process_resident_memory_bytes", "", number(p.resident_memory_bytes));
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    w.sample("process_virtual_memory_bytes", "", number(p.virtual_memory_bytes));
    w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    w.sample("process_start_time_seconds", "", number(p.start_time_seconds));
    w.family("process_open_fds", "gauge", "Number of open file descriptors.");
    w.sample("process_open_fds", "", number(p.open_fds));
    if (p.max_fds) {
      w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
      w.sample("process_max_fds", "", number(*p.max_fds));
    }
  }
  return out;
}

}  // namespace tandem::app
