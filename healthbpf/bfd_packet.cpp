#include "healthbpf/bfd_packet.hpp"

namespace tandem::bfd {

const char* to_string(State s) {
  switch (s) {
    case State::AdminDown: return "AdminDown";
    case State::Down: return "Down";
    case State::Init: return "Init";
    case State::Up: return "Up";
  }
  return "?";
}

const char* to_string(Diag d) {
  switch (d) {
    case Diag::None: return "No Diagnostic";
    case Diag::ControlDetectionExpired: return "Control Detection Time Expired";
    case Diag::EchoFailed: return "Echo Function Failed";
    case Diag::NeighborSignaledDown: return "Neighbor Signaled Session Down";
    case Diag::ForwardingPlaneReset: return "Forwarding Plane Reset";
    case Diag::PathDown: return "Path Down";
    case Diag::ConcatenatedPathDown: return "Concatenated Path Down";
    case Diag::AdministrativelyDown: return "Administratively Down";
    case Diag::ReverseConcatenatedPathDown: return "Reverse Concatenated Path Down";
  }
  return "Unknown Diagnostic";
}

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::None: return "ok";
    case DecodeError::Truncated: return "truncated (< 24 bytes)";
    case DecodeError::BadVersion: return "version is not 1";
    case DecodeError::BadLength: return "bad Length field";
    case DecodeError::ZeroDetectMult: return "Detect Mult is zero";
    case DecodeError::Multipoint: return "Multipoint bit set";
    case DecodeError::ZeroMyDiscriminator: return "My Discriminator is zero";
    case DecodeError::ZeroYourDiscriminator: return "Your Discriminator is zero in state Init/Up";
    case DecodeError::AuthNotSupported: return "authentication not supported";
  }
  return "?";
}

namespace {

uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace

// Check order matches heartbeat.bpf.c so both paths count a packet under one reason.
Decoded decode(std::span<const uint8_t> d) {
  Decoded out;
  if (d.size() < kControlPacketSize) {
    out.error = DecodeError::Truncated;
    return out;
  }
  ControlPacket& p = out.packet;
  p.version = d[0] >> 5;
  p.diag = static_cast<Diag>(d[0] & 0x1f);
  p.state = static_cast<State>(d[1] >> 6);
  p.poll = (d[1] & 0x20) != 0;
  p.final = (d[1] & 0x10) != 0;
  p.control_plane_independent = (d[1] & 0x08) != 0;
  p.authentication = (d[1] & 0x04) != 0;
  p.demand = (d[1] & 0x02) != 0;
  p.multipoint = (d[1] & 0x01) != 0;
  p.detect_mult = d[2];
  const uint8_t length = d[3];
  p.my_discriminator = get32(&d[4]);
  p.your_discriminator = get32(&d[8]);
  p.desired_min_tx_us = get32(&d[12]);
  p.required_min_rx_us = get32(&d[16]);
  p.required_min_echo_rx_us = get32(&d[20]);

  if (p.version != kVersion) out.error = DecodeError::BadVersion;
  else if (length < kControlPacketSize || length > d.size()) out.error = DecodeError::BadLength;
  else if (p.detect_mult == 0) out.error = DecodeError::ZeroDetectMult;
  else if (p.multipoint) out.error = DecodeError::Multipoint;
  else if (p.my_discriminator == 0) out.error = DecodeError::ZeroMyDiscriminator;
  else if (p.your_discriminator == 0 && (p.state == State::Init || p.state == State::Up))
    out.error = DecodeError::ZeroYourDiscriminator;
  else if (p.authentication) out.error = DecodeError::AuthNotSupported;
  return out;
}

std::array<uint8_t, kControlPacketSize> encode(const ControlPacket& p) {
  std::array<uint8_t, kControlPacketSize> b{};
  b[0] = static_cast<uint8_t>((p.version << 5) | (static_cast<uint8_t>(p.diag) & 0x1f));
  b[1] = static_cast<uint8_t>((static_cast<uint8_t>(p.state) << 6) | (p.poll ? 0x20 : 0) |
                              (p.final ? 0x10 : 0) | (p.control_plane_independent ? 0x08 : 0) |
                              (p.authentication ? 0x04 : 0) | (p.demand ? 0x02 : 0) |
                              (p.multipoint ? 0x01 : 0));
  b[2] = p.detect_mult;
  b[3] = static_cast<uint8_t>(kControlPacketSize);
  put32(&b[4], p.my_discriminator);
  put32(&b[8], p.your_discriminator);
  put32(&b[12], p.desired_min_tx_us);
  put32(&b[16], p.required_min_rx_us);
  put32(&b[20], p.required_min_echo_rx_us);
  return b;
}

}  // namespace tandem::bfd
