// The RIB: Adj-RIB-In per peer, Loc-RIB (RFC 4271 §9.1 decision process), Adj-RIB-Out
// per peer with packed UPDATE generation. One owner: every call comes from the same
// thread (the daemon's main strand); other parts talk to it through that thread.
//
// Path attributes are interned (hash-consed, immutable, shared) in an AttrStore.
// Output is pulled: when a peer has something to send the output-ready listener is
// called; the session then calls take_output() as its write queue drains, which is
// what gives back-pressure (a slow peer only accumulates dirty prefixes, not bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgpd/rib/attr_store.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::rib {

using PeerId = uint32_t;
inline constexpr PeerId kLocalPeer = 0;  // locally originated routes

struct RibConfig {
  uint32_t local_as = 0;
  uint32_t router_id = 0;   // host order
  uint32_t cluster_id = 0;  // route reflection; 0 = router_id
};

// What the RIB needs to know about an Established peer.
struct PeerInfo {
  PeerId id = 0;
  wire::IpAddr address;      // peer address (last decision tie-breaker)
  uint32_t remote_as = 0;
  uint32_t router_id = 0;    // peer's BGP identifier, host order
  bool rr_client = false;    // iBGP peer we reflect to (RFC 4456)
  bool next_hop_self = false;  // also rewrite next hop towards this iBGP peer
  std::optional<wire::IpAddr> local_v4;  // our address for next-hop-self / eBGP (IPv4)
  std::optional<wire::IpAddr> local_v6;  // our global IPv6 address for IPv6 next hops
  wire::CodecOptions codec;  // negotiated encoding (4-octet AS, ext. message, ebgp)
  std::vector<wire::Family> families;  // negotiated
  bool llgr = false;  // advertised the LLGR capability: may be sent LLGR_STALE routes
  uint32_t max_as_path_length = 0;  // AS numbers; longer paths are rejected (0 = no limit)
  bool ebgp(uint32_t local_as) const { return remote_as != local_as; }
};

// A path in the RIB: who it came from and its interned attributes.
struct PathView {
  PeerId peer = 0;
  const PathAttributes* attrs = nullptr;  // interned; valid while the path exists
  bool best = false;
};

// The result of ingesting one UPDATE body.
struct IngestResult {
  std::optional<wire::WireError> session_error;  // reset the session with this
  bool treat_as_withdraw = false;
  std::string reason;                              // treat-as-withdraw / rejection reason
  std::vector<wire::DiscardedAttribute> discarded;
  size_t announced = 0;  // prefixes accepted into Adj-RIB-In
  size_t withdrawn = 0;
  size_t rejected = 0;   // announced but refused (AS loop, cluster loop, bad next hop, AS_PATH too long)
  size_t ignored = 0;    // NLRI of a family not negotiated with the peer (not applied)
  std::optional<wire::Family> end_of_rib;
};

struct BestChange {
  wire::Prefix prefix;
  const PathAttributes* old_best = nullptr;  // null: newly reachable
  const PathAttributes* new_best = nullptr;  // null: now unreachable
  PeerId new_peer = 0;
};

struct PeerCounters {
  size_t received = 0;    // prefixes in Adj-RIB-In (all families)
  size_t accepted = 0;    // of which eligible for the decision process
  size_t advertised = 0;  // prefixes in Adj-RIB-Out
  size_t updates_in = 0;
  size_t updates_out = 0;
};

// ---- resumable, batch-wise listing (API) ----
// A listing is a sequence of list_routes() calls, each returning at most about
// `max_routes` routes and a cursor to resume from. The RIB may be modified between
// calls: the cursor is a position in the table's dense entry array, whose entries never
// move while they exist (erase leaves a hole, growth of the hash index does not touch
// them). So every route present during the whole listing is listed exactly once;
// routes added or removed meanwhile may or may not be. All paths of one prefix go into
// the same batch. One call also scans at most a bounded number of entries, so a
// filter that matches little never holds the caller for a whole table.
enum class ListTable : uint8_t { LocRib, AdjRibIn, AdjRibOut };
enum class PrefixMatch : uint8_t { Any, Exact, Longer, Shorter };

struct ListQuery {
  ListTable table = ListTable::LocRib;
  wire::Family family = wire::kIpv4Unicast;
  std::optional<PeerId> peer;  // required for the Adj-RIBs; a filter for the Loc-RIB
  PrefixMatch match = PrefixMatch::Any;
  wire::Prefix prefix;         // for match != Any
  bool best_only = false;      // Loc-RIB
};

struct ListCursor {
  uint64_t pos = 0;
  bool done = false;
};

struct ListedRoute {
  wire::Prefix prefix;
  PeerId peer = 0;
  const PathAttributes* attrs = nullptr;  // valid until the next Rib call
  bool best = false;
  bool eligible = true;
  bool stale = false;
};

// Listeners are called from inside Rib calls: they must not call back into the Rib
// (except const queries from the best-change listener); the output-ready listener is
// called at the end of the Rib call that made output pending, and may call take_output.
// PeerId 0 is kLocalPeer and cannot be used for a real peer.
class Rib {
 public:
  explicit Rib(RibConfig config);
  ~Rib();
  Rib(const Rib&) = delete;
  Rib& operator=(const Rib&) = delete;

  // ---- peers ----
  // Session reached Established: the whole Loc-RIB is scheduled for export to it,
  // followed by End-of-RIB per family.
  void peer_up(const PeerInfo& peer);
  // Session left Established: its Adj-RIB-In routes are withdrawn, Adj-RIB-Out dropped.
  void peer_down(PeerId peer);
  // Graceful restart helper (RFC 4724): the session left Established but the peer's
  // routes are kept, marked stale (stale paths lose ties in the decision process).
  // Adj-RIB-Out is dropped. A later peer_up() keeps them; re-announced prefixes are
  // fresh again; sweep_stale() removes what is still stale.
  void peer_down_graceful(PeerId peer);
  // Same, per family: the peer's paths of the families in `keep` are kept and marked
  // stale; its paths of every other family are withdrawn at once.
  void peer_down_graceful(PeerId peer, const std::vector<wire::Family>& keep);
  // Mark all of a peer's paths stale (e.g. on a restart notification).
  void mark_stale(PeerId peer);
  // Mark the peer's paths for these prefixes stale (a standby taking over a primary's
  // graceful-restart state from a bulk sync); returns how many the peer had.
  size_t mark_stale(PeerId peer, std::span<const wire::Prefix> prefixes);
  // Withdraw the peer's paths that are still stale; returns how many.
  size_t sweep_stale(PeerId peer);
  // Same for one family only (End-of-RIB for that family, or its GR period is over).
  size_t sweep_stale(PeerId peer, wire::Family family);
  // The peer's paths of `family` that are still marked stale.
  size_t stale_count(PeerId peer, wire::Family family) const;
  // Long-lived graceful restart (RFC 9494 §4.3): the peer's stale paths of `family` that
  // carry NO_LLGR are withdrawn, the others get the LLGR_STALE community (least
  // preferred, only advertised to LLGR peers). Returns how many were kept; `removed`
  // how many were withdrawn.
  size_t enter_llgr(PeerId peer, wire::Family family, size_t& removed);

  // ---- selection deferral (RFC 4724 §4.1, after our own restart) ----
  // While a family's output is held nothing of it (no UPDATE, no End-of-RIB) is produced
  // for any peer; hold before any peer comes up. Release takes each up peer's initial
  // dump from the Loc-RIB as it is then, followed by End-of-RIB.
  void hold_output(wire::Family family);
  void release_output(wire::Family family);
  bool output_held(wire::Family family) const;

  // ---- inbound ----
  // Decode (with an attribute cache keyed by the raw bytes) and apply one UPDATE body.
  IngestResult ingest_update(PeerId peer, std::span<const uint8_t> body);
  // Apply an already decoded UPDATE (used by tests and locally injected routes).
  IngestResult apply_update(PeerId peer, const wire::Update& update);

  // Change the local AS / router id. Only while no peer is up (the speaker resets every
  // session first): export rules and tie-breakers depend on them.
  void set_identity(uint32_t local_as, uint32_t router_id);

  // ---- local origination ----
  void originate(const wire::Prefix& prefix, wire::PathAttributes attrs);
  bool withdraw_local(const wire::Prefix& prefix);

  // ---- outbound ----
  // Re-advertise the whole Adj-RIB-Out of a family (ROUTE-REFRESH). With enhanced
  // route refresh, wraps it in BoRR/EoRR.
  void request_refresh(PeerId peer, wire::Family family, bool enhanced);
  // The peer's view of these prefixes may differ from the Adj-RIB-Out (after an
  // unplanned takeover: the dead primary had sent something else). Forget what the
  // Adj-RIB-Out says of each and send it again: the current route, or a withdrawal.
  void resend_prefixes(PeerId peer, std::span<const wire::Prefix> prefixes);
  bool has_output(PeerId peer) const;
  // Append whole UPDATE messages for the peer to `out` until about `max_bytes` were
  // added or nothing is pending; returns the number of bytes appended.
  size_t take_output(PeerId peer, size_t max_bytes, std::vector<uint8_t>& out);
  void set_output_ready_listener(std::function<void(PeerId)> fn);
  void set_best_change_listener(std::function<void(const BestChange&)> fn);

  // ---- queries (API, tests, dumps) ----
  void for_each_best(wire::Family family,
                     const std::function<void(const wire::Prefix&, const PathView&)>& fn) const;
  void for_each_path(wire::Family family,
                     const std::function<void(const wire::Prefix&, const PathView&)>& fn) const;
  void for_each_adj_in(PeerId peer, wire::Family family,
                       const std::function<void(const wire::Prefix&, const PathView&)>& fn) const;
  void for_each_adj_out(PeerId peer, wire::Family family,
                        const std::function<void(const wire::Prefix&, const PathAttributes&)>& fn) const;
  // Append the next batch of `q` after `cursor` to `out` and advance the cursor
  // (cursor.done once the table is exhausted). Returns the number of routes appended.
  size_t list_routes(const ListQuery& q, ListCursor& cursor, size_t max_routes,
                     std::vector<ListedRoute>& out) const;
  // Prefixes per family in a peer's Adj-RIB-In (all / eligible) and Adj-RIB-Out.
  size_t adj_in_count(PeerId peer, wire::Family family, bool eligible_only) const;
  size_t adj_out_count(PeerId peer, wire::Family family) const;
  // Paths of a family in the RIB (every peer's Adj-RIB-In plus local routes); O(peers).
  size_t path_count(wire::Family family) const;
  PeerCounters counters(PeerId peer) const;
  size_t loc_rib_size(wire::Family family) const;  // prefixes with a best path
  size_t prefix_count(wire::Family family) const;  // prefixes with any path
  size_t attribute_sets() const;
  const AttrStore& attr_store() const;  // for tests and diagnostics

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::rib
