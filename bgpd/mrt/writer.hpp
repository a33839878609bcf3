// A streaming MRT file writer that never blocks its callers: records are encoded on
// the caller's thread, handed over as bytes to a bounded queue, and written by one
// writer thread. A full queue drops the record (counted, and logged by the writer
// thread at most every 10 s). Files are named by a strftime pattern of the rotation
// period's start and rotated at a fixed interval, optionally gzip/bzip2 compressed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bgpd/mrt/byte_source.hpp"
#include "bgpd/mrt/sink.hpp"

namespace tandem::mrt {

using Clock = std::chrono::system_clock;

struct WriterOptions {
  // strftime pattern, e.g. "/var/lib/tandemd/updates.%Y%m%d.%H%M.mrt"; expanded with
  // the start of the rotation period the record falls in.
  std::string path_pattern;
  std::chrono::seconds rotate_interval{0};  // 0: one file, never rotated
  Compression compression = Compression::None;
  bool utc = true;                          // expand the pattern in UTC (else local time)
  size_t queue_max_records = 65536;
  size_t queue_max_bytes = size_t{64} << 20;
  std::string name = "mrt";                 // for logs ("mrt updates: ...")
  std::function<Clock::time_point()> clock; // for tests; default Clock::now
};

struct WriterStats {
  uint64_t records_written = 0;
  uint64_t bytes_written = 0;    // record bytes, before compression
  uint64_t records_dropped = 0;  // queue full, writer stopped, or a write error
  uint64_t files_opened = 0;
  uint64_t files_rotated = 0;    // files closed because their period ended
  uint64_t write_errors = 0;
  size_t queue_records = 0;
  size_t queue_bytes = 0;
  std::string current_file;
  std::string last_error;
};

// Expands a strftime pattern for time t; empty when the result would be empty.
std::string expand_pattern(const std::string& pattern, Clock::time_point t, bool utc);

class Writer {
 public:
  explicit Writer(WriterOptions opts);
  ~Writer();  // close()
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Starts the writer thread. Records submitted before are kept (up to the bounds).
  void start();
  // Enqueues one encoded record; `when` picks the rotation period (normally the
  // record's timestamp). Never blocks on I/O; false when the record was dropped.
  bool submit(std::vector<uint8_t> record, Clock::time_point when);
  bool submit(std::vector<uint8_t> record) { return submit(std::move(record), now()); }
  // Blocks until everything submitted before is written and flushed (shutdown,
  // tests). Needs start().
  void flush();
  // Drains the queue, closes the file, stops the thread. Later submits are dropped.
  void close();

  WriterStats stats() const;

 private:
  struct Item {
    std::vector<uint8_t> bytes;
    Clock::time_point when;
  };
  Clock::time_point now() const { return opts_.clock ? opts_.clock() : Clock::now(); }
  Clock::time_point period_start(Clock::time_point t) const;
  void run();
  void write_item(const Item& item);
  void close_file(bool rotated);
  void note_error(const std::string& what);
  void log_drops(bool final);  // at most every 10 s unless final

  WriterOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // writer thread: work or stop
  std::condition_variable drained_;  // flush(): queue empty and written
  std::deque<Item> queue_;
  size_t queue_bytes_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  bool running_ = false;  // the writer thread is between start() and its exit
  uint64_t flush_requests_ = 0, flushes_done_ = 0;
  std::thread thread_;

  // Counters readable from any thread.
  std::atomic<uint64_t> written_{0}, bytes_{0}, dropped_{0}, opened_{0}, rotated_{0}, errors_{0};
  std::string last_error_;    // guarded by mu_
  std::string current_path_;  // guarded by mu_

  // Writer thread only.
  std::unique_ptr<Sink> sink_;
  Clock::time_point sink_period_{};
  Clock::time_point period_floor_{};  // no file is (re)opened for an earlier period
  Clock::time_point last_open_failure_{};
  bool open_failed_ = false;
  uint64_t drops_logged_ = 0;
  std::chrono::steady_clock::time_point last_drop_log_{};
};

}  // namespace tandem::mrt
