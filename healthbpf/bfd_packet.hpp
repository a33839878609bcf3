// BFD control packet codec (RFC 5880 §4.1, mandatory section only). Decoding applies
// the context-free reception checks of §6.8.6 and returns the reason on failure; it
// never throws. Authentication is not supported: packets with A=1 are rejected.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace tandem::bfd {

enum class State : uint8_t { AdminDown = 0, Down = 1, Init = 2, Up = 3 };
const char* to_string(State s);

// RFC 5880 §4.1 diagnostic codes.
enum class Diag : uint8_t {
  None = 0,
  ControlDetectionExpired = 1,
  EchoFailed = 2,
  NeighborSignaledDown = 3,
  ForwardingPlaneReset = 4,
  PathDown = 5,
  ConcatenatedPathDown = 6,
  AdministrativelyDown = 7,
  ReverseConcatenatedPathDown = 8,
};
const char* to_string(Diag d);

inline constexpr size_t kControlPacketSize = 24;  // mandatory section, no auth
inline constexpr uint8_t kVersion = 1;

struct ControlPacket {
  uint8_t version = kVersion;
  Diag diag = Diag::None;  // 5 bits on the wire; unknown values are kept as is
  State state = State::Down;
  bool poll = false;
  bool final = false;
  bool control_plane_independent = false;
  bool authentication = false;
  bool demand = false;
  bool multipoint = false;
  uint8_t detect_mult = 3;
  uint32_t my_discriminator = 0;
  uint32_t your_discriminator = 0;
  uint32_t desired_min_tx_us = 1'000'000;
  uint32_t required_min_rx_us = 1'000'000;
  uint32_t required_min_echo_rx_us = 0;
  bool operator==(const ControlPacket&) const = default;
};

// Values equal the matching hb_counter of bpf/heartbeat_abi.h, so both receive paths
// count rejections under the same names.
enum class DecodeError : uint8_t {
  None = 0,
  Truncated = 1,         // fewer than 24 bytes
  BadVersion = 2,
  BadLength = 3,         // Length field < 24 or larger than the datagram
  ZeroDetectMult = 4,
  Multipoint = 5,        // M bit set
  ZeroMyDiscriminator = 6,
  ZeroYourDiscriminator = 7,  // Your Discriminator 0 while state is Init or Up
  AuthNotSupported = 8,  // A bit set
};
const char* to_string(DecodeError e);

struct Decoded {
  ControlPacket packet;  // meaningful only when ok()
  DecodeError error = DecodeError::None;
  bool ok() const { return error == DecodeError::None; }
};

// Decode one datagram payload (bytes after the UDP header).
Decoded decode(std::span<const uint8_t> datagram);

// Encode the 24-byte mandatory section (Length 24). The A bit is encoded as given.
std::array<uint8_t, kControlPacketSize> encode(const ControlPacket& packet);

}  // namespace tandem::bfd
