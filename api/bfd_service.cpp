#include "api/services.hpp"

namespace tandem::api {

void fill_bfd(const healthbpf::DriverStatus& st, const std::string& peer, v1::ListBfdSessionsResponse& out) {
  out.set_enabled(true);
  out.set_path(st.path);
  for (const auto& i : st.interfaces) out.add_interfaces(i);
  for (const auto& i : st.reply_interfaces) out.add_reply_interfaces(i);
  for (const auto& [name, value] : st.counters) {
    auto* c = out.add_counters();
    c->set_name(name);
    c->set_value(value);
  }
  out.set_unknown_events(st.unknown_events);
  for (const auto& s : st.sessions) {
    if (!peer.empty() && s.peer != peer) continue;
    auto* x = out.add_sessions();
    x->set_peer(s.peer);
    x->set_local_address(s.local_address);
    x->set_local_discriminator(s.local_discriminator);
    x->set_remote_discriminator(s.remote_discriminator);
    x->set_local_state(s.local_state);
    x->set_remote_state(s.remote_state);
    x->set_local_diag(s.local_diag);
    x->set_remote_diag(s.remote_diag);
    x->set_desired_min_tx_us(s.desired_min_tx_us);
    x->set_required_min_rx_us(s.required_min_rx_us);
    x->set_detect_mult(s.detect_mult);
    x->set_remote_min_tx_us(s.remote_min_tx_us);
    x->set_remote_min_rx_us(s.remote_min_rx_us);
    x->set_remote_detect_mult(s.remote_detect_mult);
    x->set_tx_interval_us(s.tx_interval_us);
    x->set_rx_interval_us(s.rx_interval_us);
    x->set_detect_time_us(s.detect_time_us);
    x->set_last_rx_age_ms(s.last_rx_age_ms);
    x->set_packets_in(s.packets_in);
    x->set_packets_out(s.packets_out);
    x->set_packets_out_kernel(s.packets_out_kernel);
    x->set_kernel_replies(s.kernel_replies);
    x->set_send_errors(s.send_errors);
    x->set_up_transitions(s.up_transitions);
    x->set_down_transitions(s.down_transitions);
    x->set_last_change_age_ms(s.last_change_age_ms);
  }
}

grpc::Status BfdServiceImpl::ListSessions(grpc::ServerContext*, const v1::ListBfdSessionsRequest* req,
                                          v1::ListBfdSessionsResponse* resp) {
  std::string peer;
  if (!req->peer().empty()) {
    auto a = wire::IpAddr::parse(req->peer());
    if (!a) return invalid("peer '" + req->peer() + "' is not an IPv4 or IPv6 address");
    peer = a->to_string();
  }
  if (!status_) return grpc::Status::OK;  // no BFD in this daemon: enabled = false
  auto fn = status_;
  auto r = run_on_loop(ctx_, [fn](session::Speaker&) { return fn(); });
  if (!r) return loop_timeout();
  if (!*r) return grpc::Status::OK;
  fill_bfd(**r, peer, *resp);
  if (!peer.empty() && resp->sessions().empty())
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no BFD session with " + peer + " (is bfd = true set on the peer?)");
  return grpc::Status::OK;
}

}  // namespace tandem::api
