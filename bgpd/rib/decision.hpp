// The RFC 4271 §9.1.2 decision process (with RFC 4456 and RFC 9494 additions), as an
// elimination over the candidate set: each step keeps only the candidates that are
// best on that criterion. That makes the MED step (only between routes from the same
// neighbour AS) order-independent, so the result is deterministic whatever the order
// in which paths arrived.
//
// Steps, in order:
//   0. routes without the LLGR_STALE community over routes with it
//   1. highest LOCAL_PREF (absent = 100; eBGP-learned routes carry none)
//   2. locally originated over learned
//   3. shortest AS_PATH (AsPath::selection_length)
//   4. lowest ORIGIN
//   5. lowest MED among routes from the same neighbour AS (absent = 0)
//   6. eBGP-learned over iBGP-learned
//      (IGP cost to the next hop: not used)
//   7. not graceful-restart stale over stale
//   8. lowest ORIGINATOR_ID, or the peer's BGP identifier when absent (RFC 4456)
//   9. shortest CLUSTER_LIST
//  10. lowest peer address
//  11. lowest peer id (only to stay total)
#pragma once

#include <cstdint>
#include <vector>

#include "bgpd/rib/attr_store.hpp"
#include "bgpd/rib/prefix_table.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::rib {

// What the decision process needs to know about the peer a path came from.
struct DecisionPeer {
  bool local = false;  // kLocalPeer (locally originated)
  bool ebgp = false;
  uint32_t router_id = 0;
  wire::IpAddr address;
  uint32_t id = 0;  // PeerId
};

// Index (into paths) of the best eligible path, or -1 if none is eligible.
// `peers` is indexed by PathRec::peer. `scratch` is reused to avoid allocations.
int select_best(const PathRec* paths, uint32_t n, const AttrStore& store,
                const DecisionPeer* peers, std::vector<uint32_t>& scratch);

}  // namespace tandem::rib
