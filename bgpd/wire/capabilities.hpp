// OPEN optional parameters and capabilities (RFC 5492): multiprotocol (RFC 4760),
// route refresh (RFC 2918), enhanced route refresh (RFC 7313), graceful restart
// (RFC 4724), 4-octet AS (RFC 6793), ADD-PATH (RFC 7911), extended message (RFC 8654),
// long-lived graceful restart (RFC 9494).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bgpd/wire/result.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::wire {

namespace cap {
inline constexpr uint8_t kMultiprotocol = 1, kRouteRefresh = 2, kExtendedNextHop = 5,
                         kExtendedMessage = 6, kGracefulRestart = 64, kFourOctetAs = 65,
                         kAddPath = 69, kEnhancedRouteRefresh = 70, kLongLivedGr = 71,
                         kFqdn = 73, kRouteRefreshCisco = 128;
}

struct GracefulRestartCap {
  bool restart_state = false;   // R bit: the sender has restarted
  bool notification = false;    // N bit (RFC 8538)
  uint16_t restart_time = 120;  // seconds, 12 bits
  struct Af {
    Family family;
    bool forwarding_state = false;  // F bit
    bool operator==(const Af&) const = default;
  };
  std::vector<Af> families;
  bool operator==(const GracefulRestartCap&) const = default;
};

struct LlgrCap {
  struct Af {
    Family family;
    bool forwarding_state = false;  // F bit
    uint32_t stale_time = 0;        // seconds, 24 bits
    bool operator==(const Af&) const = default;
  };
  std::vector<Af> families;
  bool operator==(const LlgrCap&) const = default;
};

struct AddPathCap {
  enum Mode : uint8_t { Receive = 1, Send = 2, Both = 3 };
  struct Af {
    Family family;
    Mode mode = Receive;
    bool operator==(const Af&) const = default;
  };
  std::vector<Af> families;
  bool operator==(const AddPathCap&) const = default;
};

struct RawCapability {
  uint8_t code = 0;
  std::vector<uint8_t> value;
  bool operator==(const RawCapability&) const = default;
};

struct Capabilities {
  std::vector<Family> multiprotocol;  // families announced with the MP capability
  std::optional<uint32_t> four_octet_as;
  bool route_refresh = false;
  bool enhanced_route_refresh = false;
  bool extended_message = false;
  std::optional<GracefulRestartCap> graceful_restart;
  std::optional<LlgrCap> llgr;
  std::optional<AddPathCap> add_path;
  std::vector<RawCapability> unknown;  // received, not understood; kept for display
  bool operator==(const Capabilities&) const = default;

  bool has_family(Family f) const;
};

// Decode the capabilities carried in OPEN optional parameters (type 2). Errors are
// SessionReset with OPEN Message Error subcodes.
Result<Capabilities> decode_capabilities(std::span<const uint8_t> optional_parameters,
                                         bool extended_parameters_length);
// Encode as one optional parameter of type 2 holding every capability.
std::vector<uint8_t> encode_capabilities(const Capabilities& caps);

}  // namespace tandem::wire
