// The SIGUSR1 state dump: peers and RIB as one JSON document, written atomically (a
// temporary file renamed into place).
//
// Written in slices on the event loop (kRoutesPerSlice routes per visit), never in one
// piece: a state dump of a full table took seconds under load and held the loop all that
// time (the replication channel's peer declared it dead: CI, integration.takeover under
// ASan). The routes are therefore not one snapshot: a route that changes while the dump
// is written may appear as it was or as it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <fstream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bgpd/rib/rib.hpp"
#include "bgpd/session/speaker.hpp"

namespace tandem::app {

class StateDumper {
 public:
  static constexpr size_t kRoutesPerSlice = 1024;

  // Both must outlive the dumper. A slice posted before the dumper was destroyed does
  // nothing.
  StateDumper(boost::asio::io_context& io, const session::Speaker& speaker);
  ~StateDumper();
  StateDumper(const StateDumper&) = delete;
  StateDumper& operator=(const StateDumper&) = delete;

  // Writes the dump to `path`. A request made while a dump is being written is served
  // by one more dump once that one is complete (requests made meanwhile coalesce), so
  // that every requester gets a dump begun after its request.
  void request(const std::string& path);
  bool busy() const { return writing_; }

 private:
  void begin();
  void write_slice();
  void finish();
  void fail(const std::string& why);
  void next();  // the dump requested meanwhile, if any

  boost::asio::io_context& io_;
  const session::Speaker& speaker_;
  bool writing_ = false;
  std::string path_, tmp_;
  std::string next_path_;  // non-empty: one more dump requested meanwhile
  std::ofstream out_;
  int family_ = 0;  // index into the dumped families
  rib::ListCursor cursor_;
  size_t routes_ = 0, family_routes_ = 0, slices_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // expires with the dumper
};

}  // namespace tandem::app
