// The pair's term (epoch): a primary takes a new, higher term when it starts; the
// standby adopts the primary's. Kept in a file so that a node that returns after a
// failure knows the term it had and cannot pass for a current primary (fencing).
#pragma once

#include <cstdint>
#include <string>

namespace tandem::replicator {

class EpochStore {
 public:
  explicit EpochStore(std::string path) : path_(std::move(path)) {}
  // Read the stored term (0 when there is no file, or no path: in memory only). False +
  // why when the file exists but is unreadable or malformed.
  bool load(std::string& why);
  uint64_t value() const { return value_; }
  // Store a new term (atomically: temp file + rename). False + why on failure.
  bool store(uint64_t epoch, std::string& why);

 private:
  std::string path_;
  uint64_t value_ = 0;
};

}  // namespace tandem::replicator
