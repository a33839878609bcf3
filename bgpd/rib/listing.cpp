// Resumable batch-wise listing of the Loc-RIB and the Adj-RIBs (see Rib::list_routes).
#include <algorithm>

#include "bgpd/rib/rib_impl.hpp"

namespace tandem::rib {
namespace {

// Upper bound of entries one call inspects (keeps the owner thread responsive when a
// filter matches little).
constexpr uint32_t kMaxScanPerCall = 65536;

template <class F>
bool prefix_matches(const ListQuery& q, const typename F::Key& fk, const typename F::Addr& addr, uint8_t len) {
  switch (q.match) {
    case PrefixMatch::Any: return true;
    case PrefixMatch::Exact: return len == fk.len && F::eq(addr, fk.addr);
    case PrefixMatch::Longer: return len >= fk.len && F::eq(F::mask(addr, fk.len), fk.addr);
    case PrefixMatch::Shorter: return len <= fk.len && F::eq(F::mask(fk.addr, len), addr);
  }
  return false;
}

// What the listing needs of the Rib's internals.
struct Ctx {
  const std::vector<PeerSlot>& slots;
  const AttrStore& store;
  bool by_peer;
  uint16_t want_slot;
};

template <class F>
size_t list_loc(const Ctx& m, const FamilyRib<F>& fr, const ListQuery& q, ListCursor& c, size_t max,
                std::vector<ListedRoute>& out) {
  const bool by_peer = m.by_peer;
  const uint16_t want_slot = m.want_slot;
  const bool adj_in = q.table == ListTable::AdjRibIn;
  typename F::Key fk{};
  if (q.match != PrefixMatch::Any) fk = F::from_prefix(q.prefix);
  size_t added = 0;
  auto emit_entry = [&](const LocEntry<F>& e) {
    const PathRec* p = e.paths();
    for (uint32_t i = 0; i < e.npaths; ++i) {
      bool best = i == 0 && e.has_best();
      bool eligible = (p[i].flags & kPathEligible) != 0;
      if (by_peer && p[i].peer != want_slot) continue;
      if (!adj_in && !eligible) continue;  // the Loc-RIB holds eligible paths only
      if (!adj_in && q.best_only && !best) continue;
      out.push_back(ListedRoute{F::to_prefix(e.addr, e.len), m.slots[p[i].peer].id, m.store.ptr(p[i].attr), best,
                                eligible, (p[i].flags & kPathStale) != 0});
      ++added;
    }
  };
  const auto& t = fr.loc;
  if (q.match == PrefixMatch::Exact) {
    // One lookup; the cursor only records that it was done.
    uint32_t i = t.find(fk.addr, fk.len);
    if (i != t.npos) emit_entry(t.at(i));
    c.done = true;
    return added;
  }
  uint32_t i = static_cast<uint32_t>(std::min<uint64_t>(c.pos, t.slots()));
  uint32_t scanned = 0;
  for (; i < t.slots() && added < max && scanned < kMaxScanPerCall; ++i, ++scanned) {
    if (!t.live(i)) continue;
    const LocEntry<F>& e = t.at(i);
    if (!prefix_matches<F>(q, fk, e.addr, e.len)) continue;
    emit_entry(e);
  }
  c.pos = i;
  c.done = i >= t.slots();
  return added;
}

template <class F>
size_t list_out(const Ctx& m, const FamOut<F>& fo, const ListQuery& q, ListCursor& c, size_t max,
                std::vector<ListedRoute>& out) {
  typename F::Key fk{};
  if (q.match != PrefixMatch::Any) fk = F::from_prefix(q.prefix);
  const auto& t = fo.adj;
  size_t added = 0;
  if (q.match == PrefixMatch::Exact) {
    uint32_t i = t.find(fk.addr, fk.len);
    if (i != t.npos) {
      const auto& e = t.at(i);
      out.push_back(ListedRoute{F::to_prefix(e.addr, e.len), *q.peer, m.store.ptr(e.attr), true, true, false});
      ++added;
    }
    c.done = true;
    return added;
  }
  uint32_t i = static_cast<uint32_t>(std::min<uint64_t>(c.pos, t.slots()));
  uint32_t scanned = 0;
  for (; i < t.slots() && added < max && scanned < kMaxScanPerCall; ++i, ++scanned) {
    if (!t.live(i)) continue;
    const auto& e = t.at(i);
    if (!prefix_matches<F>(q, fk, e.addr, e.len)) continue;
    out.push_back(ListedRoute{F::to_prefix(e.addr, e.len), *q.peer, m.store.ptr(e.attr), true, true, false});
    ++added;
  }
  c.pos = i;
  c.done = i >= t.slots();
  return added;
}

}  // namespace

size_t Rib::list_routes(const ListQuery& q, ListCursor& cursor, size_t max_routes,
                        std::vector<ListedRoute>& out) const {
  const Impl& im = *impl_;
  if (cursor.done) return 0;
  uint16_t want_slot = 0;
  if (q.peer && im.find_slot(*q.peer, &want_slot) == nullptr) {
    cursor.done = true;  // unknown peer: nothing to list
    return 0;
  }
  const Ctx m{im.slots, im.store, q.peer.has_value(), want_slot};
  if (max_routes == 0) max_routes = 1;
  const bool v4 = q.family == wire::kIpv4Unicast;
  if (!v4 && q.family != wire::kIpv6Unicast) {
    cursor.done = true;
    return 0;
  }
  if (q.match != PrefixMatch::Any && q.prefix.afi() != q.family.afi) {
    cursor.done = true;
    return 0;
  }
  switch (q.table) {
    case ListTable::LocRib:
      return v4 ? list_loc<V4>(m, im.v4, q, cursor, max_routes, out)
                : list_loc<V6>(m, im.v6, q, cursor, max_routes, out);
    case ListTable::AdjRibIn:
      if (!q.peer) {
        cursor.done = true;
        return 0;
      }
      return v4 ? list_loc<V4>(m, im.v4, q, cursor, max_routes, out)
                : list_loc<V6>(m, im.v6, q, cursor, max_routes, out);
    case ListTable::AdjRibOut: {
      const PeerSlot* ps = q.peer ? &im.slots[want_slot] : nullptr;
      if (ps == nullptr || !ps->out) {
        cursor.done = true;
        return 0;
      }
      return v4 ? list_out<V4>(m, ps->out->v4, q, cursor, max_routes, out)
                : list_out<V6>(m, ps->out->v6, q, cursor, max_routes, out);
    }
  }
  cursor.done = true;
  return 0;
}

size_t Rib::adj_in_count(PeerId peer, wire::Family family, bool eligible_only) const {
  const PeerSlot* ps = impl_->find_slot(peer);
  if (ps == nullptr) return 0;
  size_t v6 = eligible_only ? ps->accepted_v6 : ps->received_v6;
  size_t all = eligible_only ? ps->accepted : ps->received;
  if (family == wire::kIpv4Unicast) return all - v6;
  if (family == wire::kIpv6Unicast) return v6;
  return 0;
}

size_t Rib::path_count(wire::Family family) const {
  size_t n = 0;
  for (const PeerSlot& ps : impl_->slots) {
    if (!ps.in_use) continue;
    if (family == wire::kIpv4Unicast) n += ps.received - ps.received_v6;
    if (family == wire::kIpv6Unicast) n += ps.received_v6;
  }
  return n;
}

size_t Rib::adj_out_count(PeerId peer, wire::Family family) const {
  const PeerSlot* ps = impl_->find_slot(peer);
  if (ps == nullptr || !ps->out) return 0;
  if (family == wire::kIpv4Unicast) return ps->out->v4.adj.size();
  if (family == wire::kIpv6Unicast) return ps->out->v6.adj.size();
  return 0;
}

}  // namespace tandem::rib
