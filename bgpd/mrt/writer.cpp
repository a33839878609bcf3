#include "bgpd/mrt/writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace tandem::mrt {

std::string expand_pattern(const std::string& pattern, Clock::time_point t, bool utc) {
  const std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  if (utc) {
    gmtime_r(&tt, &tm);
  } else {
    localtime_r(&tt, &tm);
  }
  std::string out(pattern.size() + 256, '\0');
  const size_t n = std::strftime(out.data(), out.size(), pattern.c_str(), &tm);
  out.resize(n);
  return out;
}

Writer::Writer(WriterOptions opts) : opts_(std::move(opts)) {}

Writer::~Writer() { close(); }

void Writer::start() {
  std::lock_guard lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

bool Writer::submit(std::vector<uint8_t> record, Clock::time_point when) {
  {
    std::lock_guard lk(mu_);
    if (!stopping_ && queue_.size() < opts_.queue_max_records &&
        queue_bytes_ + record.size() <= opts_.queue_max_bytes) {
      queue_bytes_ += record.size();
      queue_.push_back(Item{std::move(record), when});
      if (queue_.size() == 1) wake_.notify_one();
      return true;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Writer::flush() {
  std::unique_lock lk(mu_);
  if (!running_) return;
  const uint64_t want = ++flush_requests_;
  wake_.notify_one();
  drained_.wait(lk, [&] { return flushes_done_ >= want || !running_; });
}

void Writer::close() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  // Records queued without a thread (never started) are lost: count them.
  std::lock_guard lk(mu_);
  dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
  queue_.clear();
  queue_bytes_ = 0;
}

Clock::time_point Writer::period_start(Clock::time_point t) const {
  if (opts_.rotate_interval.count() <= 0) return Clock::time_point{};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  const auto iv = opts_.rotate_interval.count();
  const auto start = secs >= 0 ? secs - secs % iv : secs - (iv + secs % iv) % iv;
  return Clock::time_point{std::chrono::seconds{start}};
}

void Writer::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    // Wake at least once a second to close a file whose period has ended even when no
    // record comes (so rotated files are complete and compressed streams finished).
    wake_.wait_for(lk, std::chrono::seconds(1), [&] {
      return stopping_ || !queue_.empty() || flush_requests_ > flushes_done_;
    });
    while (!queue_.empty()) {
      Item item = std::move(queue_.front());
      queue_.pop_front();
      queue_bytes_ -= item.bytes.size();
      lk.unlock();
      write_item(item);
      lk.lock();
    }
    lk.unlock();
    if (sink_ && opts_.rotate_interval.count() > 0) {
      const auto current = period_start(now());
      if (current > sink_period_) {
        close_file(true);
        period_floor_ = current;
      }
    }
    log_drops(false);
    lk.lock();
    // Only with an empty queue: everything submitted before the request is written.
    if (flush_requests_ > flushes_done_ && queue_.empty()) {
      const uint64_t request = flush_requests_;
      lk.unlock();
      if (sink_ && !sink_->flush()) note_error(sink_->error());
      lk.lock();
      flushes_done_ = request;
      drained_.notify_all();
    }
    if (stopping_ && queue_.empty()) break;
  }
  lk.unlock();
  close_file(false);
  log_drops(true);
  lk.lock();
  flushes_done_ = flush_requests_;
  running_ = false;
  drained_.notify_all();
}

void Writer::write_item(const Item& item) {
  // Never back to a finished period: a late record (e.g. a table dump stamped with its
  // start time) goes to the current period's file instead of reopening an old one.
  const auto period = std::max(period_start(item.when), period_floor_);
  if (sink_ && period > sink_period_) close_file(true);
  if (!sink_) {
    // After a failed open, retry at most once a second (not once per record).
    const auto t = now();
    if (open_failed_ && t - last_open_failure_ < std::chrono::seconds(1)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const auto name_time = opts_.rotate_interval.count() > 0 ? period : item.when;
    const std::string path = expand_pattern(opts_.path_pattern, name_time, opts_.utc);
    std::string err;
    sink_ = path.empty() ? nullptr : open_sink(path, opts_.compression, err);
    if (!sink_) {
      open_failed_ = true;
      last_open_failure_ = t;
      note_error(path.empty() ? "empty file name from pattern '" + opts_.path_pattern + "'" : err);
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    open_failed_ = false;
    sink_period_ = period;
    period_floor_ = period;
    opened_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lk(mu_);
      current_path_ = path;
    }
    spdlog::info("{}: writing {}", opts_.name, path);
  }
  if (!sink_->write(item.bytes)) {
    note_error(sink_->error());
    dropped_.fetch_add(1, std::memory_order_relaxed);
    // A failed stream cannot be trusted: close it and reopen (append) next time.
    close_file(false);
    return;
  }
  written_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(item.bytes.size(), std::memory_order_relaxed);
}

void Writer::close_file(bool rotated) {
  if (!sink_) return;
  if (!sink_->close()) note_error(sink_->error());
  sink_.reset();
  if (rotated) rotated_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  current_path_.clear();
}

void Writer::note_error(const std::string& what) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: {}", opts_.name, what);
  std::lock_guard lk(mu_);
  last_error_ = what;
}

void Writer::log_drops(bool final) {
  const uint64_t d = dropped_.load(std::memory_order_relaxed);
  if (d == drops_logged_) return;
  const auto t = std::chrono::steady_clock::now();
  if (drops_logged_ != 0 && t - last_drop_log_ < std::chrono::seconds(10) && !final) return;
  spdlog::warn("{}: {} records dropped ({} in total): queue full or write failed", opts_.name,
               d - drops_logged_, d);
  drops_logged_ = d;
  last_drop_log_ = t;
}

WriterStats Writer::stats() const {
  WriterStats s;
  s.records_written = written_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_.load(std::memory_order_relaxed);
  s.records_dropped = dropped_.load(std::memory_order_relaxed);
  s.files_opened = opened_.load(std::memory_order_relaxed);
  s.files_rotated = rotated_.load(std::memory_order_relaxed);
  s.write_errors = errors_.load(std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  s.queue_records = queue_.size();
  s.queue_bytes = queue_bytes_;
  s.current_file = current_path_;
  s.last_error = last_error_;
  return s;
}

}  // namespace tandem::mrt
