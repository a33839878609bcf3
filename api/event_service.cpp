#include "api/services.hpp"
#include "api/validate.hpp"

namespace tandem::api {

grpc::Status EventServiceImpl::WatchEvents(grpc::ServerContext* sctx, const v1::WatchEventsRequest* req,
                                           grpc::ServerWriter<v1::Event>* writer) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  EventFilter f;
  f.peer_state = req->peer_state();
  f.best_path = req->best_path();
  if (!req->peer().empty()) f.peer = wire::IpAddr::parse(req->peer());
  auto sub = ctx_.hub.subscribe(f);
  // Let the client know the stream is live (headers), so it can act once subscribed.
  writer->SendInitialMetadata();
  v1::Event ev;
  while (!sctx->IsCancelled()) {
    if (!sub->next(ev, std::chrono::milliseconds(200))) {
      if (sub->closed()) break;  // server shutting down
      continue;
    }
    if (!writer->Write(ev)) break;
  }
  ctx_.hub.unsubscribe(sub);
  return grpc::Status::OK;
}

}  // namespace tandem::api
