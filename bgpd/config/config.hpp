// tandemd configuration: the TOML file (see etc/tandemd.toml) parsed into plain
// values. Every error names the file, the line and the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::config {

struct PeerConfig {
  wire::IpAddr address;
  uint32_t remote_as = 0;
  std::string description;
  std::optional<wire::IpAddr> local_address;
  bool passive = false;
  uint16_t hold_time = 90;
  uint16_t connect_retry = 30;
  std::vector<wire::Family> families{wire::kIpv4Unicast, wire::kIpv6Unicast};
  bool next_hop_self = false;
  bool route_reflector_client = false;
  uint16_t port = 179;
  bool enabled = true;
  // Per-peer override of [graceful_restart].enabled (unset: the global value).
  std::optional<bool> graceful_restart;
  // Prefix limit per family (RFC 4486): above it the session ends with Cease/Maximum
  // Number of Prefixes Reached and stays down for max_prefixes_restart seconds (0: until
  // an operator reset/enable or a reload), unless max_prefixes_warning_only.
  uint32_t max_prefixes = 0;  // 0 = no limit
  bool max_prefixes_warning_only = false;
  uint32_t max_prefixes_restart = 0;
  // Routes whose AS_PATH holds more AS numbers than this (every segment, sets and
  // confederation segments included) are kept out of the decision process, logged and
  // counted as rejected; the session stays up. 0 = no limit.
  uint32_t max_as_path_length = 0;
  // Send hold time (RFC 9687): a peer that reads nothing for this long while we have
  // data for it is torn down. 0 = the RFC's default, max(8 min, 2 x hold time).
  uint32_t send_hold_time = 0;
  std::string password;       // TCP-MD5 (RFC 2385) key; empty = none
  bool ttl_security = false;  // GTSM (RFC 5082), directly connected: TTL 255 sent and required
  // BFD (RFC 5880/5882): a session to this peer's address; its Down closes the BGP
  // session at once and blocks reconnecting until Up. Needs [bfd] enabled = true.
  bool bfd = false;
  // Per-peer overrides of the [bfd] intervals (unset: the [bfd] values).
  std::optional<uint32_t> bfd_desired_min_tx_ms;
  std::optional<uint32_t> bfd_required_min_rx_ms;
  std::optional<uint8_t> bfd_detect_mult;
  bool operator==(const PeerConfig&) const = default;
};

struct NetworkConfig {
  wire::Prefix prefix;
  std::optional<wire::IpAddr> next_hop;
  std::vector<uint32_t> communities;
  std::vector<wire::LargeCommunity> large_communities;
  std::optional<uint32_t> med;
  std::optional<uint32_t> local_pref;
  wire::Origin origin = wire::Origin::Igp;
  bool operator==(const NetworkConfig&) const = default;
};

struct FibConfig {
  bool enabled = false;
  uint32_t table = 254;
  uint8_t protocol = 201;
  uint32_t metric = 20;
  bool operator==(const FibConfig&) const = default;
};

// [graceful_restart]: RFC 4724 (both roles), RFC 8538, RFC 9494. Times in seconds.
struct GracefulRestartConfig {
  bool enabled = true;          // advertise the capability and act as helper
  uint16_t restart_time = 120;  // advertised Restart Time (1..4095)
  bool notification = true;     // advertise the N bit (RFC 8538)
  uint32_t stale_time = 360;    // max wait for a restarted helper peer's End-of-RIB
  // Restarting speaker: families listed in our capability (empty: helper only) and
  // those whose Forwarding State bit we set (our kernel routes survive our restart).
  std::vector<wire::Family> families{wire::kIpv4Unicast, wire::kIpv6Unicast};
  std::vector<wire::Family> forwarding_state{wire::kIpv4Unicast, wire::kIpv6Unicast};
  uint32_t selection_deferral_time = 360;  // max wait for every GR peer's End-of-RIB
  // Exists while tandemd runs; found at start-up = the last run did not exit cleanly.
  std::string marker_file = "/run/tandemd/running";
  uint32_t long_lived_stale_time = 0;  // LLGR (RFC 9494) stale time we advertise; 0 = off
  bool operator==(const GracefulRestartConfig&) const = default;
};

// [api]: the gRPC management API. Always on a UNIX socket; TCP only with mutual TLS.
struct ApiConfig {
  std::string socket = "/run/tandemd/tandemd.sock";
  uint32_t socket_mode = 0660;  // applied with chmod after bind
  std::string tcp_listen;       // "127.0.0.1:50051" / "[::1]:50051"; empty = off
  std::string tls_cert;         // PEM files; all three required with tcp_listen
  std::string tls_key;
  std::string tls_client_ca;
  bool operator==(const ApiConfig&) const = default;
};

// [mrt]: MRT (RFC 6396) recording. File names are strftime patterns; empty = off.
struct MrtConfig {
  std::string updates_file;        // BGP4MP: every message sent/received, FSM transitions
  uint32_t updates_interval = 300; // seconds per file (rotation)
  std::string rib_file;            // TABLE_DUMP_V2 snapshots of the RIB
  uint32_t rib_interval = 7200;    // seconds between snapshots (one file each)
  std::string compression = "none";  // none, gzip, bzip2
  bool extended_time = false;      // BGP4MP_ET (microsecond timestamps)
  uint64_t queue_max_bytes = uint64_t{64} << 20;  // per writer; beyond: dropped, counted
  bool operator==(const MrtConfig&) const = default;
};

// [metrics]: Prometheus text exposition over HTTP.
struct MetricsConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:9179";
  bool operator==(const MetricsConfig&) const = default;
};

// [bfd]: BFD sessions (healthbpf/), received by the XDP program or the user-space
// fallback. Intervals in milliseconds (RFC 5880 carries microseconds).
struct BfdConfig {
  bool enabled = false;
  std::string receive_path = "auto";   // "auto" | "xdp" | "user-space"
  std::vector<std::string> interfaces;  // where the XDP program is attached
  std::string xdp_mode = "auto";       // "auto" (native, else generic) | "native" | "generic"
  // "auto": in steady state the XDP program answers for us (XDP_TX) where the receive
  // path is XDP (not native XDP on veth, whose other end must run XDP too); "xdp": wherever
  // the program is attached; "user-space": every packet from the daemon.
  std::string transmit_path = "auto";
  uint32_t desired_min_tx_ms = 300;
  uint32_t required_min_rx_ms = 300;
  uint8_t detect_mult = 3;
  bool operator==(const BfdConfig&) const = default;
};

// [ha]: the replication pair (replicator/). Absent or role = "none": a single node.
// The primary listens on `listen`; the standby dials the primary at `peer`. Both nodes
// carry the same peer configuration (checked at bulk sync).
struct HaConfig {
  std::string role = "none";  // "none" | "primary" | "standby"
  std::string node_id;        // this node's name in logs and the API; default: router id
  std::optional<std::pair<wire::IpAddr, uint16_t>> listen;  // replication listener (primary)
  std::optional<std::pair<wire::IpAddr, uint16_t>> peer;    // the other node (standby dials it)
  std::string key_file;       // pre-shared key: >= 32 bytes as hex; not group/world readable
  std::string epoch_file;     // where the term is kept across restarts; empty: in memory
  uint32_t connect_retry_ms = 1000;  // standby: re-dial interval
  uint32_t channel_dead_ms = 3000;   // no frame from the other node for this long: channel down
  // Window estimation (standby -> primary flow control).
  uint32_t standby_buffer_bytes = 4u << 20;   // the standby's per-session transmission buffer
  uint32_t window_update_mss = 2;             // window update after this many MSS read (1 or 2)
  uint32_t window_update_timer_ms = 10;       // ... and at the latest after this long
  uint32_t max_unreplicated_bytes = 256u << 10;  // inbound acked to the peer, not yet held by the standby
  // Checkpoints (primary -> standby).
  uint32_t checkpoint_interval_ms = 100;
  uint32_t checkpoint_threshold_bytes = 16u << 10;  // also when a sequence number moved this far
  // Unplanned takeover by the standby when the primary's process ends or its heartbeat
  // is lost: "nsr" (carry each session on where the sequence probe proves it in sync,
  // else the graceful-restart path), "graceful-restart" (always: RST to the peer, then
  // reconnect as the restarting speaker), "none" (only the planned switchover).
  std::string takeover = "nsr";
  uint32_t takeover_probe_timeout_ms = 200;  // how long to wait for a peer's probe reply
  // A session whose peer sent bytes this node never held is carried on at the held end
  // for up to this long, waiting for the peer to send them again (they were in flight,
  // never acknowledged); if it does not, the dead primary acknowledged them: reset and
  // the graceful-restart path. 0: the graceful-restart path at once.
  uint32_t takeover_resend_wait_ms = 1000;
  // The crash guard: a tc-egress BPF program on vip_interface that drops the FIN/RST a
  // dying primary's kernel would send for the sessions (it outlives the process; its
  // table is pinned under crash_guard_pin_dir). Needs vip_interface.
  bool crash_guard = true;
  std::string crash_guard_pin_dir = "/sys/fs/bpf/tandem";
  // The ACK hold (part of the crash guard, docs/ha.md): the primary's kernel acknowledges
  // a peer's bytes only once the standby holds them, so that a hung primary cannot have
  // acknowledged bytes the standby never got. Needs crash_guard; not for TCP-MD5 peers.
  bool hold_acks = true;
  // Node liveness: a BFD session with the other node (needs [bfd] enabled).
  // The term beacon (replicator/witness): the other node's address on vip_interface's
  // segment; the partition witness (docs/ha.md, "Fencing"). nullopt: no beacon.
  std::optional<wire::IpAddr> witness_address;
  uint16_t witness_port = 7180;
  bool heartbeat = false;
  std::optional<wire::IpAddr> heartbeat_address;        // the other node; default: peer's address
  std::optional<wire::IpAddr> heartbeat_local_address;  // our source; default: listen's address
  uint32_t heartbeat_interval_ms = 10;                  // transmit and receive interval
  uint8_t heartbeat_detect_mult = 3;
  // A lost heartbeat makes a takeover only once the replication channel and the term
  // beacon have been silent for this many detection times too (docs/ha.md): 2 rides out
  // a standby that was itself starved; 1 detects node death in one detection time.
  uint8_t takeover_silence_mult = 2;
  // The addresses the peers talk to, held by whichever node is the primary (moved at a
  // takeover): address and prefix length, on vip_interface.
  std::vector<std::pair<wire::IpAddr, uint8_t>> vips;
  std::string vip_interface;
  bool enabled() const { return role == "primary" || role == "standby"; }
  // The address of the heartbeat session (nullopt when neither heartbeat_address nor peer is set).
  std::optional<wire::IpAddr> heartbeat_peer() const {
    if (heartbeat_address) return heartbeat_address;
    if (peer) return peer->first;
    return std::nullopt;
  }
  bool operator==(const HaConfig&) const = default;
};

// "192.0.2.1:50051" or "[2001:db8::1]:50051" -> (address, port); nullopt if malformed.
std::optional<std::pair<wire::IpAddr, uint16_t>> parse_host_port(std::string_view text);

struct Config {
  std::string file;  // where it was read from
  uint32_t router_id = 0;  // host order
  uint32_t local_as = 0;
  std::vector<wire::IpAddr> listen;
  uint16_t port = 179;
  std::string state_dump;
  uint32_t memory_budget_mb = 0;  // [global]: resident memory to stay within (reported, warned); 0 = none
  std::string log_level = "info";
  std::string log_format = "text";
  FibConfig fib;
  ApiConfig api;
  MetricsConfig metrics;
  MrtConfig mrt;
  GracefulRestartConfig graceful_restart;
  BfdConfig bfd;
  HaConfig ha;
  std::vector<PeerConfig> peers;
  std::vector<NetworkConfig> networks;

  const PeerConfig* find_peer(const wire::IpAddr& address) const;
};

struct ConfigError {
  std::string file;
  int line = 0;  // 0 when unknown
  std::string key;  // dotted path, e.g. "peer[2].remote_as"
  std::string message;
  std::string to_string() const;  // "FILE:LINE: KEY: MESSAGE"
};

using LoadResult = std::variant<Config, ConfigError>;

// Parse TOML text; `file` is only used in messages.
LoadResult parse_config(std::string_view text, const std::string& file);
LoadResult load_config(const std::string& path);

// Canonical one-line texts of the configuration that shapes BGP sessions and routes,
// for comparing two nodes (HA): equal texts = equal behaviour towards the peers.
// describe_peer covers every PeerConfig field except the description (cosmetic); the
// MD5 password shows only as md5=yes/no. Families are listed sorted.
std::string describe_peer(const PeerConfig& p);
// router_id, local_as, port, [graceful_restart] (not marker_file: a local path), the
// [bfd] intervals peers use (not interfaces/receive path: local), every [[network]]
// sorted by prefix. Not: listen addresses, [fib], [api], [log], [mrt], [metrics], [ha].
std::string describe_global(const Config& c);

// "65000:1" -> 0xFDE80001; "4200000000:1:2" -> large community.
std::optional<uint32_t> parse_community(std::string_view text);
std::optional<wire::LargeCommunity> parse_large_community(std::string_view text);

}  // namespace tandem::config
