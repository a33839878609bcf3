// The gRPC service implementations (one .cpp each). Synchronous handlers on gRPC's
// threads; all state is read and changed on the event loop through run_on_loop().
#pragma once

#include <functional>
#include <optional>

#include "api/capture_hub.hpp"
#include "api/context.hpp"
#include "healthbpf/driver_status.hpp"
#include "tandem/v1/bfd.grpc.pb.h"
#include "tandem/v1/capture.grpc.pb.h"
#include "tandem/v1/events.grpc.pb.h"
#include "tandem/v1/global.grpc.pb.h"
#include "tandem/v1/ha.grpc.pb.h"
#include "tandem/v1/peer.grpc.pb.h"
#include "tandem/v1/rib.grpc.pb.h"

namespace tandem::api {

class GlobalServiceImpl final : public v1::GlobalService::Service {
 public:
  explicit GlobalServiceImpl(Context& ctx) : ctx_(ctx) {}
  grpc::Status GetGlobal(grpc::ServerContext*, const v1::GetGlobalRequest*, v1::GetGlobalResponse*) override;
  grpc::Status SetGlobal(grpc::ServerContext*, const v1::SetGlobalRequest*, v1::SetGlobalResponse*) override;

 private:
  Context& ctx_;
};

class PeerServiceImpl final : public v1::PeerService::Service {
 public:
  explicit PeerServiceImpl(Context& ctx) : ctx_(ctx) {}
  grpc::Status ListPeers(grpc::ServerContext*, const v1::ListPeersRequest*, v1::ListPeersResponse*) override;
  grpc::Status GetPeer(grpc::ServerContext*, const v1::GetPeerRequest*, v1::Peer*) override;
  grpc::Status AddPeer(grpc::ServerContext*, const v1::AddPeerRequest*, v1::AddPeerResponse*) override;
  grpc::Status DeletePeer(grpc::ServerContext*, const v1::DeletePeerRequest*, v1::DeletePeerResponse*) override;
  grpc::Status EnablePeer(grpc::ServerContext*, const v1::EnablePeerRequest*, v1::EnablePeerResponse*) override;
  grpc::Status DisablePeer(grpc::ServerContext*, const v1::DisablePeerRequest*, v1::DisablePeerResponse*) override;
  grpc::Status ResetPeer(grpc::ServerContext*, const v1::ResetPeerRequest*, v1::ResetPeerResponse*) override;

 private:
  Context& ctx_;
};

class RibServiceImpl final : public v1::RibService::Service {
 public:
  explicit RibServiceImpl(Context& ctx) : ctx_(ctx) {}
  grpc::Status ListRoutes(grpc::ServerContext*, const v1::ListRoutesRequest*,
                          grpc::ServerWriter<v1::ListRoutesResponse>*) override;
  grpc::Status GetRibSummary(grpc::ServerContext*, const v1::GetRibSummaryRequest*,
                             v1::GetRibSummaryResponse*) override;
  grpc::Status AddRoute(grpc::ServerContext*, const v1::AddRouteRequest*, v1::AddRouteResponse*) override;
  grpc::Status DeleteRoute(grpc::ServerContext*, const v1::DeleteRouteRequest*, v1::DeleteRouteResponse*) override;
  // rib_inject.cpp
  grpc::Status InjectRoutes(grpc::ServerContext*, grpc::ServerReader<v1::InjectRoutesRequest>*,
                            v1::InjectRoutesResponse*) override;

 private:
  Context& ctx_;
};

class EventServiceImpl final : public v1::EventService::Service {
 public:
  explicit EventServiceImpl(Context& ctx) : ctx_(ctx) {}
  grpc::Status WatchEvents(grpc::ServerContext*, const v1::WatchEventsRequest*, grpc::ServerWriter<v1::Event>*) override;

 private:
  Context& ctx_;
};

// Live capture (capture_service.cpp): a stream of the hub's records for one subscriber.
class CaptureServiceImpl final : public v1::CaptureService::Service {
 public:
  explicit CaptureServiceImpl(CaptureHub& hub) : hub_(hub) {}
  grpc::Status Capture(grpc::ServerContext*, const v1::CaptureRequest*, grpc::ServerWriter<v1::CaptureRecord>*) override;

 private:
  CaptureHub& hub_;
};

// BFD sessions of the healthbpf driver. `status` runs on the event loop; empty, or
// returning nullopt, when [bfd] is disabled.
using BfdStatusFn = std::function<std::optional<healthbpf::DriverStatus>()>;
void fill_bfd(const healthbpf::DriverStatus& status, const std::string& peer, v1::ListBfdSessionsResponse& out);

class BfdServiceImpl final : public v1::BfdService::Service {
 public:
  BfdServiceImpl(Context& ctx, BfdStatusFn status) : ctx_(ctx), status_(std::move(status)) {}
  grpc::Status ListSessions(grpc::ServerContext*, const v1::ListBfdSessionsRequest*,
                            v1::ListBfdSessionsResponse*) override;

 private:
  Context& ctx_;
  BfdStatusFn status_;
};

// Replication status and RIB table digests. The status comes from Context::ha_status.
void fill_ha(const replicator::ReplStatus& status, v1::HaStatus& out);

class HaServiceImpl final : public v1::HaService::Service {
 public:
  explicit HaServiceImpl(Context& ctx) : ctx_(ctx) {}
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetHaStatusRequest*, v1::HaStatus*) override;
  grpc::Status GetTableDigests(grpc::ServerContext*, const v1::GetTableDigestsRequest*,
                               v1::GetTableDigestsResponse*) override;
  grpc::Status Switchover(grpc::ServerContext*, const v1::SwitchoverRequest*, v1::SwitchoverResponse*) override;

 private:
  Context& ctx_;
};

}  // namespace tandem::api
