// Keeps the kernel FIB in step with the Loc-RIB: best-path changes are queued and
// flushed to netlink in batches a few milliseconds later (a full table arrives as
// hundreds of thousands of changes; one netlink message each, batched).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <memory>

#include "bgpd/fib/fib.hpp"
#include "bgpd/rib/rib.hpp"

namespace tandem::app {

class FibSync {
 public:
  FibSync(boost::asio::io_context& io, std::unique_ptr<fib::Fib> fib);
  void on_best_change(const rib::BestChange& change);

 private:
  void schedule_flush();
  boost::asio::io_context& io_;
  std::unique_ptr<fib::Fib> fib_;
  boost::asio::steady_timer timer_;
  bool scheduled_ = false;
};

}  // namespace tandem::app
