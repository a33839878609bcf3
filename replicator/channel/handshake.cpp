#include "replicator/channel/handshake.hpp"

#include <array>

#include "replicator/channel/frame.hpp"

namespace tandem::replicator {

const char* to_string(NodeRole r) {
  switch (r) {
    case NodeRole::Unspecified: return "unspecified";
    case NodeRole::Primary: return "primary";
    case NodeRole::Standby: return "standby";
  }
  return "invalid";
}

std::optional<HandshakeError> check_hello(const HelloInfo& local, const HelloInfo& remote) {
  if (remote.version != local.version) {
    return HandshakeError{HandshakeErrorCode::Version,
                          "protocol version mismatch: peer speaks " + std::to_string(remote.version) +
                              ", we speak " + std::to_string(local.version)};
  }
  const bool complementary = (local.role == NodeRole::Primary && remote.role == NodeRole::Standby) ||
                             (local.role == NodeRole::Standby && remote.role == NodeRole::Primary);
  if (!complementary) {
    const std::string theirs = (remote.role == NodeRole::Unspecified || remote.role == NodeRole::Primary ||
                                remote.role == NodeRole::Standby)
                                   ? to_string(remote.role)
                                   : "invalid (" + std::to_string(static_cast<int>(remote.role)) + ")";
    return HandshakeError{HandshakeErrorCode::Role, std::string("role conflict: we are ") +
                                                        to_string(local.role) + ", peer " +
                                                        (remote.node_id.empty() ? "" : "'" + remote.node_id + "' ") +
                                                        "claims " + theirs};
  }
  if (remote.nonce.size() != kNonceLen) {
    return HandshakeError{HandshakeErrorCode::Protocol, "Hello nonce has " + std::to_string(remote.nonce.size()) +
                                                            " bytes, expected " + std::to_string(kNonceLen)};
  }
  return std::nullopt;
}

std::vector<uint8_t> derive_direction_key(std::span<const uint8_t> psk, std::string_view label,
                                          std::span<const uint8_t> client_nonce,
                                          std::span<const uint8_t> server_nonce) {
  const auto bytes = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  const std::array<std::span<const uint8_t>, 4> parts{bytes(kKeyLabelPrefix), bytes(label), client_nonce,
                                                      server_nonce};
  return hmac_sha256(psk, parts);
}

SessionKeys derive_session_keys(std::span<const uint8_t> psk, bool we_are_client,
                                std::span<const uint8_t> local_nonce,
                                std::span<const uint8_t> remote_nonce) {
  const auto client_nonce = we_are_client ? local_nonce : remote_nonce;
  const auto server_nonce = we_are_client ? remote_nonce : local_nonce;
  auto c2s = derive_direction_key(psk, kClientToServer, client_nonce, server_nonce);
  auto s2c = derive_direction_key(psk, kServerToClient, client_nonce, server_nonce);
  if (we_are_client) return SessionKeys{std::move(c2s), std::move(s2c)};
  return SessionKeys{std::move(s2c), std::move(c2s)};
}

std::variant<SessionKeys, HandshakeError> complete_handshake(std::span<const uint8_t> psk,
                                                             bool we_are_client,
                                                             const HelloInfo& local,
                                                             const HelloInfo& remote) {
  if (auto err = check_hello(local, remote)) return *err;
  return derive_session_keys(psk, we_are_client, local.nonce, remote.nonce);
}

}  // namespace tandem::replicator
