// Helpers for the MRT unit tests: temp directories, reading whole files through the
// reader, running bgpdump.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bgpd/mrt/file_reader.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::mrt::test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

inline Bytes u16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
inline Bytes u32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tandem-mrt-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

struct ReadAll {
  std::vector<Record> records;
  std::vector<MrtError> errors;
};
inline ReadAll read_all(const std::string& path) {
  ReadAll out;
  auto r = FileReader::open(path);
  if (!r) {
    out.errors.push_back(r.error());
    return out;
  }
  while (auto rec = r->next()) {
    if (rec->ok()) {
      out.records.push_back(std::move(rec->value()));
    } else {
      out.errors.push_back(rec->error());
    }
  }
  return out;
}

// stdout of a command, split into lines (stderr discarded).
inline std::vector<std::string> run_lines(const std::string& cmd) {
  std::vector<std::string> lines;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return lines;
  std::string cur;
  std::array<char, 65536> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        lines.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(buf[i]);
      }
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  pclose(p);
  return lines;
}

inline bool have_bgpdump() { return fs::exists(TANDEM_BGPDUMP); }

inline wire::IpAddr ip(const char* s) { return *wire::IpAddr::parse(s); }
inline wire::Prefix pfx(const char* s) { return *wire::Prefix::parse(s); }

}  // namespace tandem::mrt::test
