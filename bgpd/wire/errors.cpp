// Names of error actions and NOTIFICATION codes, for logs.
#include "bgpd/wire/errors.hpp"

#include "bgpd/wire/error_util.hpp"

namespace tandem::wire {

const char* to_string(ErrorAction a) {
  switch (a) {
    case ErrorAction::SessionReset: return "session-reset";
    case ErrorAction::TreatAsWithdraw: return "treat-as-withdraw";
    case ErrorAction::AttributeDiscard: return "attribute-discard";
  }
  return "unknown";
}

namespace {

const char* code_name(uint8_t code) {
  switch (code) {
    case err::kHeader: return "Message Header Error";
    case err::kOpen: return "OPEN Message Error";
    case err::kUpdate: return "UPDATE Message Error";
    case err::kHoldTimerExpired: return "Hold Timer Expired";
    case err::kFsm: return "Finite State Machine Error";
    case err::kCease: return "Cease";
    case err::kRouteRefresh: return "ROUTE-REFRESH Message Error";
    case err::kSendHoldTimerExpired: return "Send Hold Timer Expired";
    default: return nullptr;
  }
}

const char* subcode_name(uint8_t code, uint8_t sub) {
  switch (code) {
    case err::kHeader:
      switch (sub) {
        case err::kConnectionNotSynchronized: return "Connection Not Synchronized";
        case err::kBadMessageLength: return "Bad Message Length";
        case err::kBadMessageType: return "Bad Message Type";
        default: return nullptr;
      }
    case err::kOpen:
      switch (sub) {
        case err::kUnsupportedVersion: return "Unsupported Version Number";
        case err::kBadPeerAs: return "Bad Peer AS";
        case err::kBadBgpIdentifier: return "Bad BGP Identifier";
        case err::kUnsupportedOptionalParameter: return "Unsupported Optional Parameter";
        case 5: return "Authentication Failure (deprecated)";
        case err::kUnacceptableHoldTime: return "Unacceptable Hold Time";
        case err::kUnsupportedCapability: return "Unsupported Capability";
        case err::kRoleMismatch: return "Role Mismatch";
        default: return nullptr;
      }
    case err::kUpdate:
      switch (sub) {
        case err::kMalformedAttributeList: return "Malformed Attribute List";
        case err::kUnrecognizedWellKnownAttribute: return "Unrecognized Well-known Attribute";
        case err::kMissingWellKnownAttribute: return "Missing Well-known Attribute";
        case err::kAttributeFlagsError: return "Attribute Flags Error";
        case err::kAttributeLengthError: return "Attribute Length Error";
        case err::kInvalidOriginAttribute: return "Invalid ORIGIN Attribute";
        case 7: return "AS Routing Loop (deprecated)";
        case err::kInvalidNextHopAttribute: return "Invalid NEXT_HOP Attribute";
        case err::kOptionalAttributeError: return "Optional Attribute Error";
        case err::kInvalidNetworkField: return "Invalid Network Field";
        case err::kMalformedAsPath: return "Malformed AS_PATH";
        default: return nullptr;
      }
    case err::kFsm:
      switch (sub) {
        case 0: return "Unspecified Error";
        case err::kUnexpectedInOpenSent: return "Receive Unexpected Message in OpenSent State";
        case err::kUnexpectedInOpenConfirm:
          return "Receive Unexpected Message in OpenConfirm State";
        case err::kUnexpectedInEstablished:
          return "Receive Unexpected Message in Established State";
        default: return nullptr;
      }
    case err::kCease:
      switch (sub) {
        case err::kMaxPrefixes: return "Maximum Number of Prefixes Reached";
        case err::kAdminShutdown: return "Administrative Shutdown";
        case err::kPeerDeconfigured: return "Peer De-configured";
        case err::kAdminReset: return "Administrative Reset";
        case err::kConnectionRejected: return "Connection Rejected";
        case err::kOtherConfigChange: return "Other Configuration Change";
        case err::kConnectionCollision: return "Connection Collision Resolution";
        case err::kOutOfResources: return "Out of Resources";
        case err::kHardReset: return "Hard Reset";
        case err::kBfdDown: return "BFD Down";
        default: return nullptr;
      }
    case err::kRouteRefresh:
      if (sub == err::kInvalidMessageLength) return "Invalid Message Length";
      return nullptr;
    default: return nullptr;
  }
}

}  // namespace

namespace detail {
std::string describe_error_code_sep(uint8_t code, uint8_t subcode, const char* sep) {
  std::string out;
  const char* c = code_name(code);
  if (c != nullptr) {
    out = c;
  } else {
    out = "Error code " + std::to_string(code);
  }
  const char* s = subcode_name(code, subcode);
  if (s != nullptr) {
    out += sep;
    out += s;
  } else if (subcode != 0) {
    out += sep;
    out += "subcode " + std::to_string(subcode);
  }
  return out;
}
}  // namespace detail

std::string describe_error_code(uint8_t code, uint8_t subcode) {
  return detail::describe_error_code_sep(code, subcode, " / ");
}

}  // namespace tandem::wire
