#include "api/event_hub.hpp"

#include <algorithm>

#include "api/convert.hpp"

namespace tandem::api {
namespace {

int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool EventSubscription::next(v1::Event& out, std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, wait, [&] { return !queue_.empty() || closed_; })) return false;
  if (queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool EventSubscription::closed() const {
  std::lock_guard lk(mu_);
  return closed_ && queue_.empty();
}

uint64_t EventSubscription::dropped_total() const {
  std::lock_guard lk(mu_);
  return dropped_total_;
}

void EventSubscription::push(const v1::Event& e) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    if (queue_.size() >= capacity_) {
      ++dropped_pending_;
      ++dropped_total_;
      return;
    }
    queue_.push_back(e);
    queue_.back().set_dropped_before(dropped_pending_);
    dropped_pending_ = 0;
  }
  cv_.notify_one();
}

void EventSubscription::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::shared_ptr<EventSubscription> EventHub::subscribe(EventFilter filter, size_t capacity) {
  auto s = std::make_shared<EventSubscription>(std::move(filter), std::max<size_t>(capacity, 1));
  std::lock_guard lk(mu_);
  if (s->filter().best_path) ++best_path_subs_;
  subs_.push_back(s);
  return s;
}

void EventHub::unsubscribe(const std::shared_ptr<EventSubscription>& s) {
  std::lock_guard lk(mu_);
  auto it = std::find(subs_.begin(), subs_.end(), s);
  if (it == subs_.end()) return;
  if (s->filter().best_path) --best_path_subs_;
  subs_.erase(it);
  s->close();
}

void EventHub::close_all() {
  std::lock_guard lk(mu_);
  for (auto& s : subs_) s->close();
  subs_.clear();
  best_path_subs_ = 0;
}

size_t EventHub::subscribers() const {
  std::lock_guard lk(mu_);
  return subs_.size();
}

void EventHub::publish(const v1::Event& e, bool best_path, const std::optional<wire::IpAddr>& about) {
  std::lock_guard lk(mu_);
  for (auto& s : subs_) {
    const auto& f = s->filter();
    if (best_path ? !f.best_path : !f.peer_state) continue;
    if (f.peer && (!about || *about != *f.peer)) continue;
    s->push(e);
  }
}

void EventHub::on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) {
  {
    std::lock_guard lk(mu_);
    if (subs_.empty()) return;
  }
  v1::Event e;
  e.set_time_unix_nanos(now_unix_nanos());
  auto* p = e.mutable_peer_state();
  p->set_address(peer.to_string());
  p->set_from(to_proto(from));
  p->set_to(to_proto(to));
  p->set_reason(reason);
  publish(e, false, peer);
}

void EventHub::on_best_change(const rib::BestChange& c) {
  if (best_path_subs_.load(std::memory_order_relaxed) == 0) return;
  wire::Family family = c.prefix.afi() == wire::Afi::Ipv6 ? wire::kIpv6Unicast : wire::kIpv4Unicast;
  std::optional<wire::IpAddr> about;
  std::string peer_text;
  if (c.new_best && c.new_peer != rib::kLocalPeer) {
    if (const auto* p = speaker_.peer_by_id(c.new_peer)) {
      about = p->config().address;
      peer_text = about->to_string();
    }
  }
  v1::Event e;
  e.set_time_unix_nanos(now_unix_nanos());
  auto* b = e.mutable_best_path();
  b->set_family(to_proto(family));
  b->set_prefix(c.prefix.to_string());
  b->set_withdrawn(c.new_best == nullptr);
  if (c.new_best) {
    auto* r = b->mutable_best();
    r->set_prefix(c.prefix.to_string());
    r->set_family(to_proto(family));
    r->set_peer(peer_text);
    r->set_best(true);
    r->set_eligible(true);
    to_proto(*c.new_best, *r->mutable_attributes());
  }
  publish(e, true, about);
}

}  // namespace tandem::api
