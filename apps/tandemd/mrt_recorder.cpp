#include "apps/tandemd/mrt_recorder.hpp"

#include <spdlog/spdlog.h>

#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/rib_attributes.hpp"

namespace tandem::app {

namespace {

mrt::Compression compression_of(const std::string& s) {
  if (s == "gzip") return mrt::Compression::Gzip;
  if (s == "bzip2") return mrt::Compression::Bzip2;
  return mrt::Compression::None;
}

std::unique_ptr<mrt::Writer> make_writer(const std::string& pattern, uint32_t interval, const config::MrtConfig& c,
                                         const char* name) {
  if (pattern.empty()) return nullptr;
  mrt::WriterOptions o;
  o.path_pattern = pattern;
  // Readers (bgpdump among them) pick the decompressor by the file name's suffix.
  const std::string suffix = c.compression == "gzip" ? ".gz" : c.compression == "bzip2" ? ".bz2" : "";
  if (!suffix.empty() && !pattern.ends_with(suffix)) o.path_pattern += suffix;
  o.rotate_interval = std::chrono::seconds(interval);
  o.compression = compression_of(c.compression);
  o.queue_max_bytes = c.queue_max_bytes;
  o.name = name;
  return std::make_unique<mrt::Writer>(std::move(o));
}

constexpr size_t kDumpBatch = 20000;  // routes per visit to the event loop
const wire::Family kFamilies[] = {wire::kIpv4Unicast, wire::kIpv6Unicast};

}  // namespace

MrtRecorder::MrtRecorder(boost::asio::io_context& io, session::Speaker& speaker, const config::MrtConfig& cfg)
    : io_(io),
      speaker_(speaker),
      cfg_(cfg),
      updates_(make_writer(cfg.updates_file, cfg.updates_interval, cfg, "mrt updates")),
      rib_(make_writer(cfg.rib_file, cfg.rib_interval, cfg, "mrt rib")),
      dump_timer_(io) {}

MrtRecorder::~MrtRecorder() { stop(); }

void MrtRecorder::start() {
  if (updates_) {
    updates_->start();
    spdlog::info("mrt: recording every BGP message and state change to {} (new file every {} s, compression {})",
                 cfg_.updates_file, cfg_.updates_interval, cfg_.compression);
  }
  if (rib_) {
    rib_->start();
    spdlog::info("mrt: TABLE_DUMP_V2 snapshot every {} s to {} (compression {})", cfg_.rib_interval,
                 cfg_.rib_file, cfg_.compression);
    schedule_dump(std::chrono::seconds(cfg_.rib_interval));
  }
}

void MrtRecorder::stop() {
  dump_timer_.cancel();
  *alive_ = false;
  if (updates_) updates_->close();
  if (rib_) rib_->close();
}

std::optional<mrt::WriterStats> MrtRecorder::updates_stats() const {
  return updates_ ? std::optional(updates_->stats()) : std::nullopt;
}
std::optional<mrt::WriterStats> MrtRecorder::rib_stats() const {
  return rib_ ? std::optional(rib_->stats()) : std::nullopt;
}

mrt::Bgp4mpPeer MrtRecorder::bgp4mp_peer(const wire::IpAddr& peer, const session::Endpoints* ep) const {
  mrt::Bgp4mpPeer p;
  const auto* pr = speaker_.find_peer(peer);
  p.peer_as = pr ? pr->config().remote_as : 0;
  p.local_as = speaker_.config().local_as;
  p.peer_ip = peer;
  if (ep) p.local_ip = ep->local;  // the encoder writes another family as unspecified
  return p;
}

void MrtRecorder::on_open(const wire::IpAddr& peer, uint64_t id, const session::Endpoints& ep) {
  if (!updates_) return;
  conns_.insert_or_assign(id, Conn{peer, ep, mrt::MessageFramer(), mrt::MessageFramer()});
  last_endpoints_[peer] = ep;
}

void MrtRecorder::on_bytes(uint64_t id, session::Direction dir, uint64_t, std::span<const uint8_t> bytes) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  const bool sent = dir == session::Direction::Outbound;
  const auto now = std::chrono::system_clock::now();
  const mrt::Bgp4mpPeer who = bgp4mp_peer(c.peer, &c.ep);
  (sent ? c.out : c.in).feed(bytes, [&](std::span<const uint8_t> msg) {
    updates_->submit(mrt::encode_bgp4mp_message(mrt::Timestamp::from(now), who, msg, cfg_.extended_time,
                                                sent ? mrt::Direction::Sent : mrt::Direction::Received),
                     now);
  });
}

void MrtRecorder::on_close(uint64_t id) { conns_.erase(id); }

void MrtRecorder::on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string&) {
  if (!updates_) return;
  auto ep = last_endpoints_.find(peer);
  const auto now = std::chrono::system_clock::now();
  // RFC 6396 numbers the states 1 (Idle) .. 6 (Established); fsm::State counts from 0.
  auto mrt_state = [](fsm::State s) { return static_cast<mrt::FsmState>(static_cast<uint16_t>(s) + 1); };
  updates_->submit(mrt::encode_bgp4mp_state_change(mrt::Timestamp::from(now),
                                                   bgp4mp_peer(peer, ep == last_endpoints_.end() ? nullptr : &ep->second),
                                                   mrt_state(from), mrt_state(to), cfg_.extended_time),
                   now);
}

// ---- TABLE_DUMP_V2 ----

void MrtRecorder::schedule_dump(std::chrono::seconds after) {
  dump_timer_.expires_after(after);
  dump_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& e) {
    if (e || !alive.lock() || !*alive.lock()) return;
    start_dump();
    schedule_dump(std::chrono::seconds(cfg_.rib_interval));
  });
}

void MrtRecorder::start_dump() {
  if (dump_) {
    spdlog::warn("mrt: the previous table dump is still running; skipping this one");
    return;
  }
  Dump d;
  d.started = std::chrono::system_clock::now();
  mrt::PeerIndexTable table;
  const auto& cfg = speaker_.config();
  table.collector_id = cfg.router_id;
  // Index 0: tandemd itself, for locally originated routes.
  table.peers.push_back({cfg.router_id, wire::IpAddr::v4(0), cfg.local_as});
  d.peer_index[rib::kLocalPeer] = 0;
  for (const auto& s : speaker_.status()) {
    const auto* p = speaker_.find_peer(s.address);
    if (!p) continue;
    d.peer_index[p->id()] = static_cast<uint16_t>(table.peers.size());
    uint32_t bgp_id = s.negotiated ? s.negotiated->peer_router_id : 0;
    table.peers.push_back({bgp_id, s.address, s.remote_as});
  }
  d.writer = std::make_unique<mrt::TableDumpWriter>(mrt::Timestamp::from(d.started), std::move(table));
  rib_->submit(d.writer->peer_index_table(), d.started);
  dump_ = std::move(d);
  dump_batch();
}

void MrtRecorder::dump_batch() {
  if (!dump_) return;
  Dump& d = *dump_;
  rib::ListQuery q;
  q.table = rib::ListTable::LocRib;
  q.family = kFamilies[d.family];
  std::vector<rib::ListedRoute> routes;
  speaker_.rib().list_routes(q, d.cursor, kDumpBatch, routes);
  const uint32_t originated = static_cast<uint32_t>(std::chrono::system_clock::to_time_t(d.started));
  // All paths of one prefix are adjacent in a batch.
  std::vector<mrt::RibEntry> entries;
  for (size_t i = 0; i < routes.size();) {
    size_t j = i;
    entries.clear();
    for (; j < routes.size() && routes[j].prefix == routes[i].prefix; ++j) {
      auto idx = d.peer_index.find(routes[j].peer);
      if (idx == d.peer_index.end() || !routes[j].attrs) continue;  // a peer added since the dump began
      const wire::PathAttributes* attrs = routes[j].attrs;
      wire::PathAttributes with_nh;
      if (!attrs->next_hop) {
        // A locally originated route has no next hop (it is "self"); readers expect
        // one in every entry, so write the unspecified address.
        with_nh = *attrs;
        with_nh.next_hop = q.family.afi == wire::Afi::Ipv4 ? wire::IpAddr::v4(0) : *wire::IpAddr::parse("::");
        attrs = &with_nh;
      }
      entries.push_back({idx->second, originated, mrt::encode_rib_attributes(*attrs, q.family.afi)});
    }
    auto rec = d.writer->rib(routes[i].prefix, entries);
    if (!rec.empty()) rib_->submit(std::move(rec), d.started);
    i = j;
  }
  d.records += routes.size();
  if (d.cursor.done) {
    d.cursor = {};
    if (++d.family == std::size(kFamilies)) {
      spdlog::info("mrt: table dump done: {} paths, {} RIB records", d.records, d.writer->records());
      dump_.reset();
      return;
    }
  }
  // The next batch on a later visit to the loop: sessions are served in between.
  boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (auto a = alive.lock(); a && *a) dump_batch();
  });
}

}  // namespace tandem::app
