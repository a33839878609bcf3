// The term beacon: a primary says "I am primary in term T" to the other node every
// heartbeat interval over the peers' segment ([ha] vip_interface), authenticated with
// the pair's key. It is the witness for partitions (docs/ha.md, "Fencing"):
// - a standby that still hears it does not take over on a lost heartbeat: the primary
//   is alive and reaches the peers; what failed is the link between the nodes;
// - a primary that hears a newer term fences itself: the other node took over while the
//   two could not hear each other, and now they can again.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::replicator::witness {

// On the wire: "TNDMBEAC" | version 1 | term (8, big-endian) | sender (8) | sent at
// (8, ns since the epoch) | HMAC-SHA256 over all of it (32) = 65 bytes.
struct Beacon {
  uint64_t term = 0;
  uint64_t sender = 0;   // random per process: tells a node its own beacon apart
  uint64_t sent_ns = 0;  // the sender's clock; for logs only
  bool operator==(const Beacon&) const = default;
};

inline constexpr size_t kBeaconSize = 65;

std::vector<uint8_t> encode_beacon(const Beacon& b, std::span<const uint8_t> key);
// nullopt + why (wrong size, magic, version or MAC) for anything else.
std::optional<Beacon> decode_beacon(std::span<const uint8_t> bytes, std::span<const uint8_t> key, std::string& why);

struct BeaconOptions {
  std::string interface;           // vip_interface: sent and received only there
  wire::IpAddr to;                 // the other node's address on that segment
  uint16_t port = 7180;
  std::chrono::milliseconds every{10};
  std::vector<uint8_t> key;
};

struct BeaconCounters {
  uint64_t sent = 0, send_errors = 0, received = 0, rejected = 0;
};

class TermBeacon {
 public:
  using OnBeacon = std::function<void(const Beacon&, const wire::IpAddr& from)>;
  TermBeacon(boost::asio::io_context& io, BeaconOptions opts, OnBeacon on_beacon);
  ~TermBeacon();
  TermBeacon(const TermBeacon&) = delete;
  TermBeacon& operator=(const TermBeacon&) = delete;

  // Bind the port on the interface and listen. False + error (e.g. no such interface).
  bool start(std::string& error);
  // Send in `term` from now on (a primary); 0 stops sending (a standby, or fenced).
  void announce(uint64_t term);
  void stop();
  // When a valid beacon from the other node last arrived (nullopt: never).
  std::optional<std::chrono::steady_clock::time_point> last_heard() const { return last_heard_; }
  const BeaconCounters& counters() const { return counters_; }
  uint64_t self() const { return self_; }

 private:
  void receive();
  void tick();

  boost::asio::io_context& io_;
  BeaconOptions opts_;
  OnBeacon on_beacon_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::udp::endpoint to_, from_;
  std::array<uint8_t, 128> buf_{};
  uint64_t self_ = 0;
  uint64_t term_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_heard_;
  BeaconCounters counters_;
  std::chrono::steady_clock::time_point last_reject_log_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::replicator::witness
