// Restarting-speaker role (RFC 4724 §4.1): after tandemd itself restarted, route
// selection results are not advertised (no UPDATE, no End-of-RIB) and not written to the
// kernel until, per address family, End-of-RIB has arrived from every peer we wait for,
// or the selection deferral timer fires. Otherwise a restarting speaker would send its
// helpers a partial table followed by End-of-RIB, and they would flush what is missing.
//
// Whom we wait for, per family: every enabled peer with graceful restart enabled and the
// family configured. A peer stops being waited for when it sends End-of-RIB for the
// family, when its session comes up without the family or without the GR capability,
// or when it is removed or disabled. Peers with their own Restart State bit set are
// still waited for (see gr_on_established for why this departs from RFC 4724 §4.1).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::session {

class SelectionDeferral {
 public:
  // Called once per family when its deferral ends; `why` is for the log.
  using ReleaseFn = std::function<void(wire::Family, const std::string& why)>;
  using NameFn = std::function<std::string(rib::PeerId)>;

  SelectionDeferral(boost::asio::io_context& io, ReleaseFn release, NameFn name);
  ~SelectionDeferral();

  // Start deferring `families` for at most `seconds`. Call once, before any session.
  void begin(const std::vector<wire::Family>& families, uint32_t seconds);
  // Wait for End-of-RIB of `families` (those deferred) from the peer.
  void expect(rib::PeerId peer, const std::vector<wire::Family>& families);
  // The peer's session came up with `negotiated` families; `excluded` when it is not
  // waited for at all (no GR capability).
  void peer_established(rib::PeerId peer, const std::vector<wire::Family>& negotiated, bool excluded,
                        const std::string& why_excluded);
  void end_of_rib(rib::PeerId peer, wire::Family family);
  void peer_gone(rib::PeerId peer, const std::string& why);

  bool active() const { return !pending_.empty(); }  // some family still deferred
  bool deferred(wire::Family f) const { return pending_.count(f) > 0; }

  struct FamilyStatus {
    wire::Family family;
    std::vector<rib::PeerId> waiting_for;
  };
  std::vector<FamilyStatus> status() const;
  uint32_t seconds_left() const;  // 0 when no family is deferred

 private:
  void stop_waiting(rib::PeerId peer, wire::Family f, const std::string& why);
  void release(wire::Family f, const std::string& why);

  boost::asio::io_context& io_;
  ReleaseFn release_fn_;
  NameFn name_;
  std::map<wire::Family, std::set<rib::PeerId>> pending_;  // deferred family -> peers waited for
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace tandem::session
