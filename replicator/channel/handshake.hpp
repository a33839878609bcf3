// Replication channel handshake (docs/replication.md). Pure: the Hello is a plain struct
// here (the channel converts tandem.v1.repl.Hello), so this can be fuzzed without
// protobuf.
//
// Each side first sends its Hello in a frame MAC'ed with the pre-shared key at sequence
// 0. Both then derive one key per direction from the PSK and both nonces, so a recorded
// stream cannot be replayed into a new connection; later frames use them from sequence 1.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tandem::replicator {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kNonceLen = 32;
inline constexpr uint64_t kHelloSeq = 0;          // the Hello frame, under the PSK
inline constexpr uint64_t kFirstSessionSeq = 1;   // later frames, under the session keys
inline constexpr size_t kMaxHelloPayload = 4096;  // the frame limit until the Hello is in
inline constexpr std::string_view kKeyLabelPrefix = "tandem-repl-v1 ";
inline constexpr std::string_view kClientToServer = "client->server";
inline constexpr std::string_view kServerToClient = "server->client";

// Numerically equal to tandem.v1.repl.Role (checked in channel.cpp).
enum class NodeRole : int { Unspecified = 0, Primary = 1, Standby = 2 };
const char* to_string(NodeRole r);

struct HelloInfo {
  uint32_t version = kProtocolVersion;
  std::string node_id;
  NodeRole role = NodeRole::Unspecified;
  uint64_t epoch = 0;
  std::vector<uint8_t> nonce;
  std::string software;
};

// Numerically equal to tandem.v1.repl.Error.Code for the ones it shares.
enum class HandshakeErrorCode : int { Version = 1, Role = 3, Protocol = 5 };

struct HandshakeError {
  HandshakeErrorCode code;
  std::string message;
};

struct SessionKeys {
  std::vector<uint8_t> send;  // frames we send
  std::vector<uint8_t> recv;  // frames we receive
};

// Whether the remote Hello is acceptable to us: same protocol version, the opposite
// role (a primary accepts only a standby and vice versa), a 32-byte nonce. The epoch
// is not judged here: the consumer gets the remote Hello.
std::optional<HandshakeError> check_hello(const HelloInfo& local, const HelloInfo& remote);

// HMAC-SHA256(psk, "tandem-repl-v1 " || label || client_nonce || server_nonce).
std::vector<uint8_t> derive_direction_key(std::span<const uint8_t> psk, std::string_view label,
                                          std::span<const uint8_t> client_nonce,
                                          std::span<const uint8_t> server_nonce);

// Both directions' keys from our point of view (client = the dialling side).
SessionKeys derive_session_keys(std::span<const uint8_t> psk, bool we_are_client,
                                std::span<const uint8_t> local_nonce,
                                std::span<const uint8_t> remote_nonce);

// check_hello, then derive_session_keys: what the channel does with the remote Hello.
std::variant<SessionKeys, HandshakeError> complete_handshake(std::span<const uint8_t> psk,
                                                             bool we_are_client,
                                                             const HelloInfo& local,
                                                             const HelloInfo& remote);

}  // namespace tandem::replicator
