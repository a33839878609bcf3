#include "api/capture_convert.hpp"
#include "api/services.hpp"
#include "api/validate.hpp"

namespace tandem::api {

namespace {

std::string validate(const v1::CaptureRequest& r) {
  if (!r.peer().empty()) {
    if (auto e = validate_address("peer", r.peer()); !e.empty()) return e;
  }
  for (int t : r.types()) {
    if (t < v1::BGP_MESSAGE_TYPE_OPEN || t > v1::BGP_MESSAGE_TYPE_ROUTE_REFRESH)
      return "types: " + std::to_string(t) + " is not a BGP message type (1 OPEN .. 5 ROUTE-REFRESH)";
  }
  return "";
}

v1::CaptureRecord dropped_record(uint64_t records, uint64_t total) {
  v1::CaptureRecord r;
  r.set_time_unix_nanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  r.mutable_dropped()->set_records(records);
  r.mutable_dropped()->set_total(total);
  return r;
}

}  // namespace

grpc::Status CaptureServiceImpl::Capture(grpc::ServerContext* sctx, const v1::CaptureRequest* req,
                                         grpc::ServerWriter<v1::CaptureRecord>* writer) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  CaptureFilter f;
  if (!req->peer().empty()) f.peer = wire::IpAddr::parse(req->peer());
  for (int t : req->types()) f.types |= 1u << t;
  auto sub = hub_.subscribe(f);
  writer->SendInitialMetadata();  // the client knows the capture runs
  uint64_t messages = 0;
  std::shared_ptr<const CaptureItem> item;
  uint64_t dropped = 0;
  bool more = true;
  while (more && !sctx->IsCancelled()) {
    switch (sub->next(item, dropped, std::chrono::milliseconds(200))) {
      case CaptureSubscription::Next::Timeout: break;
      case CaptureSubscription::Next::Closed: more = false; break;
      case CaptureSubscription::Next::Dropped:
        more = writer->Write(dropped_record(dropped, sub->dropped_total()));
        break;
      case CaptureSubscription::Next::Item: {
        if (dropped > 0 && !writer->Write(dropped_record(dropped, sub->dropped_total()))) {
          more = false;
          break;
        }
        v1::CaptureRecord rec;
        to_proto(*item, req->include_data(), rec);
        item.reset();
        if (!writer->Write(rec)) {
          more = false;
          break;
        }
        if (rec.has_message() && req->count() > 0 && ++messages >= req->count()) more = false;
        break;
      }
    }
  }
  hub_.unsubscribe(sub);
  return grpc::Status::OK;
}

}  // namespace tandem::api
