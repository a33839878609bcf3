// Internal state of the Rib (shared by rib.cpp, ingest.cpp and adj_rib_out.cpp).
//
// Memory layout (what makes a full table cheap):
//  - one Loc-RIB DenseTable per family; each entry holds the prefix and all its paths
//    (Adj-RIB-In of every peer for that prefix: a path is tagged with its peer slot,
//    the best one is kept first). A path is 8 bytes: attribute id + peer slot + flags.
//  - attributes are interned in one AttrStore (refcounted ids).
//  - per Established peer and family: Adj-RIB-Out (prefix -> export attribute id),
//    a dirty set of prefixes, and cursors over snapshots for the initial dump and for
//    route refresh. Output is produced on demand by take_output().
#pragma once

#include <deque>
#include <type_traits>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bgpd/rib/attr_store.hpp"
#include "bgpd/rib/decision.hpp"
#include "bgpd/rib/export_policy.hpp"
#include "bgpd/rib/prefix_table.hpp"
#include "bgpd/rib/rib.hpp"

namespace tandem::rib {

// Direct-mapped cache (best attribute set, source peer) -> export attribute set, per
// target peer and family. Holds a reference on both sets of each valid line.
struct ExportCache {
  struct Line {
    AttrId src = kNoAttr;  // kNoAttr: empty line
    AttrId exp = kNoAttr;  // kNoAttr: not exportable
    uint32_t epoch = 0;    // source peer slot's epoch
    uint16_t slot = 0;     // source peer slot
  };
  static constexpr size_t kLines = 4096;
  std::vector<Line> lines;  // allocated on first use
};

template <class F>
struct FamOut {
  bool active = false;  // family negotiated with the peer
  DenseTable<F, AdjOutEntry<F>> adj;
  DenseTable<F, KeyEntry<F>> dirty;
  // Prefixes whose state at the peer is unknown (resend_prefixes: a takeover found that
  // the dead primary sent something else). Each is also dirty; processing it sends the
  // current route, or a withdrawal even though the Adj-RIB-Out holds nothing.
  DenseTable<F, KeyEntry<F>> unknown;
  // Dirty keys being worked through (the dirty set is moved here whole, so that
  // draining it costs no per-key index deletion; new changes meanwhile go to `dirty`).
  typename DenseTable<F, KeyEntry<F>>::EntryVector draining;
  size_t drain_pos = 0;
  // Initial dump: Loc-RIB entry indices sorted by best attribute set.
  std::vector<uint32_t> dump;
  size_t dump_pos = 0;
  bool dumping = false;
  bool eor_pending = false;
  // Route refresh: Adj-RIB-Out entry indices sorted by attribute set.
  std::vector<uint32_t> refresh;
  size_t refresh_pos = 0;
  bool refreshing = false;
  bool refresh_enhanced = false;
  bool refresh_started = false;
  ExportCache cache;
};

struct PeerOutput {
  FamOut<V4> v4;
  FamOut<V6> v6;
  std::deque<std::vector<uint8_t>> pending;  // encoded, not yet taken (one batch)
  template <class F>
  FamOut<F>& fam_out() {
    if constexpr (std::is_same_v<F, V4>) return v4;
    else return v6;
  }
  ExportTarget target;
  bool idle = true;  // nothing pending as last reported to the listener
};

struct PeerSlot {
  bool in_use = false;  // allocated: up, or retaining (stale) paths
  bool up = false;
  PeerId id = 0;
  PeerInfo info;
  bool ebgp = false;
  bool fam_v4 = false;  // families negotiated (while up)
  bool fam_v6 = false;
  uint32_t epoch = 0;  // bumped on every peer_up (export caches key on it)
  size_t received = 0;  // paths in Adj-RIB-In
  size_t accepted = 0;  // of which eligible
  size_t received_v6 = 0;  // of `received`, IPv6 unicast paths
  size_t accepted_v6 = 0;  // of `accepted`, IPv6 unicast paths
  size_t stale = 0;        // of `received`, GR-stale paths
  size_t stale_v6 = 0;     // of `stale`, IPv6 unicast paths
  size_t updates_in = 0;
  size_t updates_out = 0;
  std::unique_ptr<PeerOutput> out;  // while up
};

// A batch of export work for one peer and family, encoded into pending messages.
struct ExportBatch {
  std::vector<std::pair<AttrId, wire::Prefix>> ann;  // each holds a reference on the set
  std::vector<wire::Prefix> wd;
  std::vector<wire::Prefix> group;  // scratch
  void clear() {
    ann.clear();
    wd.clear();
  }
};

template <class F>
struct FamilyRib {
  DenseTable<F, LocEntry<F>> loc;
  size_t best_count = 0;
  std::vector<uint16_t> exporters;  // up peer slots with the family negotiated
  bool held = false;  // output held back (selection deferral after our restart)
};

// Outcome of inbound policy for one attribute set from one peer.
struct Verdict {
  bool withdraw = false;  // treat-as-withdraw
  bool eligible = true;   // false: rejected (stored, not eligible)
  const char* reason = nullptr;
};

struct Rib::Impl {
  explicit Impl(RibConfig c);
  ~Impl();

  RibConfig cfg;
  uint32_t cluster_id = 0;
  ExportContext ctx;
  AttrStore store;
  FamilyRib<V4> v4;
  FamilyRib<V6> v6;
  std::vector<PeerSlot> slots;        // slot 0: kLocalPeer
  std::vector<DecisionPeer> dpeers;   // parallel to slots
  std::unordered_map<PeerId, uint16_t> slot_of;
  std::function<void(PeerId)> ready_listener;
  std::function<void(const BestChange&)> best_listener;
  std::vector<PeerId> ready;  // peers that became ready during the current call

  // Scratch buffers (reused, never shrink).
  std::vector<uint32_t> decision_scratch;
  std::vector<uint8_t> key_buf;
  std::vector<V4::Key> v4_wd, v4_nlri;
  std::vector<V6::Key> v6_nlri;
  std::vector<uint32_t> sort_counts;
  ExportBatch batch;

  template <class F>
  FamilyRib<F>& fam() {
    if constexpr (std::is_same_v<F, V4>) {
      return v4;
    } else {
      return v6;
    }
  }
  template <class F>
  static FamOut<F>& fout(PeerOutput& o) {
    if constexpr (std::is_same_v<F, V4>) {
      return o.v4;
    } else {
      return o.v6;
    }
  }

  PeerSlot* find_slot(PeerId id, uint16_t* slot_out = nullptr);
  const PeerSlot* find_slot(PeerId id, uint16_t* slot_out = nullptr) const;
  uint16_t alloc_slot(PeerId id);
  void release_slot_if_unused(uint16_t slot);
  void flush_ready();
  void note_work(uint16_t slot);

  // ---- Loc-RIB (rib.cpp) ----
  template <class F>
  bool announce(const typename F::Addr& addr, uint8_t len, uint16_t slot, AttrId attr,
                uint8_t pflags);
  template <class F>
  bool withdraw(const typename F::Addr& addr, uint8_t len, uint16_t slot);
  template <class F>
  void remove_path_at(uint32_t ei, uint32_t pi);
  template <class F>
  void update_best(uint32_t ei, PathRec old_best, bool had_best);
  static constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
  template <class F>
  void mark_dirty(const typename F::Addr& addr, uint8_t len, uint32_t old_peer,
                  uint32_t new_peer);
  template <class F>
  void drop_peer_paths(uint16_t slot, bool only_stale);
  template <class F>
  void mark_peer_stale(uint16_t slot);
  template <class F>
  bool mark_path_stale(uint32_t entry, uint16_t slot);  // false: the peer has no path there
  template <class F>
  bool mark_prefix_stale(const wire::Prefix& prefix, uint16_t slot);
  template <class F>
  size_t enter_llgr(uint16_t slot, size_t& removed);

  // ---- inbound (ingest.cpp) ----
  IngestResult ingest(PeerId peer, std::span<const uint8_t> body);
  // May move attributes out of `u`.
  void apply(uint16_t slot, wire::Update& u, IngestResult& r,
             std::span<const uint8_t> cache_key);
  template <class F>
  void apply_keys(const std::vector<typename F::Key>& keys, uint16_t slot, AttrId a,
                  const Verdict& v, IngestResult& r);
  Verdict check_inbound(const PeerSlot& ps, AttrId attr, wire::Afi afi) const;
  AttrId intern_for_family(wire::Update& u, wire::Family f, bool ebgp,
                           std::span<const uint8_t> cache_key, bool may_move);

  // ---- outbound (adj_rib_out.cpp) ----
  void start_output(uint16_t slot);
  template <class F>
  void begin_dump(FamOut<F>& fo);
  template <class F>
  void release_family();
  void stop_output(uint16_t slot);
  bool output_pending(const PeerSlot& t) const;
  size_t take_output(PeerId peer, size_t max_bytes, std::vector<uint8_t>& out);
  void request_refresh(PeerId peer, wire::Family family, bool enhanced);
  void resend_prefixes(PeerId peer, std::span<const wire::Prefix> prefixes);
  template <class F>
  void forget_advertised(uint16_t slot, FamOut<F>& fo, const wire::Prefix& prefix);
  bool produce(uint16_t slot);
  template <class F>
  bool produce_family(uint16_t slot, FamOut<F>& fo);
  template <class F>
  AttrId export_attr(uint16_t tslot, FamOut<F>& fo, const LocEntry<F>& e);
  template <class F>
  void process_prefix(uint16_t tslot, FamOut<F>& fo, const typename F::Addr& addr,
                      uint8_t len, uint32_t loc_index);
  template <class F>
  void encode_batch(uint16_t tslot);
  template <class F>
  void release_fam_out(FamOut<F>& fo);
  template <class F>
  void start_family(uint16_t slot, FamOut<F>& fo);
  template <class F>
  void stop_family(uint16_t slot, FamOut<F>& fo);
};

// Path array management for a Loc-RIB entry (capacity bit_ceil(npaths) when > 1).
template <class F>
void entry_add_path(LocEntry<F>& e, PathRec r);
template <class F>
void entry_remove_path(LocEntry<F>& e, uint32_t i);

}  // namespace tandem::rib
