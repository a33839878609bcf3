#include "api/convert.hpp"
#include "api/services.hpp"
#include "api/validate.hpp"

namespace tandem::api {
namespace {

void fill_peer(const session::Speaker& sp, const session::Peer& p, v1::Peer& out) {
  to_proto(p.config(), *out.mutable_config());
  to_proto(p.status(), sp.rib(), p.id(), *out.mutable_state());
}

std::optional<wire::IpAddr> parse_addr(const std::string& s) { return wire::IpAddr::parse(s); }

}  // namespace

grpc::Status PeerServiceImpl::ListPeers(grpc::ServerContext*, const v1::ListPeersRequest* req,
                                        v1::ListPeersResponse* resp) {
  std::optional<wire::IpAddr> filter;
  if (!req->address().empty()) {
    if (auto e = validate_address("address", req->address()); !e.empty()) return invalid(e);
    filter = parse_addr(req->address());
  }
  auto r = run_on_loop(ctx_, [filter](session::Speaker& sp) {
    v1::ListPeersResponse out;
    for (const auto& pc : sp.config().peers) {
      if (filter && pc.address != *filter) continue;
      if (const auto* p = sp.find_peer(pc.address)) fill_peer(sp, *p, *out.add_peers());
    }
    return out;
  });
  if (!r) return loop_timeout();
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::GetPeer(grpc::ServerContext*, const v1::GetPeerRequest* req, v1::Peer* resp) {
  if (auto e = validate_address("address", req->address()); !e.empty()) return invalid(e);
  auto addr = *parse_addr(req->address());
  auto r = run_on_loop(ctx_, [addr](session::Speaker& sp) -> std::optional<v1::Peer> {
    const auto* p = sp.find_peer(addr);
    if (!p) return std::nullopt;
    v1::Peer out;
    fill_peer(sp, *p, out);
    return out;
  });
  if (!r) return loop_timeout();
  if (!*r) return grpc::Status(grpc::StatusCode::NOT_FOUND, "peer " + addr.to_string() + " does not exist");
  *resp = std::move(**r);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::AddPeer(grpc::ServerContext*, const v1::AddPeerRequest* req, v1::AddPeerResponse*) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  config::PeerConfig pc = from_proto(req->peer());
  auto r = run_on_loop(ctx_, [pc](session::Speaker& sp) {
    if (pc.route_reflector_client && pc.remote_as != sp.config().local_as)
      return session::OpResult::error(session::OpResult::InvalidArgument,
                                      "peer.route_reflector_client: only an iBGP peer (remote_as = local_as) can be "
                                      "a route-reflector client");
    return sp.add_peer(pc);
  });
  if (!r) return loop_timeout();
  return to_status(*r);
}

grpc::Status PeerServiceImpl::DeletePeer(grpc::ServerContext*, const v1::DeletePeerRequest* req,
                                         v1::DeletePeerResponse*) {
  if (auto e = validate_address("address", req->address()); !e.empty()) return invalid(e);
  if (req->communication().size() > 255) return invalid("communication: longer than 255 bytes (RFC 8203)");
  auto addr = *parse_addr(req->address());
  auto r = run_on_loop(ctx_, [addr, c = req->communication()](session::Speaker& sp) { return sp.delete_peer(addr, c); });
  if (!r) return loop_timeout();
  return to_status(*r);
}

grpc::Status PeerServiceImpl::EnablePeer(grpc::ServerContext*, const v1::EnablePeerRequest* req,
                                         v1::EnablePeerResponse*) {
  if (auto e = validate_address("address", req->address()); !e.empty()) return invalid(e);
  auto addr = *parse_addr(req->address());
  auto r = run_on_loop(ctx_, [addr](session::Speaker& sp) { return sp.enable_peer(addr); });
  if (!r) return loop_timeout();
  return to_status(*r);
}

grpc::Status PeerServiceImpl::DisablePeer(grpc::ServerContext*, const v1::DisablePeerRequest* req,
                                          v1::DisablePeerResponse*) {
  if (auto e = validate_address("address", req->address()); !e.empty()) return invalid(e);
  if (req->communication().size() > 255) return invalid("communication: longer than 255 bytes (RFC 8203)");
  auto addr = *parse_addr(req->address());
  auto r =
      run_on_loop(ctx_, [addr, c = req->communication()](session::Speaker& sp) { return sp.disable_peer(addr, c); });
  if (!r) return loop_timeout();
  return to_status(*r);
}

grpc::Status PeerServiceImpl::ResetPeer(grpc::ServerContext*, const v1::ResetPeerRequest* req,
                                        v1::ResetPeerResponse*) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  if (req->communication().size() > 255) return invalid("communication: longer than 255 bytes (RFC 8203)");
  auto addr = *parse_addr(req->address());
  session::ResetKind kind = session::ResetKind::Hard;
  switch (req->kind()) {
    case v1::ResetPeerRequest::KIND_SOFT_IN: kind = session::ResetKind::SoftIn; break;
    case v1::ResetPeerRequest::KIND_SOFT_OUT: kind = session::ResetKind::SoftOut; break;
    case v1::ResetPeerRequest::KIND_SOFT_BOTH: kind = session::ResetKind::SoftBoth; break;
    default: break;
  }
  std::vector<wire::Family> fams;
  if (auto f = from_proto(req->family())) fams.push_back(*f);
  auto r = run_on_loop(ctx_, [addr, kind, fams, c = req->communication()](session::Speaker& sp) {
    return sp.reset_peer(addr, kind, fams, c);
  });
  if (!r) return loop_timeout();
  return to_status(*r);
}

}  // namespace tandem::api
