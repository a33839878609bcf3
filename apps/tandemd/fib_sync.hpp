// Keeps the kernel FIB in step with the Loc-RIB: best-path changes are queued and
// flushed to netlink in batches a few milliseconds later (a full table arrives as
// hundreds of thousands of changes; one netlink message each, batched).
//
// After a restart (graceful restart, restarting speaker) the routes tandem installed
// before are still in the kernel and keep forwarding: while a family is held (selection
// deferral) nothing of it is written; at release every best path is installed and the
// kept routes that are no longer best paths are removed (the FIB sweep).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <vector>

#include "bgpd/fib/fib.hpp"
#include "bgpd/rib/rib.hpp"

namespace tandem::app {

class FibSync {
 public:
  // `kept`: our routes found in the kernel at start-up; `held`: families not written
  // until release() (empty when not restarting).
  FibSync(boost::asio::io_context& io, std::unique_ptr<fib::Fib> fib, std::vector<fib::Fib::Route> kept,
          const std::vector<wire::Family>& held);
  void on_best_change(const rib::BestChange& change);
  // Install the family's best paths and remove its kept routes that are not among them.
  void release(wire::Family family, const rib::Rib& rib);
  size_t kept_routes() const;  // kept routes not yet swept or refreshed

 private:
  bool installable(const wire::Prefix& prefix, const rib::PathAttributes* best, rib::PeerId peer) const;
  void schedule_flush();
  boost::asio::io_context& io_;
  std::unique_ptr<fib::Fib> fib_;
  std::map<wire::Family, std::vector<fib::Fib::Route>> kept_;  // by family, until released
  std::vector<wire::Family> held_;
  boost::asio::steady_timer timer_;
  bool scheduled_ = false;
};

}  // namespace tandem::app
