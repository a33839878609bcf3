// Outbound: Adj-RIB-Out per peer and pulled UPDATE generation.
//
// Work items per peer and family, in this order of priority:
//   1. a route refresh in progress (re-advertise the Adj-RIB-Out, BoRR/EoRR around it),
//   2. the initial dump after peer_up (the Loc-RIB snapshot, then End-of-RIB, once),
//   3. the dirty set (prefixes whose best path changed since they were last looked at).
// Each take_output() turns work into one batch at a time: for every prefix the export
// attribute set is computed (through a per-peer cache keyed by the best path's
// interned set, so the transformation runs once per attribute set, not per prefix),
// compared with what the Adj-RIB-Out says was last sent (duplicates suppressed), and
// the differences are grouped by export set and packed with wire::encode_announcements
// / encode_withdrawals. Snapshots are sorted by attribute set, so a full-table dump
// packs many prefixes per UPDATE. Only one batch of encoded messages is ever held;
// a slow peer accumulates dirty prefixes, not bytes.
#include <algorithm>

#include "bgpd/rib/rib_impl.hpp"

namespace tandem::rib {

namespace {

constexpr size_t kBatch = 2048;

// Sort `out` (entry indices) by attribute id with a counting sort.
template <class AttrOf>
void sort_by_attr(std::vector<uint32_t>& out, size_t id_limit, std::vector<uint32_t>& counts,
                  AttrOf attr_of) {
  if (out.size() < 2) return;
  counts.assign(id_limit + 1, 0);
  for (uint32_t i : out) ++counts[attr_of(i) + 1];
  for (size_t k = 1; k < counts.size(); ++k) counts[k] += counts[k - 1];
  std::vector<uint32_t> sorted(out.size());
  for (uint32_t i : out) sorted[counts[attr_of(i)]++] = i;
  out.swap(sorted);
}

bool is_update(const std::vector<uint8_t>& m) {
  return m.size() > 18 && m[18] == static_cast<uint8_t>(wire::MessageType::Update);
}

}  // namespace

// ---- start / stop ----

template <class F>
void Rib::Impl::start_family(uint16_t slot, FamOut<F>& fo) {
  fo.active = true;
  begin_dump<F>(fo);
  fam<F>().exporters.push_back(slot);
}

// The initial dump: a snapshot of the Loc-RIB sorted by attribute set, then End-of-RIB.
// While the family's output is held (selection deferral) it is taken at release.
template <class F>
void Rib::Impl::begin_dump(FamOut<F>& fo) {
  fo.eor_pending = true;
  fo.dump_pos = 0;
  fo.dump.clear();
  fo.dumping = !fam<F>().held;
  if (!fo.dumping) return;
  auto& loc = fam<F>().loc;
  fo.dump.clear();
  fo.dump.reserve(fam<F>().best_count);
  for (uint32_t i = 0; i < loc.slots(); ++i) {
    if (loc.live(i) && loc.at(i).has_best()) fo.dump.push_back(i);
  }
  sort_by_attr(fo.dump, store.id_limit(), sort_counts,
               [&](uint32_t i) { return loc.at(i).paths()[0].attr; });
}

template <class F>
void Rib::Impl::release_family() {
  FamilyRib<F>& fr = fam<F>();
  if (!fr.held) return;
  fr.held = false;
  for (uint16_t slot : fr.exporters) {
    FamOut<F>& fo = slots[slot].out->template fam_out<F>();
    // Everything changed while held is in the snapshot: drop the dirty set and any
    // route refresh asked for meanwhile (the dump covers it).
    fo.dirty.clear();
    fo.draining = {};
    fo.drain_pos = 0;
    fo.refreshing = false;
    fo.refresh.clear();
    begin_dump<F>(fo);
    // The dump announces what the Loc-RIB has; an unknown prefix may need a withdrawal.
    for (uint32_t i = 0; i < fo.unknown.slots(); ++i) {
      if (fo.unknown.live(i)) fo.dirty.insert(fo.unknown.at(i).addr, fo.unknown.at(i).len);
    }
    note_work(slot);
  }
}

void Rib::Impl::start_output(uint16_t slot) {
  PeerSlot& t = slots[slot];
  t.out = std::make_unique<PeerOutput>();
  ExportTarget& tg = t.out->target;
  tg.ebgp = t.ebgp;
  tg.rr_client = t.info.rr_client;
  tg.next_hop_self = t.info.next_hop_self;
  tg.local_v4 = t.info.local_v4;
  tg.local_v6 = t.info.local_v6;
  tg.llgr = t.info.llgr;
  if (t.fam_v4) start_family<V4>(slot, t.out->v4);
  if (t.fam_v6) start_family<V6>(slot, t.out->v6);
  if (t.fam_v4 || t.fam_v6) note_work(slot);
}

template <class F>
void Rib::Impl::release_fam_out(FamOut<F>& fo) {
  for (uint32_t i = 0; i < fo.adj.slots(); ++i) {
    if (fo.adj.live(i)) store.unref(fo.adj.at(i).attr);
  }
  fo.adj.clear();
  for (ExportCache::Line& l : fo.cache.lines) {
    if (l.src == kNoAttr) continue;
    store.unref(l.src);
    if (l.exp != kNoAttr) store.unref(l.exp);
    l = ExportCache::Line{};
  }
}

template <class F>
void Rib::Impl::stop_family(uint16_t slot, FamOut<F>& fo) {
  if (!fo.active) return;
  auto& ex = fam<F>().exporters;
  ex.erase(std::remove(ex.begin(), ex.end(), slot), ex.end());
  release_fam_out(fo);
}

void Rib::Impl::stop_output(uint16_t slot) {
  PeerSlot& t = slots[slot];
  if (t.out) {
    stop_family<V4>(slot, t.out->v4);
    stop_family<V6>(slot, t.out->v6);
    t.out.reset();
  }
  t.up = false;
  t.fam_v4 = t.fam_v6 = false;
  ready.erase(std::remove(ready.begin(), ready.end(), t.id), ready.end());
}

// ---- export computation ----

template <class F>
AttrId Rib::Impl::export_attr(uint16_t tslot, FamOut<F>& fo, const LocEntry<F>& e) {
  if (!e.has_best()) return kNoAttr;
  const PathRec b = e.paths()[0];
  if (b.peer == tslot) return kNoAttr;  // never back to the source
  const PeerSlot& s = slots[b.peer];
  const ExportTarget& dst = slots[tslot].out->target;
  ExportSource src;
  src.local = b.peer == 0;
  src.ebgp = !src.local && s.ebgp;
  src.rr_client = !src.local && s.info.rr_client;
  src.router_id = src.local ? cfg.router_id : s.info.router_id;
  if (!export_allowed(store.info(b.attr), src, dst)) return kNoAttr;

  if (fo.cache.lines.empty()) fo.cache.lines.resize(ExportCache::kLines);
  ExportCache::Line& l =
      fo.cache.lines[mix64((static_cast<uint64_t>(b.attr) << 16) | b.peer) &
                     (ExportCache::kLines - 1)];
  if (l.src == b.attr && l.slot == b.peer && l.epoch == s.epoch) return l.exp;

  auto x = export_attributes(store.get(b.attr), F::family(), src, dst, ctx);
  AttrId ex = x ? store.intern(std::move(*x)) : kNoAttr;
  if (l.src != kNoAttr) {
    store.unref(l.src);
    if (l.exp != kNoAttr) store.unref(l.exp);
  }
  store.ref(b.attr);
  l.src = b.attr;
  l.exp = ex;
  l.epoch = s.epoch;
  l.slot = b.peer;
  return ex;
}

template <class F>
void Rib::Impl::process_prefix(uint16_t tslot, FamOut<F>& fo, const typename F::Addr& addr,
                               uint8_t len, uint32_t loc_index) {
  auto& loc = fam<F>().loc;
  constexpr uint32_t npos = DenseTable<F, LocEntry<F>>::npos;
  uint32_t ei = loc_index != npos ? loc_index : loc.find(addr, len);
  AttrId ex = ei != npos ? export_attr<F>(tslot, fo, loc.at(ei)) : kNoAttr;
  uint32_t oi = fo.adj.find(addr, len);
  // Unknown at the peer: the Adj-RIB-Out holds nothing, yet a withdrawal may be due.
  bool unknown = false;
  if (!fo.unknown.empty()) {
    if (uint32_t ui = fo.unknown.find(addr, len); ui != npos) {
      fo.unknown.erase_swap(ui);
      unknown = true;
    }
  }
  if (ex == kNoAttr) {
    if (oi != npos) {
      store.unref(fo.adj.at(oi).attr);
      fo.adj.erase_stable(oi);
      batch.wd.push_back(F::to_prefix(addr, len));
    } else if (unknown) {
      batch.wd.push_back(F::to_prefix(addr, len));
    }
    return;
  }
  if (oi != npos) {
    AdjOutEntry<F>& o = fo.adj.at(oi);
    if (o.attr == ex) return;  // already advertised as is
    store.ref(ex);
    store.unref(o.attr);
    o.attr = ex;
  } else {
    uint32_t ni = fo.adj.insert(addr, len).first;
    if (ni == npos) return;
    fo.adj.at(ni).attr = ex;
    store.ref(ex);
  }
  store.ref(ex);  // held by the batch until encoded
  batch.ann.emplace_back(ex, F::to_prefix(addr, len));
}

template <class F>
void Rib::Impl::encode_batch(uint16_t tslot) {
  PeerSlot& t = slots[tslot];
  PeerOutput& o = *t.out;
  const wire::CodecOptions& co = t.info.codec;
  if (!batch.wd.empty()) {
    for (auto& m : wire::encode_withdrawals(F::family(), batch.wd, co)) {
      o.pending.push_back(std::move(m));
    }
  }
  auto& ann = batch.ann;
  std::stable_sort(ann.begin(), ann.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < ann.size();) {
    size_t j = i;
    batch.group.clear();
    while (j < ann.size() && ann[j].first == ann[i].first) batch.group.push_back(ann[j++].second);
    for (auto& m : wire::encode_announcements(store.get(ann[i].first), F::family(), batch.group,
                                              co)) {
      o.pending.push_back(std::move(m));
    }
    store.unref(ann[i].first, static_cast<uint32_t>(j - i));
    i = j;
  }
  batch.clear();
}

// ---- producing batches ----

template <class F>
bool Rib::Impl::produce_family(uint16_t tslot, FamOut<F>& fo) {
  if (!fo.active || fam<F>().held) return false;
  PeerOutput& o = *slots[tslot].out;

  if (fo.refreshing) {
    if (!fo.refresh_started) {
      fo.refresh_started = true;
      if (fo.refresh_enhanced) {
        o.pending.push_back(wire::encode_route_refresh(
            wire::RouteRefresh{F::family(), wire::RouteRefresh::BeginOfRefresh}));
      }
    }
    size_t end = std::min(fo.refresh.size(), fo.refresh_pos + kBatch);
    for (size_t i = fo.refresh_pos; i < end; ++i) {
      uint32_t idx = fo.refresh[i];
      if (idx >= fo.adj.slots() || !fo.adj.live(idx)) continue;
      const AdjOutEntry<F>& e = fo.adj.at(idx);
      store.ref(e.attr);
      batch.ann.emplace_back(e.attr, F::to_prefix(e.addr, e.len));
    }
    fo.refresh_pos = end;
    encode_batch<F>(tslot);
    if (fo.refresh_pos >= fo.refresh.size()) {
      fo.refreshing = false;
      fo.refresh.clear();
      fo.refresh.shrink_to_fit();
      if (fo.refresh_enhanced) {
        o.pending.push_back(wire::encode_route_refresh(
            wire::RouteRefresh{F::family(), wire::RouteRefresh::EndOfRefresh}));
      }
    }
    return true;
  }

  if (fo.dumping) {
    auto& loc = fam<F>().loc;
    auto best_attr = [&](uint32_t idx) -> AttrId {
      if (idx >= loc.slots() || !loc.live(idx) || !loc.at(idx).has_best()) return kNoAttr;
      return loc.at(idx).paths()[0].attr;
    };
    size_t end = std::min(fo.dump.size(), fo.dump_pos + kBatch);
    // Extend to the end of the current attribute run so it packs into one group.
    while (end < fo.dump.size() && end > fo.dump_pos &&
           best_attr(fo.dump[end]) == best_attr(fo.dump[end - 1])) {
      ++end;
    }
    // Two-stage prefetch: the Loc-RIB entry 16 ahead, then (once it is in cache) the
    // Adj-RIB-Out index slot of the entry 8 ahead.
    constexpr size_t kFar = 16, kNear = 8;
    for (size_t i = fo.dump_pos; i < end; ++i) {
      if (i + kFar < end) loc.prefetch_entry(fo.dump[i + kFar]);
      if (i + kNear < end) {
        uint32_t ahead = fo.dump[i + kNear];
        if (ahead < loc.slots() && loc.live(ahead)) {
          const LocEntry<F>& ae = loc.at(ahead);
          fo.adj.prefetch(ae.addr, ae.len);
        }
      }
      uint32_t idx = fo.dump[i];
      if (best_attr(idx) == kNoAttr) continue;
      const LocEntry<F>& e = loc.at(idx);
      const typename F::Addr addr = e.addr;
      process_prefix<F>(tslot, fo, addr, e.len, idx);
    }
    fo.dump_pos = end;
    encode_batch<F>(tslot);
    if (fo.dump_pos >= fo.dump.size()) {
      fo.dumping = false;
      fo.dump.clear();
      fo.dump.shrink_to_fit();
      if (fo.eor_pending) {
        fo.eor_pending = false;
        o.pending.push_back(wire::encode_end_of_rib(F::family()));
      }
    }
    return true;
  }

  if (fo.drain_pos >= fo.draining.size() && !fo.dirty.empty()) {
    fo.dirty.take_all(fo.draining);
    fo.drain_pos = 0;
  }
  if (fo.drain_pos < fo.draining.size()) {
    auto& loc = fam<F>().loc;
    const size_t end = std::min(fo.draining.size(), fo.drain_pos + kBatch);
    constexpr size_t kAhead = 8;
    for (size_t i = fo.drain_pos; i < end; ++i) {
      if (i + kAhead < end) {
        const KeyEntry<F>& ke = fo.draining[i + kAhead];
        loc.prefetch(ke.addr, ke.len);
        fo.adj.prefetch(ke.addr, ke.len);
      }
      const KeyEntry<F> k = fo.draining[i];
      process_prefix<F>(tslot, fo, k.addr, k.len, DenseTable<F, LocEntry<F>>::npos);
    }
    fo.drain_pos = end;
    if (fo.drain_pos >= fo.draining.size()) {
      fo.draining = {};
      fo.drain_pos = 0;
    }
    encode_batch<F>(tslot);
    return true;
  }
  return false;
}

bool Rib::Impl::produce(uint16_t slot) {
  PeerOutput& o = *slots[slot].out;
  return produce_family<V4>(slot, o.v4) || produce_family<V6>(slot, o.v6);
}

namespace {
template <class F>
bool fam_pending(const FamOut<F>& fo) {
  return fo.active && (fo.refreshing || fo.dumping || fo.eor_pending || !fo.dirty.empty() ||
                       fo.drain_pos < fo.draining.size());
}
}  // namespace

bool Rib::Impl::output_pending(const PeerSlot& t) const {
  if (!t.out) return false;
  const PeerOutput& o = *t.out;
  return !o.pending.empty() || (!v4.held && fam_pending(o.v4)) || (!v6.held && fam_pending(o.v6));
}

size_t Rib::Impl::take_output(PeerId peer, size_t max_bytes, std::vector<uint8_t>& out) {
  uint16_t slot = 0;
  PeerSlot* t = find_slot(peer, &slot);
  if (t == nullptr || !t->up || !t->out) return 0;
  PeerOutput& o = *t->out;
  size_t added = 0;
  for (;;) {
    if (!o.pending.empty()) {
      std::vector<uint8_t>& m = o.pending.front();
      if (added > 0 && added + m.size() > max_bytes) break;
      out.insert(out.end(), m.begin(), m.end());
      added += m.size();
      if (is_update(m)) ++t->updates_out;
      o.pending.pop_front();
      continue;
    }
    if (added >= max_bytes) break;
    if (!produce(slot)) break;
  }
  if (!output_pending(*t)) o.idle = true;
  return added;
}

void Rib::Impl::request_refresh(PeerId peer, wire::Family family, bool enhanced) {
  uint16_t slot = 0;
  PeerSlot* t = find_slot(peer, &slot);
  if (t == nullptr || !t->up || !t->out) return;
  auto start = [&](auto& fo) {
    if (!fo.active) return;
    fo.refresh.clear();
    for (uint32_t i = 0; i < fo.adj.slots(); ++i) {
      if (fo.adj.live(i)) fo.refresh.push_back(i);
    }
    sort_by_attr(fo.refresh, store.id_limit(), sort_counts,
                 [&](uint32_t i) { return fo.adj.at(i).attr; });
    fo.refresh_pos = 0;
    fo.refreshing = true;
    fo.refresh_enhanced = enhanced;
    fo.refresh_started = false;
    note_work(slot);
  };
  if (family == wire::kIpv4Unicast) start(t->out->v4);
  if (family == wire::kIpv6Unicast) start(t->out->v6);
}

template <class F>
void Rib::Impl::forget_advertised(uint16_t slot, FamOut<F>& fo, const wire::Prefix& prefix) {
  if (!fo.active) return;
  const auto key = F::from_prefix(prefix);
  constexpr uint32_t npos = DenseTable<F, AdjOutEntry<F>>::npos;
  if (uint32_t oi = fo.adj.find(key.addr, key.len); oi != npos) {
    store.unref(fo.adj.at(oi).attr);
    fo.adj.erase_stable(oi);
  }
  fo.unknown.insert(key.addr, key.len);
  fo.dirty.insert(key.addr, key.len);
  note_work(slot);
}

void Rib::Impl::resend_prefixes(PeerId peer, std::span<const wire::Prefix> prefixes) {
  uint16_t slot = 0;
  PeerSlot* t = find_slot(peer, &slot);
  if (t == nullptr || !t->up || !t->out) return;
  for (const wire::Prefix& p : prefixes) {
    if (p.family() == wire::kIpv4Unicast) forget_advertised<V4>(slot, t->out->v4, p);
    if (p.family() == wire::kIpv6Unicast) forget_advertised<V6>(slot, t->out->v6, p);
  }
}

void Rib::hold_output(wire::Family family) {
  if (family == wire::kIpv4Unicast) impl_->v4.held = true;
  if (family == wire::kIpv6Unicast) impl_->v6.held = true;
}

void Rib::release_output(wire::Family family) {
  Impl& m = *impl_;
  if (family == wire::kIpv4Unicast) m.release_family<V4>();
  if (family == wire::kIpv6Unicast) m.release_family<V6>();
  m.flush_ready();
}

bool Rib::output_held(wire::Family family) const {
  if (family == wire::kIpv4Unicast) return impl_->v4.held;
  if (family == wire::kIpv6Unicast) return impl_->v6.held;
  return false;
}

}  // namespace tandem::rib
