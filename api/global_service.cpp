#include "api/services.hpp"
#include "api/convert.hpp"
#include "api/validate.hpp"
#include "bgpd/session/memory_usage.hpp"

namespace tandem::api {
namespace {

void fill_global(const config::Config& c, v1::Global& g) {
  g.set_router_id(wire::IpAddr::v4(c.router_id).to_string());
  g.set_local_as(c.local_as);
  for (const auto& a : c.listen) g.add_listen_addresses(a.to_string());
  g.set_port(c.port);
}

}  // namespace

grpc::Status GlobalServiceImpl::GetGlobal(grpc::ServerContext*, const v1::GetGlobalRequest*,
                                          v1::GetGlobalResponse* resp) {
  auto r = run_on_loop(ctx_, [](session::Speaker& sp) {
    v1::GetGlobalResponse out;
    fill_global(sp.config(), *out.mutable_global());
    auto started = sp.started();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started).count();
    out.set_uptime_seconds(up > 0 ? static_cast<uint64_t>(up) : 0);
    out.set_started_unix_seconds(std::chrono::duration_cast<std::chrono::seconds>(started.time_since_epoch()).count());
    auto* gr = out.mutable_graceful_restart();
    gr->set_restarting(sp.restarting());
    for (const auto& fs : sp.deferral().status()) {
      auto* d = gr->add_deferred();
      d->set_family(to_proto(fs.family));
      for (auto id : fs.waiting_for)
        if (const auto* p = sp.peer_by_id(id)) d->add_waiting_for(p->name());
    }
    gr->set_deferral_remaining_seconds(sp.deferral().seconds_left());
    const auto mem = session::measure_memory(sp);
    auto* m = out.mutable_memory();
    m->set_rss_bytes(mem.rss_bytes);
    m->set_budget_bytes(mem.budget_bytes);
    m->set_over_budget(mem.over_budget());
    m->set_rib_prefixes(mem.rib_prefixes);
    m->set_rib_paths(mem.rib_paths);
    m->set_attribute_sets(mem.attribute_sets);
    m->set_output_queued_bytes(mem.output_queued_bytes);
    m->set_unacked_output_kept_bytes(mem.unacked_output_kept_bytes);
    return out;
  });
  if (!r) return loop_timeout();
  *resp = std::move(*r);
  resp->set_version(ctx_.version);
  if (ctx_.mrt_status)
    for (const auto& w : ctx_.mrt_status()) {
      auto* m = resp->add_mrt();
      m->set_name(w.name);
      m->set_current_file(w.stats.current_file);
      m->set_records_written(w.stats.records_written);
      m->set_bytes_written(w.stats.bytes_written);
      m->set_records_dropped(w.stats.records_dropped);
      m->set_files_opened(w.stats.files_opened);
      m->set_files_rotated(w.stats.files_rotated);
      m->set_write_errors(w.stats.write_errors);
      m->set_queue_records(w.stats.queue_records);
      m->set_last_error(w.stats.last_error);
    }
  return grpc::Status::OK;
}

grpc::Status GlobalServiceImpl::SetGlobal(grpc::ServerContext*, const v1::SetGlobalRequest* req,
                                          v1::SetGlobalResponse* resp) {
  if (auto e = validate(*req); !e.empty()) return invalid(e);
  session::GlobalChange ch;
  const auto& g = req->global();
  for (const auto& f : req->update_fields()) {
    if (f == "router_id") ch.router_id = wire::IpAddr::parse(g.router_id())->v4_host_order();
    if (f == "local_as") ch.local_as = g.local_as();
    if (f == "port") ch.port = static_cast<uint16_t>(g.port());
    if (f == "listen_addresses") {
      std::vector<wire::IpAddr> l;
      for (const auto& a : g.listen_addresses()) l.push_back(*wire::IpAddr::parse(a));
      ch.listen = std::move(l);
    }
  }
  auto r = run_on_loop(ctx_, [ch](session::Speaker& sp) {
    std::pair<session::OpResult, v1::Global> out;
    out.first = sp.set_global(ch);
    fill_global(sp.config(), out.second);
    return out;
  });
  if (!r) return loop_timeout();
  if (!r->first.ok()) return to_status(r->first);
  *resp->mutable_global() = std::move(r->second);
  return grpc::Status::OK;
}

}  // namespace tandem::api
