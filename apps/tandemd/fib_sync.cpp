#include "apps/tandemd/fib_sync.hpp"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

namespace tandem::app {

namespace {
wire::Family family_of(const wire::Prefix& p) { return p.addr.is_v4() ? wire::kIpv4Unicast : wire::kIpv6Unicast; }
}  // namespace

FibSync::FibSync(boost::asio::io_context& io, std::unique_ptr<fib::Fib> fib, std::vector<fib::Fib::Route> kept,
                 const std::vector<wire::Family>& held)
    : io_(io), fib_(std::move(fib)), held_(held), timer_(io) {
  for (auto& r : kept) kept_[family_of(r.prefix)].push_back(r);
  // Kept routes of a family that is not held (not deferred) are swept right away: the
  // routes learned from now on are installed as they come.
  for (auto& [f, routes] : kept_) {
    if (std::find(held_.begin(), held_.end(), f) != held_.end()) continue;
    for (auto& r : routes) fib_->remove(r.prefix);
    spdlog::info("fib: removing {} {} routes left by a previous run (the family is not deferred)", routes.size(),
                 f.to_string());
    routes.clear();
  }
  if (fib_->pending()) schedule_flush();
}

bool FibSync::installable(const wire::Prefix& prefix, const rib::PathAttributes* nb, rib::PeerId peer) const {
  // Locally originated routes and routes without a usable next hop are not forwarded
  // by us.
  return nb && peer != rib::kLocalPeer && nb->next_hop && !nb->next_hop->is_unspecified() &&
         nb->next_hop->afi == prefix.afi();
}

void FibSync::on_best_change(const rib::BestChange& c) {
  if (std::find(held_.begin(), held_.end(), family_of(c.prefix)) != held_.end()) return;  // written at release
  if (installable(c.prefix, c.new_best, c.new_peer)) fib_->replace(c.prefix, *c.new_best->next_hop);
  else if (c.old_best) fib_->remove(c.prefix);  // a path that loses its next hop is removed
  else return;
  schedule_flush();
}

void FibSync::release(wire::Family family, const rib::Rib& rib) {
  auto it = std::find(held_.begin(), held_.end(), family);
  if (it == held_.end()) return;
  held_.erase(it);
  std::set<wire::Prefix> installed;
  rib.for_each_best(family, [&](const wire::Prefix& p, const rib::PathView& v) {
    if (!installable(p, v.attrs, v.peer)) return;
    fib_->replace(p, *v.attrs->next_hop);
    installed.insert(p);
  });
  size_t swept = 0;
  for (auto& r : kept_[family]) {
    if (installed.count(r.prefix)) continue;
    fib_->remove(r.prefix);
    ++swept;
  }
  spdlog::info("fib: {} after the selection deferral: {} best paths installed, {} of the {} routes kept from "
               "before the restart removed (not relearned)", family.to_string(), installed.size(), swept,
               kept_[family].size());
  kept_.erase(family);
  schedule_flush();
}

size_t FibSync::kept_routes() const {
  size_t n = 0;
  for (auto& [f, routes] : kept_) n += routes.size();
  return n;
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
