// What the replicator reports (API `HaService`, `tandemctl ha`, metrics). A plain
// snapshot, taken on the event loop thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem::replicator {

// Per BGP connection. The primary fills the stream, window and clamp figures from its
// side; the standby fills the buffer, shadow and comparison figures from its side.
struct SessionReplStatus {
  uint64_t connection_id = 0;
  std::string peer;
  // "bulk-syncing" (snapshot being sent / not yet consumed), "in-sync", "lagging"
  // (more than a window-update threshold behind, or unacknowledged for longer than
  // the window-update timer), "not-replicated" (no standby, or not Established yet).
  std::string sync_state;
  // Inbound stream (peer -> us): read from the socket / sent to the standby / held by
  // the standby (acknowledged) / read by the standby's shadow session.
  uint64_t inbound_read = 0, inbound_sent = 0, inbound_acked = 0, inbound_consumed = 0;
  // Outbound stream (us -> peer): produced / sent to the standby / acknowledged by it /
  // written to the peer's socket.
  uint64_t outbound_queued = 0, outbound_sent = 0, outbound_acked = 0, outbound_written = 0;
  uint64_t lag_bytes = 0;  // inbound read but not yet held by the standby
  uint64_t lag_us = 0;     // age of the oldest such byte (0 when none)
  // Window estimation.
  uint32_t standby_queued = 0;     // bytes waiting in the standby's transmission buffer
  uint32_t estimated_window = 0;   // what the standby can still absorb
  uint32_t window_clamp = 0;       // TCP_WINDOW_CLAMP on the peer socket (0: not clamped)
  uint64_t window_updates = 0;
  // Latest checkpoint (sequence space).
  bool has_checkpoint = false;
  uint32_t snd_una = 0, snd_nxt = 0, rcv_nxt = 0, peer_window = 0;
  uint64_t checkpoint_time_us = 0;  // CLOCK_REALTIME
  uint64_t checkpoints = 0;
  // Standby: the shadow's view against the primary's outbound stream.
  uint64_t outbound_differences = 0;  // prefixes whose last comparison differed
  uint64_t outbound_compared = 0;     // comparisons done
};

struct ReplStatus {
  std::string role;     // "none", "primary", "standby"
  std::string node_id;
  uint64_t epoch = 0;
  std::string peer_node;      // the other node's id, once known
  std::string peer_address;   // "10.0.0.2:1790"
  // "listening", "connecting", "handshake", "bulk-syncing", "in-sync", "refused",
  // "down".
  std::string channel_state;
  std::string last_error;     // why the channel last closed or was refused
  uint64_t channel_ups = 0;
  uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0, auth_failures = 0;
  uint64_t snapshots = 0;          // bulk syncs completed
  uint64_t last_snapshot_ms = 0;   // how long the last one took
  uint64_t last_snapshot_routes = 0;
  uint64_t max_stall_us = 0;       // longest single snapshot step on the event loop
  // The pair's heartbeat ([ha] heartbeat = true, a BFD session with the other node):
  // "off" (not configured), "down" (not Up yet, or lost), "up".
  std::string heartbeat = "off";
  std::string heartbeat_why;           // the last change in words
  uint64_t heartbeat_losses = 0;       // times it went from up to down
  int64_t heartbeat_change_age_ms = -1;  // since the last change, -1: never changed
  std::vector<SessionReplStatus> sessions;
};

}  // namespace tandem::replicator
