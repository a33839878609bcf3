// Prometheus text exposition format 0.0.4: a pure function from a snapshot of the
// daemon's counters to the body of a GET /metrics response. Collecting the snapshot
// (speaker state, /proc/self) is in metrics.cpp; nothing here does I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bgpd/fsm/fsm.hpp"

namespace tandem::app {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

struct PeerMetrics {
  std::string address;  // "192.0.2.2", the `peer` label
  uint32_t remote_as = 0;
  std::string description;
  bool enabled = true;
  fsm::State state = fsm::State::Idle;
  double uptime_seconds = 0;  // 0 unless Established
  uint64_t prefixes_received = 0;
  uint64_t prefixes_accepted = 0;
  uint64_t prefixes_advertised = 0;
  uint64_t messages_received = 0;
  uint64_t messages_sent = 0;
  uint64_t updates_received = 0;
  uint64_t updates_sent = 0;
};

struct FamilyPrefixes {
  std::string family;  // "ipv4-unicast"
  uint64_t prefixes = 0;
};

// From /proc/self; absent where /proc cannot be read.
struct ProcessMetrics {
  double cpu_seconds = 0;
  uint64_t resident_memory_bytes = 0;
  uint64_t virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // Unix time
  uint64_t open_fds = 0;
  std::optional<uint64_t> max_fds;
};

struct MetricsSnapshot {
  std::vector<PeerMetrics> peers;
  std::vector<FamilyPrefixes> rib;  // Loc-RIB prefixes (with a best path) per family
  uint64_t attribute_sets = 0;
  uint64_t connections_refused = 0;  // at accept, since start (Speaker::connections_refused)
  std::optional<ProcessMetrics> process;
};

// tandem_peer_state: 0 administratively disabled, else Idle=1 .. Established=6.
int peer_state_value(bool enabled, fsm::State state);

// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

// The whole exposition text (every metric family with HELP and TYPE, ends with '\n').
std::string render_metrics(const MetricsSnapshot& snapshot);

}  // namespace tandem::app
