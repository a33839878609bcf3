// Fan-out of management events to WatchEvents subscribers.
//
// Events are produced on the event loop thread (EventHub is a SpeakerObserver) and
// consumed by gRPC threads. Each subscriber has a bounded queue: when it is full the
// event is dropped and counted, and the next event delivered to that subscriber
// carries the count in Event.dropped_before: a slow client never stalls the daemon,
// and never loses events silently.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "bgpd/session/speaker.hpp"
#include "tandem/v1/events.pb.h"

namespace tandem::api {

struct EventFilter {
  bool peer_state = false;
  bool best_path = false;
  std::optional<wire::IpAddr> peer;  // only events about this peer
};

class EventSubscription {
 public:
  EventSubscription(EventFilter filter, size_t capacity) : filter_(std::move(filter)), capacity_(capacity) {}
  // Wait up to `wait` for the next event. False on timeout or once closed and drained.
  bool next(v1::Event& out, std::chrono::milliseconds wait);
  bool closed() const;
  uint64_t dropped_total() const;

  // ---- producer side ----
  const EventFilter& filter() const { return filter_; }
  void push(const v1::Event& e);
  void close();

 private:
  const EventFilter filter_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Event> queue_;
  uint64_t dropped_pending_ = 0;  // dropped since the last queued event
  uint64_t dropped_total_ = 0;
  bool closed_ = false;
};

class EventHub : public session::SpeakerObserver {
 public:
  static constexpr size_t kDefaultQueue = 4096;
  // `speaker` resolves peer ids of best-path changes to addresses (event loop thread).
  explicit EventHub(const session::Speaker& speaker) : speaker_(speaker) {}

  // Any thread.
  std::shared_ptr<EventSubscription> subscribe(EventFilter filter, size_t capacity = kDefaultQueue);
  void unsubscribe(const std::shared_ptr<EventSubscription>& s);
  void close_all();
  size_t subscribers() const;

  // Event loop thread (SpeakerObserver).
  void on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) override;
  void on_best_change(const rib::BestChange& change) override;

 private:
  void publish(const v1::Event& e, bool best_path, const std::optional<wire::IpAddr>& about);

  const session::Speaker& speaker_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<EventSubscription>> subs_;
  std::atomic<int> best_path_subs_{0};  // skip converting best changes nobody wants
};

}  // namespace tandem::api
