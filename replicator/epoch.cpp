#include "replicator/epoch.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <cstdio>

namespace tandem::replicator {

bool EpochStore::load(std::string& why) {
  if (path_.empty()) return true;
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return true;
    why = path_ + ": " + std::strerror(errno);
    return false;
  }
  std::string text;
  std::getline(in, text);
  // Digits only: stoull would take "-1" as the largest term there is.
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  try {
    if (!digits) throw std::invalid_argument("not digits");
    size_t used = 0;
    uint64_t v = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
    value_ = v;
  } catch (const std::exception&) {
    why = path_ + ": not a term number: '" + text + "'";
    return false;
  }
  return true;
}

bool EpochStore::store(uint64_t epoch, std::string& why) {
  value_ = epoch;
  if (path_.empty()) return true;
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << epoch << "\n";
    out.flush();
    if (!out) {
      why = tmp + ": cannot write: " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    why = path_ + ": cannot replace: " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace tandem::replicator
