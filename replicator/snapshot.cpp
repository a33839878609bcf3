#include "replicator/snapshot.hpp"

#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

namespace tandem::replicator {
namespace {

std::string bytes_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

uint64_t realtime_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

void fill_tcp_state(const session::Connection& c, repl::TcpState& t) {
  std::string why;
  if (auto b = c.tcp_seq_bases(why)) {
    t.set_send_seq_base(b->send_seq_base);
    t.set_recv_seq_base(b->recv_seq_base);
    t.set_seq_known(true);
  } else {
    t.set_seq_known(false);
    t.set_seq_error(why);
  }
  if (auto i = c.tcp_info(why)) {
    t.set_mss(i->mss);
    t.set_snd_wscale(i->snd_wscale);
    t.set_rcv_wscale(i->rcv_wscale);
    t.set_sack(i->sack);
    t.set_timestamps(i->timestamps);
    t.set_peer_window(i->peer_window);
    t.set_rcv_window(i->rcv_window);
  }
  if (auto ts = c.tcp_tsval(why)) {
    t.set_tsval(*ts);
    t.set_tsval_time_us(realtime_us());
  }
}

void fill_outbound_unacked(session::Connection& c, repl::SessionObject& o) {
  std::string why;
  auto u = c.unacked_output(why);
  if (!u) {
    spdlog::debug("replication: session {}: no unacknowledged output to send: {}", o.peer(), why);
    return;
  }
  if (u->start + u->bytes.size() != o.outbound_offset()) {
    spdlog::warn("replication: session {}: the kept output ends at {}, not at the outbound offset {}", o.peer(),
                 u->start + u->bytes.size(), o.outbound_offset());
    return;
  }
  o.set_outbound_unacked(std::string(u->bytes.begin(), u->bytes.end()));
}

repl::SessionObject make_session_object(const session::Connection& c, const wire::IpAddr& peer,
                                        uint64_t inbound_offset, uint64_t outbound_offset) {
  repl::SessionObject o;
  o.set_connection_id(c.id());
  o.set_peer(peer.to_string());
  o.set_outgoing(c.outgoing());
  if (auto ep = c.endpoints()) {
    auto* e = o.mutable_endpoints();
    e->set_local_address(ep->local.to_string());
    e->set_local_port(ep->local_port);
    e->set_remote_address(ep->remote.to_string());
    e->set_remote_port(ep->remote_port);
  }
  o.set_local_open(bytes_of(wire::encode_open(c.fsm().local_open())));
  if (const auto& n = c.fsm().negotiated()) o.set_peer_open(bytes_of(wire::encode_open(n->peer_open)));
  o.set_inbound_offset(inbound_offset);
  o.set_outbound_offset(outbound_offset);
  o.set_fsm_state(static_cast<uint32_t>(c.state()));
  fill_tcp_state(c, *o.mutable_tcp());
  return o;
}

void fill_gr_stale(const session::PeerStatus& status, repl::SessionObject& o) {
  if (status.gr_state != session::GrHelperState::WaitingEor) return;
  for (auto f : status.gr_stale_families) {
    auto* af = o.add_gr_stale_families();
    af->set_afi(static_cast<uint32_t>(f.afi));
    af->set_safi(static_cast<uint32_t>(f.safi));
  }
  o.set_gr_stale_seconds_left(status.gr_timer_remaining_seconds);
}

RibChunker::RibChunker(uint64_t connection_id, rib::PeerId peer, std::vector<wire::Family> families,
                       wire::CodecOptions codec)
    : connection_id_(connection_id), peer_(peer), families_(std::move(families)), codec_(codec) {}

std::optional<repl::RibChunk> RibChunker::next(const rib::Rib& rib, size_t max_routes) {
  while (table_ < 2) {
    if (family_ >= families_.size()) {
      ++table_;
      family_ = 0;
      cursor_ = {};
      continue;
    }
    if (cursor_.done) {
      ++family_;
      cursor_ = {};
      continue;
    }
    const wire::Family f = families_[family_];
    rib::ListQuery q;
    q.table = table_ == 0 ? rib::ListTable::AdjRibIn : rib::ListTable::AdjRibOut;
    q.family = f;
    q.peer = peer_;
    std::vector<rib::ListedRoute> routes;
    rib.list_routes(q, cursor_, max_routes, routes);
    if (routes.empty()) continue;
    // Group by (interned) attributes: one packed run of UPDATEs per path.
    std::map<const wire::PathAttributes*, std::vector<wire::Prefix>> by_path;
    std::vector<uint8_t> stale;
    for (const auto& r : routes) {
      by_path[r.attrs].push_back(r.prefix);
      if (r.stale && table_ == 0) wire::encode_prefix(r.prefix, stale);
    }
    repl::RibChunk chunk;
    chunk.set_connection_id(connection_id_);
    chunk.set_table(table_ == 0 ? repl::TABLE_ADJ_RIB_IN : repl::TABLE_ADJ_RIB_OUT);
    chunk.set_afi(static_cast<uint32_t>(f.afi));
    chunk.set_safi(static_cast<uint32_t>(f.safi));
    std::string* out = chunk.mutable_updates();
    for (const auto& [attrs, prefixes] : by_path)
      for (const auto& msg : wire::encode_announcements(*attrs, f, prefixes, codec_))
        out->append(msg.begin(), msg.end());
    chunk.set_routes(static_cast<uint32_t>(routes.size()));
    if (!stale.empty()) chunk.set_stale_nlri(bytes_of(stale));
    routes_[table_] += routes.size();
    return chunk;
  }
  return std::nullopt;
}

}  // namespace tandem::replicator
