#include "apps/tandemd/fib_sync.hpp"

#include <spdlog/spdlog.h>

namespace tandem::app {

FibSync::FibSync(boost::asio::io_context& io, std::unique_ptr<fib::Fib> fib)
    : io_(io), fib_(std::move(fib)), timer_(io) {}

void FibSync::on_best_change(const rib::BestChange& c) {
  // Locally originated routes and routes without a usable next hop are not forwarded
  // by us; a path that loses its next hop is removed.
  const auto* nb = c.new_best;
  bool installable = nb && c.new_peer != rib::kLocalPeer && nb->next_hop && !nb->next_hop->is_unspecified() &&
                     nb->next_hop->afi == c.prefix.afi();
  if (installable) fib_->replace(c.prefix, *nb->next_hop);
  else if (c.old_best) fib_->remove(c.prefix);
  else return;
  schedule_flush();
}

void FibSync::schedule_flush() {
  if (scheduled_) return;
  scheduled_ = true;
  timer_.expires_after(std::chrono::milliseconds(5));
  timer_.async_wait([this](const boost::system::error_code& e) {
    scheduled_ = false;
    if (e) return;
    auto errors = fib_->flush();
    // One line per rejected route would flood the log on a bad next hop: summarise.
    for (size_t i = 0; i < errors.size() && i < 5; ++i)
      spdlog::warn("fib: kernel refused {}: {}", errors[i].prefix.to_string(), errors[i].message);
    if (errors.size() > 5) spdlog::warn("fib: kernel refused {} more routes", errors.size() - 5);
  });
}

}  // namespace tandem::app
