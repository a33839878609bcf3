#include "bgpd/rib/decision.hpp"

namespace tandem::rib {

namespace {

// Keep only the candidates with the minimal key.
template <class KeyFn>
void keep_min(std::vector<uint32_t>& c, KeyFn key) {
  if (c.size() <= 1) return;
  auto best = key(c[0]);
  for (size_t i = 1; i < c.size(); ++i) {
    auto k = key(c[i]);
    if (k < best) best = k;
  }
  size_t w = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (!(best < key(c[i]))) c[w++] = c[i];
  }
  c.resize(w);
}

}  // namespace

int select_best(const PathRec* paths, uint32_t n, const AttrStore& store,
                const DecisionPeer* peers, std::vector<uint32_t>& c) {
  c.clear();
  for (uint32_t i = 0; i < n; ++i) {
    if (paths[i].flags & kPathEligible) c.push_back(i);
  }
  if (c.empty()) return -1;
  if (c.size() == 1) return static_cast<int>(c[0]);

  // Decision keys of every path, computed once.
  thread_local std::vector<AttrInfo> infos;
  infos.resize(n);
  for (uint32_t i : c) infos[i] = store.info(paths[i].attr);
  auto info = [&](uint32_t i) -> const AttrInfo& { return infos[i]; };
  auto peer = [&](uint32_t i) -> const DecisionPeer& { return peers[paths[i].peer]; };

  // 0. LLGR_STALE loses.
  keep_min(c, [&](uint32_t i) { return info(i).llgr_stale ? 1 : 0; });
  // 1. highest LOCAL_PREF.
  keep_min(c, [&](uint32_t i) { return ~info(i).local_pref; });
  // 2. locally originated first.
  keep_min(c, [&](uint32_t i) { return peer(i).local ? 0 : 1; });
  // 3. shortest AS_PATH.
  keep_min(c, [&](uint32_t i) { return info(i).as_path_len; });
  // 4. lowest ORIGIN.
  keep_min(c, [&](uint32_t i) { return info(i).origin; });
  // 5. MED, only between routes from the same neighbour AS.
  if (c.size() > 1) {
    size_t w = 0;
    for (size_t a = 0; a < c.size(); ++a) {
      const AttrInfo& ia = info(c[a]);
      bool beaten = false;
      for (size_t b = 0; b < c.size() && !beaten; ++b) {
        const AttrInfo& ib = info(c[b]);
        beaten = ib.neighbor_as == ia.neighbor_as && ib.med < ia.med;
      }
      if (!beaten) c[w++] = c[a];
    }
    c.resize(w);
  }
  // 6. eBGP over iBGP.
  keep_min(c, [&](uint32_t i) { return peer(i).ebgp ? 0 : 1; });
  // 7. GR-stale loses ties.
  keep_min(c, [&](uint32_t i) { return (paths[i].flags & kPathStale) ? 1 : 0; });
  // 8. lowest ORIGINATOR_ID / router id.
  keep_min(c, [&](uint32_t i) {
    const AttrInfo& ai = info(i);
    return ai.has_originator_id ? ai.originator_id : peer(i).router_id;
  });
  // 9. shortest CLUSTER_LIST.
  keep_min(c, [&](uint32_t i) { return info(i).cluster_len; });
  // 10. lowest peer address.
  keep_min(c, [&](uint32_t i) { return peer(i).address; });
  // 11. lowest peer id.
  keep_min(c, [&](uint32_t i) { return peer(i).id; });
  return static_cast<int>(c[0]);
}

}  // namespace tandem::rib
