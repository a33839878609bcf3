#include <unordered_map>

#include "api/convert.hpp"
#include "api/services.hpp"
#include "api/validate.hpp"

namespace tandem::api {
namespace {

struct Batch {
  grpc::Status status;  // NOT_FOUND for an unknown peer
  v1::ListRoutesResponse resp;
  rib::ListCursor cursor;
};

}  // namespace

grpc::Status RibServiceImpl::ListRoutes(grpc::ServerContext* sctx, const v1::ListRoutesRequest* req,
                                        grpc::ServerWriter<v1::ListRoutesResponse>* writer) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  rib::ListQuery q;
  switch (req->table()) {
    case v1::TABLE_ADJ_RIB_IN: q.table = rib::ListTable::AdjRibIn; break;
    case v1::TABLE_ADJ_RIB_OUT: q.table = rib::ListTable::AdjRibOut; break;
    default: q.table = rib::ListTable::LocRib; break;
  }
  q.family = from_proto(req->family()).value_or(wire::kIpv4Unicast);
  if (req->has_prefix_filter()) {
    q.prefix = *wire::Prefix::parse(req->prefix_filter().prefix());
    switch (req->prefix_filter().match()) {
      case v1::PrefixFilter::MATCH_LONGER: q.match = rib::PrefixMatch::Longer; break;
      case v1::PrefixFilter::MATCH_SHORTER: q.match = rib::PrefixMatch::Shorter; break;
      default: q.match = rib::PrefixMatch::Exact; break;
    }
  }
  q.best_only = req->best_only();
  std::optional<wire::IpAddr> peer;
  if (!req->peer().empty()) peer = wire::IpAddr::parse(req->peer());
  const size_t batch = req->batch_size() == 0 ? 1000 : req->batch_size();

  rib::ListCursor cursor;
  while (!cursor.done) {
    if (sctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled the listing");
    // One batch per visit to the event loop: the loop is never held for more.
    auto r = run_on_loop(ctx_, [q, peer, cursor, batch](session::Speaker& sp) mutable {
      Batch b;
      b.cursor = cursor;
      if (peer) {
        const auto* p = sp.find_peer(*peer);
        if (!p) {
          b.status = grpc::Status(grpc::StatusCode::NOT_FOUND, "peer " + peer->to_string() + " does not exist");
          b.cursor.done = true;
          return b;
        }
        q.peer = p->id();
      }
      std::vector<rib::ListedRoute> routes;
      routes.reserve(batch);
      sp.rib().list_routes(q, b.cursor, batch, routes);
      std::unordered_map<rib::PeerId, std::string> names;
      for (const auto& lr : routes) {
        auto it = names.find(lr.peer);
        if (it == names.end()) {
          std::string name;
          if (lr.peer != rib::kLocalPeer) {
            if (const auto* p = sp.peer_by_id(lr.peer)) name = p->config().address.to_string();
          }
          it = names.emplace(lr.peer, std::move(name)).first;
        }
        to_proto(lr, q.family, it->second, *b.resp.add_routes());
      }
      return b;
    });
    if (!r) return loop_timeout();
    if (!r->status.ok()) return r->status;
    cursor = r->cursor;
    if (r->resp.routes_size() > 0 && !writer->Write(r->resp))
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  return grpc::Status::OK;
}

grpc::Status RibServiceImpl::GetRibSummary(grpc::ServerContext*, const v1::GetRibSummaryRequest*,
                                           v1::GetRibSummaryResponse* resp) {
  auto r = run_on_loop(ctx_, [](session::Speaker& sp) {
    v1::GetRibSummaryResponse out;
    for (wire::Family f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) {
      auto* s = out.add_families();
      s->set_family(to_proto(f));
      s->set_prefixes(sp.rib().loc_rib_size(f));
      s->set_paths(sp.rib().path_count(f));
    }
    out.set_attribute_sets(sp.rib().attribute_sets());
    return out;
  });
  if (!r) return loop_timeout();
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status RibServiceImpl::AddRoute(grpc::ServerContext*, const v1::AddRouteRequest* req, v1::AddRouteResponse*) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  auto prefix = *wire::Prefix::parse(req->prefix());
  auto attrs = from_proto(req->attributes());
  auto r = run_on_loop(ctx_, [prefix, attrs](session::Speaker& sp) {
    sp.originate_api(prefix, attrs);
    return true;
  });
  if (!r) return loop_timeout();
  return grpc::Status::OK;
}

grpc::Status RibServiceImpl::DeleteRoute(grpc::ServerContext*, const v1::DeleteRouteRequest* req,
                                         v1::DeleteRouteResponse*) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  auto prefix = *wire::Prefix::parse(req->prefix());
  auto r = run_on_loop(ctx_, [prefix](session::Speaker& sp) { return sp.withdraw_api(prefix); });
  if (!r) return loop_timeout();
  if (!*r)
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "tandem does not originate " + prefix.to_string() + " through the API");
  return grpc::Status::OK;
}

}  // namespace tandem::api
