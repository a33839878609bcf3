// What a command line means: the global options and one command, which (apart from
// help and version) is the API request it sends.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tandem/v1/bfd.pb.h"
#include "tandem/v1/capture.pb.h"
#include "tandem/v1/events.pb.h"
#include "tandem/v1/global.pb.h"
#include "tandem/v1/ha.pb.h"
#include "tandem/v1/peer.pb.h"
#include "tandem/v1/rib.pb.h"

namespace tandemctl {

inline constexpr const char* kDefaultSocket = "/run/tandemd/tandemd.sock";

struct GlobalOptions {
  std::string socket;   // unix socket path (default kDefaultSocket, env TANDEMCTL_SOCKET)
  std::string address;  // HOST:PORT for TCP + mTLS; empty = unix socket
  std::string tls_ca, tls_cert, tls_key;
  bool json = false;
  double timeout_seconds = 10.0;
};

struct Help {
  std::string topic;  // "" (everything), "neighbor", "rib", "events", "global", "bfd", "ha", "capture", "mrt"
};
struct Version {};

// `tandemctl capture ...`: the request, and where to write pcapng ("" = nowhere).
struct CaptureCommand {
  tandem::v1::CaptureRequest request;
  std::string pcapng;
};

// `tandemctl mrt inject FILE [--count N] [--nexthop A]...`.
struct MrtInjectCommand {
  std::string file;
  std::uint64_t count = 0;              // 0: every route
  std::vector<std::string> next_hops;   // at most one per family, or "self"
};

using Command = std::variant<Help, Version,
                             tandem::v1::ListPeersRequest, tandem::v1::GetPeerRequest,
                             tandem::v1::AddPeerRequest, tandem::v1::DeletePeerRequest,
                             tandem::v1::EnablePeerRequest, tandem::v1::DisablePeerRequest,
                             tandem::v1::ResetPeerRequest,
                             tandem::v1::ListRoutesRequest, tandem::v1::GetRibSummaryRequest,
                             tandem::v1::AddRouteRequest, tandem::v1::DeleteRouteRequest,
                             tandem::v1::WatchEventsRequest,
                             tandem::v1::GetGlobalRequest, tandem::v1::SetGlobalRequest,
                             tandem::v1::ListBfdSessionsRequest,
                             tandem::v1::GetHaStatusRequest, tandem::v1::GetTableDigestsRequest,
                             tandem::v1::SwitchoverRequest,
                             CaptureCommand, MrtInjectCommand>;

struct Invocation {
  GlobalOptions options;
  Command command;
};

}  // namespace tandemctl
