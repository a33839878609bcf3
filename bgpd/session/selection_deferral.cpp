#include "bgpd/session/selection_deferral.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace tandem::session {

SelectionDeferral::SelectionDeferral(boost::asio::io_context& io, ReleaseFn release, NameFn name)
    : io_(io), release_fn_(std::move(release)), name_(std::move(name)), timer_(io) {}

SelectionDeferral::~SelectionDeferral() { timer_.cancel(); }

void SelectionDeferral::begin(const std::vector<wire::Family>& families, uint32_t seconds) {
  for (auto f : families) pending_[f];
  deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  timer_.expires_at(deadline_);
  timer_.async_wait([this, seconds](const boost::system::error_code& e) {
    if (e) return;
    while (!pending_.empty()) {
      auto f = pending_.begin()->first;
      std::string who;
      for (auto p : pending_.begin()->second) who += (who.empty() ? "" : ", ") + name_(p);
      release(f, fmt::format("selection deferral timer ({} s) expired; no End-of-RIB from {}", seconds, who));
    }
  });
  // A family nobody is waited for (no GR peer has it) is released once the peers have
  // been registered: posted, so that expect() calls made right after begin() count.
  boost::asio::post(io_, [this] {
    std::vector<wire::Family> empty;
    for (auto& [f, peers] : pending_)
      if (peers.empty()) empty.push_back(f);
    for (auto f : empty) release(f, "no graceful-restart peer to wait for");
  });
}

void SelectionDeferral::expect(rib::PeerId peer, const std::vector<wire::Family>& families) {
  for (auto f : families) {
    auto it = pending_.find(f);
    if (it != pending_.end()) it->second.insert(peer);
  }
}

void SelectionDeferral::peer_established(rib::PeerId peer, const std::vector<wire::Family>& negotiated,
                                         bool excluded, const std::string& why_excluded) {
  std::vector<wire::Family> fs;
  for (auto& [f, peers] : pending_)
    if (peers.count(peer)) fs.push_back(f);
  for (auto f : fs) {
    if (excluded) stop_waiting(peer, f, why_excluded);
    else if (std::find(negotiated.begin(), negotiated.end(), f) == negotiated.end())
      stop_waiting(peer, f, "the family was not negotiated on its session");
  }
}

void SelectionDeferral::end_of_rib(rib::PeerId peer, wire::Family family) {
  auto it = pending_.find(family);
  if (it != pending_.end() && it->second.count(peer)) stop_waiting(peer, family, "End-of-RIB received");
}

void SelectionDeferral::peer_gone(rib::PeerId peer, const std::string& why) {
  std::vector<wire::Family> fs;
  for (auto& [f, peers] : pending_)
    if (peers.count(peer)) fs.push_back(f);
  for (auto f : fs) stop_waiting(peer, f, why);
}

void SelectionDeferral::stop_waiting(rib::PeerId peer, wire::Family f, const std::string& why) {
  auto it = pending_.find(f);
  if (it == pending_.end()) return;
  it->second.erase(peer);
  spdlog::info("graceful restart: selection deferral for {}: no longer waiting for peer {} ({}); {} peer(s) left",
               f.to_string(), name_(peer), why, it->second.size());
  if (it->second.empty()) release(f, "End-of-RIB from every graceful-restart peer");
}

void SelectionDeferral::release(wire::Family f, const std::string& why) {
  if (pending_.erase(f) == 0) return;
  if (pending_.empty()) timer_.cancel();
  spdlog::info("graceful restart: selection deferral over for {} ({}): advertising routes and End-of-RIB, "
               "syncing the kernel FIB", f.to_string(), why);
  release_fn_(f, why);
}

std::vector<SelectionDeferral::FamilyStatus> SelectionDeferral::status() const {
  std::vector<FamilyStatus> out;
  for (auto& [f, peers] : pending_) out.push_back({f, std::vector<rib::PeerId>(peers.begin(), peers.end())});
  return out;
}

uint32_t SelectionDeferral::seconds_left() const {
  if (pending_.empty()) return 0;
  auto left = std::chrono::ceil<std::chrono::seconds>(deadline_ - std::chrono::steady_clock::now()).count();
  return left > 0 ? static_cast<uint32_t>(left) : 0;
}

}  // namespace tandem::session
