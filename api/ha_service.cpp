#include "api/convert.hpp"
#include "api/services.hpp"
#include "bgpd/rib/digest.hpp"

namespace tandem::api {

namespace {

void fill_session(const replicator::SessionReplStatus& s, v1::HaSessionStatus& x) {
  x.set_connection_id(s.connection_id);
  x.set_peer(s.peer);
  x.set_sync_state(s.sync_state);
  x.set_inbound_read(s.inbound_read);
  x.set_inbound_sent(s.inbound_sent);
  x.set_inbound_acked(s.inbound_acked);
  x.set_inbound_consumed(s.inbound_consumed);
  x.set_outbound_queued(s.outbound_queued);
  x.set_outbound_sent(s.outbound_sent);
  x.set_outbound_acked(s.outbound_acked);
  x.set_outbound_written(s.outbound_written);
  x.set_lag_bytes(s.lag_bytes);
  x.set_lag_us(s.lag_us);
  x.set_standby_queued(s.standby_queued);
  x.set_estimated_window(s.estimated_window);
  x.set_window_clamp(s.window_clamp);
  x.set_window_updates(s.window_updates);
  x.set_has_checkpoint(s.has_checkpoint);
  x.set_snd_una(s.snd_una);
  x.set_snd_nxt(s.snd_nxt);
  x.set_rcv_nxt(s.rcv_nxt);
  x.set_peer_window(s.peer_window);
  x.set_checkpoint_time_us(s.checkpoint_time_us);
  x.set_checkpoints(s.checkpoints);
  x.set_outbound_differences(s.outbound_differences);
  x.set_outbound_compared(s.outbound_compared);
}

void set_digest(const rib::TableDigest& d, v1::TableDigest& out) {
  out.set_digest(rib::to_hex(d));
  out.set_routes(d.routes);
}

// The Loc-RIB families: both, whatever the peers are configured for (locally
// originated routes need no peer).
constexpr wire::Family kLocRibFamilies[] = {wire::kIpv4Unicast, wire::kIpv6Unicast};

// Routes hashed per visit to the event loop: a full table is digested in many short
// visits, between which the sessions and the replication channel run.
constexpr size_t kDigestSlice = 4096;

// One table to digest: which field of the response its result goes to, and the digest
// so far.
struct DigestJob {
  enum class Table { AdjRibIn, AdjRibOut, LocRib } table;
  int index;  // into the response's peers (Adj-RIBs) or loc_rib
  rib::SlicedDigest digest;
};

v1::TableDigest& field(v1::GetTableDigestsResponse& r, const DigestJob& j) {
  switch (j.table) {
    case DigestJob::Table::AdjRibIn: return *r.mutable_peers(j.index)->mutable_adj_rib_in();
    case DigestJob::Table::AdjRibOut: return *r.mutable_peers(j.index)->mutable_adj_rib_out();
    case DigestJob::Table::LocRib: break;
  }
  return *r.mutable_loc_rib(j.index)->mutable_loc_rib();
}

struct DigestPlan {
  v1::GetTableDigestsResponse response;  // peers and families named, digests to fill
  std::vector<DigestJob> jobs;
};

// On the event loop: the tables to digest (every configured peer's, or `peer`'s, then
// the Loc-RIB unless `peer`). nullopt: `peer` is not configured.
std::optional<DigestPlan> plan_digests(const session::Speaker& sp, const std::optional<wire::IpAddr>& peer) {
  DigestPlan plan;
  auto& out = plan.response;
  bool found = false;
  for (const auto& st : sp.status()) {
    if (peer && st.address != *peer) continue;
    const session::Peer* p = sp.find_peer(st.address);
    if (p == nullptr) continue;
    found = true;
    for (const wire::Family f : p->config().families) {
      auto* x = out.add_peers();
      x->set_peer(st.address.to_string());
      x->set_family(to_proto(f));
      const int i = out.peers_size() - 1;
      plan.jobs.push_back({DigestJob::Table::AdjRibIn, i, rib::SlicedDigest::adj_in(p->id(), f)});
      plan.jobs.push_back({DigestJob::Table::AdjRibOut, i, rib::SlicedDigest::adj_out(p->id(), f)});
    }
  }
  if (peer) {
    if (!found) return std::nullopt;
    return plan;
  }
  for (const wire::Family f : kLocRibFamilies) {
    out.add_loc_rib()->set_family(to_proto(f));
    plan.jobs.push_back({DigestJob::Table::LocRib, out.loc_rib_size() - 1, rib::SlicedDigest::loc_rib(f)});
  }
  return plan;
}

// On the event loop: one slice of `d`. PeerIds are node-local: the Loc-RIB digest
// covers the best path's peer address instead.
rib::SlicedDigest digest_slice(const session::Speaker& sp, rib::SlicedDigest d) {
  auto address = [&sp](rib::PeerId id) -> std::optional<wire::IpAddr> {
    if (id == rib::kLocalPeer) return std::nullopt;
    const session::Peer* p = sp.peer_by_id(id);
    if (p == nullptr) return std::nullopt;
    return p->config().address;
  };
  d.step(sp.rib(), kDigestSlice, address);
  return d;
}

}  // namespace

void fill_ha(const replicator::ReplStatus& st, v1::HaStatus& out) {
  out.set_role(st.role);
  out.set_node_id(st.node_id);
  out.set_epoch(st.epoch);
  out.set_peer_node(st.peer_node);
  out.set_peer_address(st.peer_address);
  out.set_channel_state(st.channel_state);
  out.set_last_error(st.last_error);
  out.set_channel_ups(st.channel_ups);
  out.set_frames_in(st.frames_in);
  out.set_frames_out(st.frames_out);
  out.set_bytes_in(st.bytes_in);
  out.set_bytes_out(st.bytes_out);
  out.set_auth_failures(st.auth_failures);
  out.set_snapshots(st.snapshots);
  out.set_last_snapshot_ms(st.last_snapshot_ms);
  out.set_last_snapshot_routes(st.last_snapshot_routes);
  out.set_max_stall_us(st.max_stall_us);
  out.set_heartbeat(st.heartbeat);
  out.set_heartbeat_why(st.heartbeat_why);
  out.set_heartbeat_losses(st.heartbeat_losses);
  out.set_heartbeat_change_age_ms(st.heartbeat_change_age_ms);
  for (const auto& s : st.sessions) fill_session(s, *out.add_sessions());
}

grpc::Status HaServiceImpl::GetStatus(grpc::ServerContext*, const v1::GetHaStatusRequest*, v1::HaStatus* resp) {
  std::optional<replicator::ReplStatus> st;
  if (ctx_.ha_status) {
    auto fn = ctx_.ha_status;  // a copy: the closure may outlive this handler (timeout)
    auto r = run_on_loop(ctx_, [fn](session::Speaker&) { return fn(); });
    if (!r) return loop_timeout();
    st = std::move(*r);
  }
  if (!st) {
    resp->set_role("none");
    resp->set_channel_state("disabled");
    return grpc::Status::OK;
  }
  fill_ha(*st, *resp);
  return grpc::Status::OK;
}

grpc::Status HaServiceImpl::GetTableDigests(grpc::ServerContext* sctx, const v1::GetTableDigestsRequest* req,
                                            v1::GetTableDigestsResponse* resp) {
  std::optional<wire::IpAddr> peer;
  if (!req->peer().empty()) {
    peer = wire::IpAddr::parse(req->peer());
    if (!peer) return invalid("peer '" + req->peer() + "' is not an IPv4 or IPv6 address");
  }
  auto plan = run_on_loop(ctx_, [peer](session::Speaker& sp) { return plan_digests(sp, peer); });
  if (!plan) return loop_timeout();
  if (!*plan) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no configured peer " + peer->to_string());
  // One slice per visit to the event loop: the loop is never held for a whole table.
  for (DigestJob& job : (*plan)->jobs) {
    while (!job.digest.done()) {
      if (sctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled the digests");
      auto next = run_on_loop(ctx_, [d = job.digest](session::Speaker& sp) { return digest_slice(sp, d); });
      if (!next) return loop_timeout();
      job.digest = *next;
    }
    set_digest(job.digest.digest(), field((*plan)->response, job));
  }
  *resp = std::move((*plan)->response);
  return grpc::Status::OK;
}

}  // namespace tandem::api

namespace tandem::api {

grpc::Status HaServiceImpl::Switchover(grpc::ServerContext*, const v1::SwitchoverRequest*, v1::SwitchoverResponse* resp) {
  if (!ctx_.ha_switchover)
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "replication is not configured (no [ha] section)");
  // The switchover runs on the event loop and finishes asynchronously (drain, the
  // standby's answer): wait for its outcome, longer than for one closure.
  struct Outcome {
    bool ok = false;
    std::string message;
  };
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  auto fn = ctx_.ha_switchover;
  auto started = run_on_loop(ctx_, [fn, promise](session::Speaker&) {
    fn([promise](bool ok, const std::string& message) {
      try {
        promise->set_value({ok, message});
      } catch (const std::future_error&) {
      }
    });
    return true;
  });
  if (!started) return loop_timeout();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (ctx_.stopping.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() >= deadline)
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the switchover did not finish in 10 s");
  }
  Outcome o = future.get();
  if (!o.ok) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, o.message);
  resp->set_message(o.message);
  return grpc::Status::OK;
}

}  // namespace tandem::api
