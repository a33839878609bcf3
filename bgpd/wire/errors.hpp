// BGP error codes (RFC 4271 §4.5, RFC 4486, RFC 7313, RFC 8203) and the RFC 7606
// classification every decoding error carries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::wire {

// What the receiver must do about a malformed input (RFC 7606 §2, §3).
enum class ErrorAction : uint8_t {
  SessionReset,      // send NOTIFICATION (code/subcode/data) and close
  TreatAsWithdraw,   // withdraw every NLRI of the UPDATE, session stays up
  AttributeDiscard,  // drop the offending attribute, use the rest
};
const char* to_string(ErrorAction a);

namespace err {
// NOTIFICATION error codes.
inline constexpr uint8_t kHeader = 1, kOpen = 2, kUpdate = 3, kHoldTimerExpired = 4, kFsm = 5,
                         kCease = 6, kRouteRefresh = 7, kSendHoldTimerExpired = 8;
// Message header error subcodes.
inline constexpr uint8_t kConnectionNotSynchronized = 1, kBadMessageLength = 2,
                         kBadMessageType = 3;
// OPEN message error subcodes.
inline constexpr uint8_t kUnsupportedVersion = 1, kBadPeerAs = 2, kBadBgpIdentifier = 3,
                         kUnsupportedOptionalParameter = 4, kUnacceptableHoldTime = 6,
                         kUnsupportedCapability = 7, kRoleMismatch = 11;
// UPDATE message error subcodes.
inline constexpr uint8_t kMalformedAttributeList = 1, kUnrecognizedWellKnownAttribute = 2,
                         kMissingWellKnownAttribute = 3, kAttributeFlagsError = 4,
                         kAttributeLengthError = 5, kInvalidOriginAttribute = 6,
                         kInvalidNextHopAttribute = 8, kOptionalAttributeError = 9,
                         kInvalidNetworkField = 10, kMalformedAsPath = 11;
// FSM error subcodes (RFC 6608).
inline constexpr uint8_t kUnexpectedInOpenSent = 1, kUnexpectedInOpenConfirm = 2,
                         kUnexpectedInEstablished = 3;
// Cease subcodes (RFC 4486, RFC 8538).
inline constexpr uint8_t kMaxPrefixes = 1, kAdminShutdown = 2, kPeerDeconfigured = 3,
                         kAdminReset = 4, kConnectionRejected = 5, kOtherConfigChange = 6,
                         kConnectionCollision = 7, kOutOfResources = 8, kHardReset = 9,
                         kBfdDown = 10;
// ROUTE-REFRESH message error subcodes (RFC 7313).
inline constexpr uint8_t kInvalidMessageLength = 1;
}  // namespace err

// A decoding error: what to do, and, for SessionReset, the NOTIFICATION to send.
struct WireError {
  ErrorAction action = ErrorAction::SessionReset;
  uint8_t code = 0;
  uint8_t subcode = 0;
  std::vector<uint8_t> data;  // NOTIFICATION data field
  std::string reason;         // human-readable, for logs ("AS_PATH segment overruns attribute")
};

// "UPDATE Message Error / Malformed AS_PATH" etc., for logs.
std::string describe_error_code(uint8_t code, uint8_t subcode);

}  // namespace tandem::wire
