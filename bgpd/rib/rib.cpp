// Rib: peers, the Loc-RIB (paths per prefix, best-path bookkeeping), local
// origination and queries. Inbound decoding is in ingest.cpp, output in adj_rib_out.cpp.
#include "bgpd/rib/rib.hpp"

#include <algorithm>

#include <bit>

#include "bgpd/rib/rib_impl.hpp"

namespace tandem::rib {

// ---- path arrays ----

template <class F>
void entry_add_path(LocEntry<F>& e, PathRec r) {
  uint32_t n = e.npaths;
  if (n == 0) {
    e.one = r;
    e.npaths = 1;
    return;
  }
  if (n == 1) {
    auto* a = new PathRec[2];
    a[0] = e.one;
    a[1] = r;
    e.many = a;
    e.npaths = 2;
    return;
  }
  if (std::has_single_bit(n)) {  // full: capacity n -> 2n
    auto* a = new PathRec[2 * n];
    std::copy(e.many, e.many + n, a);
    delete[] e.many;
    e.many = a;
  }
  e.many[n] = r;
  e.npaths = static_cast<uint16_t>(n + 1);
}

template <class F>
void entry_remove_path(LocEntry<F>& e, uint32_t i) {
  uint32_t n = e.npaths;
  if (n == 1) {
    e.npaths = 0;
    return;
  }
  if (n == 2) {
    PathRec keep = e.many[1 - i];
    delete[] e.many;
    e.one = keep;
    e.npaths = 1;
    return;
  }
  // Keep the order of the others (the best stays first when it is not removed).
  std::copy(e.many + i + 1, e.many + n, e.many + i);
  uint32_t m = n - 1;
  if (std::has_single_bit(m)) {  // capacity 2m -> m
    auto* a = new PathRec[m];
    std::copy(e.many, e.many + m, a);
    delete[] e.many;
    e.many = a;
  }
  e.npaths = static_cast<uint16_t>(m);
}

// ---- Impl basics ----

Rib::Impl::Impl(RibConfig c) : cfg(c) {
  cluster_id = cfg.cluster_id != 0 ? cfg.cluster_id : cfg.router_id;
  ctx.local_as = cfg.local_as;
  ctx.cluster_id = cluster_id;
  slots.resize(1);
  dpeers.resize(1);
  slots[0].in_use = true;
  slots[0].id = kLocalPeer;
  slots[0].info.remote_as = cfg.local_as;
  slots[0].info.router_id = cfg.router_id;
  dpeers[0].local = true;
  dpeers[0].router_id = cfg.router_id;
  dpeers[0].id = kLocalPeer;
  slot_of[kLocalPeer] = 0;
}

namespace {
template <class F>
void free_path_arrays(FamilyRib<F>& fr) {
  for (uint32_t i = 0; i < fr.loc.slots(); ++i) {
    if (!fr.loc.live(i)) continue;
    auto& e = fr.loc.at(i);
    if (e.npaths > 1) delete[] e.many;
  }
}
}  // namespace

Rib::Impl::~Impl() {
  free_path_arrays(v4);
  free_path_arrays(v6);
}

PeerSlot* Rib::Impl::find_slot(PeerId id, uint16_t* slot_out) {
  auto it = slot_of.find(id);
  if (it == slot_of.end()) return nullptr;
  if (slot_out) *slot_out = it->second;
  return &slots[it->second];
}

const PeerSlot* Rib::Impl::find_slot(PeerId id, uint16_t* slot_out) const {
  auto it = slot_of.find(id);
  if (it == slot_of.end()) return nullptr;
  if (slot_out) *slot_out = it->second;
  return &slots[it->second];
}

uint16_t Rib::Impl::alloc_slot(PeerId id) {
  uint16_t s = 0;
  for (uint16_t i = 1; i < slots.size(); ++i) {
    if (!slots[i].in_use) {
      s = i;
      break;
    }
  }
  if (s == 0) {
    if (slots.size() >= 0xFFFF) return 0;
    s = static_cast<uint16_t>(slots.size());
    slots.emplace_back();
    dpeers.emplace_back();
  }
  PeerSlot& ps = slots[s];
  const uint32_t epoch = ps.epoch;  // epochs stay unique per slot across reuse
  ps = PeerSlot{};
  ps.epoch = epoch;
  ps.in_use = true;
  ps.id = id;
  slot_of[id] = s;
  return s;
}

void Rib::Impl::release_slot_if_unused(uint16_t slot) {
  PeerSlot& ps = slots[slot];
  if (slot == 0 || ps.up || ps.received != 0) return;
  slot_of.erase(ps.id);
  uint32_t epoch = ps.epoch;
  ps = PeerSlot{};
  ps.epoch = epoch;  // keeps epochs unique per slot across reuse
  dpeers[slot] = DecisionPeer{};
}

void Rib::Impl::note_work(uint16_t slot) {
  PeerSlot& t = slots[slot];
  if (t.out && t.out->idle) {
    t.out->idle = false;
    ready.push_back(t.id);
  }
}

void Rib::Impl::flush_ready() {
  if (ready.empty()) return;
  std::vector<PeerId> now;
  now.swap(ready);
  if (!ready_listener) return;
  for (PeerId p : now) ready_listener(p);
}

// ---- Loc-RIB ----

template <class F>
void Rib::Impl::mark_dirty(const typename F::Addr& addr, uint8_t len, uint32_t old_peer,
                           uint32_t new_peer) {
  for (uint16_t s : fam<F>().exporters) {
    // A peer whose own route is (and was) the best, or was/is none, was advertised
    // nothing for this prefix and still is not: skip (this is the common case when a
    // peer sends its table). If an earlier change is still pending it is in the set.
    if ((old_peer == s || old_peer == kNoSlot) && (new_peer == s || new_peer == kNoSlot)) {
      continue;
    }
    FamOut<F>& fo = fout<F>(*slots[s].out);
    fo.dirty.insert(addr, len);
    note_work(s);
  }
}

template <class F>
void Rib::Impl::update_best(uint32_t ei, PathRec old_best, bool had_best) {
  FamilyRib<F>& fr = fam<F>();
  LocEntry<F>& e = fr.loc.at(ei);
  PathRec* p = e.paths();
  uint32_t n = e.npaths;
  int b;
  if (n == 0) {
    b = -1;
  } else if (n == 1) {
    b = (p[0].flags & kPathEligible) ? 0 : -1;
  } else {
    b = select_best(p, n, store, dpeers.data(), decision_scratch);
  }
  if (b > 0) std::swap(p[0], p[b]);
  const bool has = b >= 0;
  if (has) {
    e.flags |= kEntryHasBest;
  } else {
    e.flags &= static_cast<uint8_t>(~kEntryHasBest);
  }
  if (has == had_best && (!has || (p[0].attr == old_best.attr && p[0].peer == old_best.peer))) {
    return;
  }
  if (has && !had_best) ++fr.best_count;
  if (!has && had_best) --fr.best_count;
  if (best_listener) {
    BestChange bc;
    bc.prefix = F::to_prefix(e.addr, e.len);
    bc.old_best = had_best ? store.ptr(old_best.attr) : nullptr;
    bc.new_best = has ? store.ptr(p[0].attr) : nullptr;
    bc.new_peer = has ? slots[p[0].peer].id : 0;
    best_listener(bc);
  }
  mark_dirty<F>(e.addr, e.len, had_best ? old_best.peer : kNoSlot, has ? p[0].peer : kNoSlot);
}

template <class F>
bool Rib::Impl::announce(const typename F::Addr& addr, uint8_t len, uint16_t slot, AttrId attr,
                         uint8_t pflags) {
  FamilyRib<F>& fr = fam<F>();
  auto [ei, inserted] = fr.loc.insert(addr, len);
  if (ei == DenseTable<F, LocEntry<F>>::npos) return false;
  LocEntry<F>& e = fr.loc.at(ei);
  PeerSlot& ps = slots[slot];
  const bool had_best = e.has_best();
  const PathRec old_best = had_best ? e.paths()[0] : PathRec{};
  PathRec* p = e.paths();
  uint32_t n = e.npaths;
  uint32_t i = 0;
  while (i < n && p[i].peer != slot) ++i;
  AttrId released = kNoAttr;
  if (i < n) {
    if (p[i].attr == attr && p[i].flags == pflags) return true;  // duplicate
    if (p[i].flags & kPathEligible) {
      --ps.accepted;
      if constexpr (std::is_same_v<F, V6>) --ps.accepted_v6;
    }
    if ((p[i].flags & kPathStale) && !(pflags & kPathStale)) {  // refreshed (GR)
      --ps.stale;
      if constexpr (std::is_same_v<F, V6>) --ps.stale_v6;
    }
    released = p[i].attr;
    p[i].attr = attr;
    p[i].flags = pflags;
  } else {
    entry_add_path(e, PathRec{attr, slot, pflags, 0});
    ++ps.received;
    if constexpr (std::is_same_v<F, V6>) ++ps.received_v6;
  }
  store.ref(attr);
  if (pflags & kPathEligible) {
    ++ps.accepted;
    if constexpr (std::is_same_v<F, V6>) ++ps.accepted_v6;
  }
  update_best<F>(ei, old_best, had_best);
  if (released != kNoAttr) store.unref(released);
  return true;
}

template <class F>
void Rib::Impl::remove_path_at(uint32_t ei, uint32_t pi) {
  FamilyRib<F>& fr = fam<F>();
  LocEntry<F>& e = fr.loc.at(ei);
  const bool had_best = e.has_best();
  const PathRec old_best = had_best ? e.paths()[0] : PathRec{};
  const PathRec removed = e.paths()[pi];
  PeerSlot& ps = slots[removed.peer];
  entry_remove_path(e, pi);
  --ps.received;
  if (removed.flags & kPathEligible) --ps.accepted;
  if (removed.flags & kPathStale) --ps.stale;
  if constexpr (std::is_same_v<F, V6>) {
    --ps.received_v6;
    if (removed.flags & kPathEligible) --ps.accepted_v6;
    if (removed.flags & kPathStale) --ps.stale_v6;
  }
  update_best<F>(ei, old_best, had_best);
  if (e.npaths == 0) fr.loc.erase_stable(ei);
  store.unref(removed.attr);
}

template <class F>
bool Rib::Impl::withdraw(const typename F::Addr& addr, uint8_t len, uint16_t slot) {
  FamilyRib<F>& fr = fam<F>();
  uint32_t ei = fr.loc.find(addr, len);
  if (ei == DenseTable<F, LocEntry<F>>::npos) return false;
  LocEntry<F>& e = fr.loc.at(ei);
  const PathRec* p = e.paths();
  for (uint32_t i = 0; i < e.npaths; ++i) {
    if (p[i].peer == slot) {
      remove_path_at<F>(ei, i);
      return true;
    }
  }
  return false;
}

template <class F>
void Rib::Impl::drop_peer_paths(uint16_t slot, bool only_stale) {
  FamilyRib<F>& fr = fam<F>();
  for (uint32_t ei = 0; ei < fr.loc.slots(); ++ei) {
    if (!fr.loc.live(ei)) continue;
    LocEntry<F>& e = fr.loc.at(ei);
    const PathRec* p = e.paths();
    for (uint32_t i = 0; i < e.npaths; ++i) {
      if (p[i].peer == slot) {
        if (!only_stale || (p[i].flags & kPathStale)) remove_path_at<F>(ei, i);
        break;
      }
    }
  }
}

template <class F>
bool Rib::Impl::mark_path_stale(uint32_t ei, uint16_t slot) {
  LocEntry<F>& e = fam<F>().loc.at(ei);
  PathRec* p = e.paths();
  for (uint32_t i = 0; i < e.npaths; ++i) {
    if (p[i].peer != slot) continue;
    if (!(p[i].flags & kPathStale)) {
      const bool had_best = e.has_best();
      const PathRec old_best = had_best ? p[0] : PathRec{};
      p[i].flags |= kPathStale;
      ++slots[slot].stale;
      if constexpr (std::is_same_v<F, V6>) ++slots[slot].stale_v6;
      if (e.npaths > 1) update_best<F>(ei, old_best, had_best);
    }
    return true;
  }
  return false;
}

template <class F>
bool Rib::Impl::mark_prefix_stale(const wire::Prefix& prefix, uint16_t slot) {
  const auto k = F::from_prefix(prefix);
  const uint32_t ei = fam<F>().loc.find(k.addr, k.len);
  return ei != DenseTable<F, LocEntry<F>>::npos && mark_path_stale<F>(ei, slot);
}

template <class F>
void Rib::Impl::mark_peer_stale(uint16_t slot) {
  FamilyRib<F>& fr = fam<F>();
  for (uint32_t ei = 0; ei < fr.loc.slots(); ++ei)
    if (fr.loc.live(ei)) mark_path_stale<F>(ei, slot);
}

template <class F>
size_t Rib::Impl::enter_llgr(uint16_t slot, size_t& removed) {
  FamilyRib<F>& fr = fam<F>();
  std::unordered_map<AttrId, AttrId> with_llgr;  // old set -> set + LLGR_STALE (one ref held)
  size_t kept = 0;
  for (uint32_t ei = 0; ei < fr.loc.slots(); ++ei) {
    if (!fr.loc.live(ei)) continue;
    LocEntry<F>& e = fr.loc.at(ei);
    const PathRec* p = e.paths();
    for (uint32_t i = 0; i < e.npaths; ++i) {
      if (p[i].peer != slot) continue;
      if (!(p[i].flags & kPathStale)) break;
      const AttrInfo info = store.info(p[i].attr);
      if (info.no_llgr) {
        remove_path_at<F>(ei, i);
        ++removed;
        break;
      }
      ++kept;
      if (info.llgr_stale) break;  // already marked (by us or upstream)
      auto [it, fresh] = with_llgr.try_emplace(p[i].attr, kNoAttr);
      if (fresh) {
        wire::PathAttributes a = store.get(p[i].attr);
        a.communities.push_back(wire::community::kLlgrStale);
        it->second = store.intern(std::move(a));
      }
      const typename F::Addr addr = e.addr;
      announce<F>(addr, e.len, slot, it->second, p[i].flags);
      break;
    }
  }
  for (auto& [from, to] : with_llgr) store.unref(to);
  return kept;
}

template bool Rib::Impl::announce<V4>(const V4::Addr&, uint8_t, uint16_t, AttrId, uint8_t);
template bool Rib::Impl::announce<V6>(const V6::Addr&, uint8_t, uint16_t, AttrId, uint8_t);
template bool Rib::Impl::withdraw<V4>(const V4::Addr&, uint8_t, uint16_t);
template bool Rib::Impl::withdraw<V6>(const V6::Addr&, uint8_t, uint16_t);

// ---- Rib ----

Rib::Rib(RibConfig config) : impl_(std::make_unique<Impl>(config)) {}
Rib::~Rib() = default;

void Rib::peer_up(const PeerInfo& peer) {
  Impl& m = *impl_;
  if (peer.id == kLocalPeer) return;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer.id, &s);
  if (ps != nullptr && ps->up) {
    peer_down(peer.id);
    ps = m.find_slot(peer.id, &s);
  }
  if (ps == nullptr) {
    s = m.alloc_slot(peer.id);
    if (s == 0) return;  // out of peer slots
    ps = &m.slots[s];
  }
  ps->up = true;
  ps->info = peer;
  ps->ebgp = peer.ebgp(m.cfg.local_as);
  ps->fam_v4 = ps->fam_v6 = false;
  for (const wire::Family& f : peer.families) {
    if (f == wire::kIpv4Unicast) ps->fam_v4 = true;
    if (f == wire::kIpv6Unicast) ps->fam_v6 = true;
  }
  ++ps->epoch;
  DecisionPeer& d = m.dpeers[s];
  d.local = false;
  d.ebgp = ps->ebgp;
  d.router_id = peer.router_id;
  d.address = peer.address;
  d.id = peer.id;
  m.start_output(s);
  m.flush_ready();
}

void Rib::peer_down(PeerId peer) {
  Impl& m = *impl_;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || s == 0) return;
  m.stop_output(s);
  m.drop_peer_paths<V4>(s, false);
  m.drop_peer_paths<V6>(s, false);
  m.release_slot_if_unused(s);
  m.flush_ready();
}

void Rib::peer_down_graceful(PeerId peer) {
  Impl& m = *impl_;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || s == 0) return;
  m.stop_output(s);
  m.mark_peer_stale<V4>(s);
  m.mark_peer_stale<V6>(s);
  m.release_slot_if_unused(s);
  m.flush_ready();
}

void Rib::peer_down_graceful(PeerId peer, const std::vector<wire::Family>& keep) {
  Impl& m = *impl_;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || s == 0) return;
  auto kept = [&](wire::Family f) { return std::find(keep.begin(), keep.end(), f) != keep.end(); };
  m.stop_output(s);
  if (kept(wire::kIpv4Unicast)) m.mark_peer_stale<V4>(s);
  else m.drop_peer_paths<V4>(s, false);
  if (kept(wire::kIpv6Unicast)) m.mark_peer_stale<V6>(s);
  else m.drop_peer_paths<V6>(s, false);
  m.release_slot_if_unused(s);
  m.flush_ready();
}

size_t Rib::sweep_stale(PeerId peer, wire::Family family) {
  Impl& m = *impl_;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || s == 0) return 0;
  size_t before = ps->received;
  if (family == wire::kIpv4Unicast) m.drop_peer_paths<V4>(s, true);
  else if (family == wire::kIpv6Unicast) m.drop_peer_paths<V6>(s, true);
  size_t removed = before - ps->received;
  m.release_slot_if_unused(s);
  m.flush_ready();
  return removed;
}

size_t Rib::stale_count(PeerId peer, wire::Family family) const {
  const PeerSlot* ps = impl_->find_slot(peer);
  if (ps == nullptr) return 0;
  if (family == wire::kIpv6Unicast) return ps->stale_v6;
  if (family == wire::kIpv4Unicast) return ps->stale - ps->stale_v6;
  return 0;
}

size_t Rib::enter_llgr(PeerId peer, wire::Family family, size_t& removed) {
  Impl& m = *impl_;
  removed = 0;
  uint16_t s = 0;
  if (m.find_slot(peer, &s) == nullptr || s == 0) return 0;
  size_t kept = 0;
  if (family == wire::kIpv4Unicast) kept = m.enter_llgr<V4>(s, removed);
  else if (family == wire::kIpv6Unicast) kept = m.enter_llgr<V6>(s, removed);
  m.release_slot_if_unused(s);
  m.flush_ready();
  return kept;
}

void Rib::mark_stale(PeerId peer) {
  Impl& m = *impl_;
  uint16_t s = 0;
  if (m.find_slot(peer, &s) == nullptr || s == 0) return;
  m.mark_peer_stale<V4>(s);
  m.mark_peer_stale<V6>(s);
  m.flush_ready();
}

size_t Rib::mark_stale(PeerId peer, std::span<const wire::Prefix> prefixes) {
  Impl& m = *impl_;
  uint16_t s = 0;
  if (m.find_slot(peer, &s) == nullptr || s == 0) return 0;
  size_t marked = 0;
  for (const auto& prefix : prefixes) {
    if (prefix.addr.is_v4() ? m.mark_prefix_stale<V4>(prefix, s) : m.mark_prefix_stale<V6>(prefix, s)) ++marked;
  }
  m.flush_ready();
  return marked;
}

size_t Rib::sweep_stale(PeerId peer) {
  Impl& m = *impl_;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || s == 0) return 0;
  size_t before = ps->received;
  m.drop_peer_paths<V4>(s, true);
  m.drop_peer_paths<V6>(s, true);
  size_t removed = before - ps->received;
  m.release_slot_if_unused(s);
  m.flush_ready();
  return removed;
}

IngestResult Rib::ingest_update(PeerId peer, std::span<const uint8_t> body) {
  IngestResult r = impl_->ingest(peer, body);
  impl_->flush_ready();
  return r;
}

IngestResult Rib::apply_update(PeerId peer, const wire::Update& update) {
  Impl& m = *impl_;
  IngestResult r;
  uint16_t s = 0;
  PeerSlot* ps = m.find_slot(peer, &s);
  if (ps == nullptr || (!ps->up && s != 0)) {
    r.reason = "peer is not established";
    return r;
  }
  ++ps->updates_in;
  wire::Update copy = update;
  m.apply(s, copy, r, {});
  m.flush_ready();
  return r;
}

void Rib::originate(const wire::Prefix& prefix, wire::PathAttributes attrs) {
  Impl& m = *impl_;
  if (!attrs.has_origin) {
    attrs.origin = wire::Origin::Igp;
    attrs.has_origin = true;
  }
  attrs.has_as_path = true;
  AttrId a = m.store.intern(std::move(attrs));
  if (prefix.afi() == wire::Afi::Ipv4) {
    auto k = V4::from_prefix(prefix);
    m.announce<V4>(k.addr, k.len, 0, a, kPathEligible);
  } else {
    auto k = V6::from_prefix(prefix);
    m.announce<V6>(k.addr, k.len, 0, a, kPathEligible);
  }
  m.store.unref(a);
  m.flush_ready();
}

void Rib::set_identity(uint32_t local_as, uint32_t router_id) {
  Impl& m = *impl_;
  m.cfg.local_as = local_as;
  m.cfg.router_id = router_id;
  m.cluster_id = m.cfg.cluster_id != 0 ? m.cfg.cluster_id : router_id;
  m.ctx.local_as = local_as;
  m.ctx.cluster_id = m.cluster_id;
  m.slots[0].info.remote_as = local_as;
  m.slots[0].info.router_id = router_id;
  m.dpeers[0].router_id = router_id;
}

bool Rib::withdraw_local(const wire::Prefix& prefix) {
  Impl& m = *impl_;
  bool done;
  if (prefix.afi() == wire::Afi::Ipv4) {
    auto k = V4::from_prefix(prefix);
    done = m.withdraw<V4>(k.addr, k.len, 0);
  } else {
    auto k = V6::from_prefix(prefix);
    done = m.withdraw<V6>(k.addr, k.len, 0);
  }
  m.flush_ready();
  return done;
}

void Rib::request_refresh(PeerId peer, wire::Family family, bool enhanced) {
  impl_->request_refresh(peer, family, enhanced);
  impl_->flush_ready();
}

void Rib::resend_prefixes(PeerId peer, std::span<const wire::Prefix> prefixes) {
  impl_->resend_prefixes(peer, prefixes);
  impl_->flush_ready();
}

bool Rib::has_output(PeerId peer) const {
  const PeerSlot* ps = impl_->find_slot(peer);
  return ps != nullptr && ps->up && impl_->output_pending(*ps);
}

size_t Rib::take_output(PeerId peer, size_t max_bytes, std::vector<uint8_t>& out) {
  size_t n = impl_->take_output(peer, max_bytes, out);
  impl_->flush_ready();
  return n;
}

void Rib::set_output_ready_listener(std::function<void(PeerId)> fn) {
  impl_->ready_listener = std::move(fn);
}

void Rib::set_best_change_listener(std::function<void(const BestChange&)> fn) {
  impl_->best_listener = std::move(fn);
}

// ---- queries ----

namespace {

template <class F, class Fn>
void each_loc(const FamilyRib<F>& fr, Fn&& fn) {
  for (uint32_t i = 0; i < fr.loc.slots(); ++i) {
    if (fr.loc.live(i)) fn(fr.loc.at(i));
  }
}

}  // namespace

void Rib::for_each_best(
    wire::Family family,
    const std::function<void(const wire::Prefix&, const PathView&)>& fn) const {
  const Impl& m = *impl_;
  auto visit = [&](const auto& fr, auto tag) {
    using F = decltype(tag);
    each_loc(fr, [&](const LocEntry<F>& e) {
      if (!e.has_best()) return;
      const PathRec& p = e.paths()[0];
      fn(F::to_prefix(e.addr, e.len), PathView{m.slots[p.peer].id, m.store.ptr(p.attr), true});
    });
  };
  if (family == wire::kIpv4Unicast) visit(m.v4, V4{});
  if (family == wire::kIpv6Unicast) visit(m.v6, V6{});
}

void Rib::for_each_path(
    wire::Family family,
    const std::function<void(const wire::Prefix&, const PathView&)>& fn) const {
  const Impl& m = *impl_;
  auto visit = [&](const auto& fr, auto tag) {
    using F = decltype(tag);
    each_loc(fr, [&](const LocEntry<F>& e) {
      const PathRec* p = e.paths();
      for (uint32_t i = 0; i < e.npaths; ++i) {
        if (!(p[i].flags & kPathEligible)) continue;
        fn(F::to_prefix(e.addr, e.len),
           PathView{m.slots[p[i].peer].id, m.store.ptr(p[i].attr), i == 0 && e.has_best()});
      }
    });
  };
  if (family == wire::kIpv4Unicast) visit(m.v4, V4{});
  if (family == wire::kIpv6Unicast) visit(m.v6, V6{});
}

void Rib::for_each_adj_in(
    PeerId peer, wire::Family family,
    const std::function<void(const wire::Prefix&, const PathView&)>& fn) const {
  const Impl& m = *impl_;
  uint16_t s = 0;
  if (m.find_slot(peer, &s) == nullptr) return;
  auto visit = [&](const auto& fr, auto tag) {
    using F = decltype(tag);
    each_loc(fr, [&](const LocEntry<F>& e) {
      const PathRec* p = e.paths();
      for (uint32_t i = 0; i < e.npaths; ++i) {
        if (p[i].peer != s) continue;
        fn(F::to_prefix(e.addr, e.len),
           PathView{peer, m.store.ptr(p[i].attr), i == 0 && e.has_best()});
      }
    });
  };
  if (family == wire::kIpv4Unicast) visit(m.v4, V4{});
  if (family == wire::kIpv6Unicast) visit(m.v6, V6{});
}

void Rib::for_each_adj_out(
    PeerId peer, wire::Family family,
    const std::function<void(const wire::Prefix&, const PathAttributes&)>& fn) const {
  const Impl& m = *impl_;
  const PeerSlot* ps = m.find_slot(peer);
  if (ps == nullptr || !ps->out) return;
  auto visit = [&](const auto& fo, auto tag) {
    using F = decltype(tag);
    for (uint32_t i = 0; i < fo.adj.slots(); ++i) {
      if (!fo.adj.live(i)) continue;
      const auto& e = fo.adj.at(i);
      fn(F::to_prefix(e.addr, e.len), m.store.get(e.attr));
    }
  };
  if (family == wire::kIpv4Unicast) visit(ps->out->v4, V4{});
  if (family == wire::kIpv6Unicast) visit(ps->out->v6, V6{});
}

PeerCounters Rib::counters(PeerId peer) const {
  PeerCounters c;
  const PeerSlot* ps = impl_->find_slot(peer);
  if (ps == nullptr) return c;
  c.received = ps->received;
  c.accepted = ps->accepted;
  if (ps->out) c.advertised = ps->out->v4.adj.size() + ps->out->v6.adj.size();
  c.updates_in = ps->updates_in;
  c.updates_out = ps->updates_out;
  return c;
}

size_t Rib::loc_rib_size(wire::Family family) const {
  if (family == wire::kIpv4Unicast) return impl_->v4.best_count;
  if (family == wire::kIpv6Unicast) return impl_->v6.best_count;
  return 0;
}

size_t Rib::attribute_sets() const { return impl_->store.size(); }

size_t Rib::prefix_count(wire::Family family) const {
  if (family == wire::kIpv4Unicast) return impl_->v4.loc.size();
  if (family == wire::kIpv6Unicast) return impl_->v6.loc.size();
  return 0;
}

const AttrStore& Rib::attr_store() const { return impl_->store; }

}  // namespace tandem::rib
