#include "replicator/channel/key.hpp"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace tandem::replicator {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

KeyResult failure(std::string why) { return KeyResult{{}, std::move(why)}; }

}  // namespace

bool parse_hex(const std::string& hex, std::vector<uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

KeyResult load_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return failure(fmt::format("replication key file {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return failure(fmt::format("replication key file {}: not a regular file", path));
  // A key others can read is no secret: refuse rather than warn.
  if ((st.st_mode & 077) != 0) {
    return failure(fmt::format(
        "replication key file {} has mode {:04o}: it must not be accessible by group or "
        "others (chmod 600 {})",
        path, st.st_mode & 07777, path));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return failure(fmt::format("replication key file {}: cannot open: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string hex = trim(ss.str());
  for (size_t i = 0; i < hex.size(); ++i) {
    if (hex_value(hex[i]) < 0) {
      return failure(fmt::format(
          "replication key file {}: character {} is not a hex digit (expected >= {} hex "
          "digits, e.g. from `openssl rand -hex 32`)",
          path, i + 1, 2 * kMinKeyBytes));
    }
  }
  if (hex.size() < 2 * kMinKeyBytes) {
    return failure(fmt::format("replication key file {}: {} hex digits, need at least {} ({} bytes)",
                               path, hex.size(), 2 * kMinKeyBytes, kMinKeyBytes));
  }
  KeyResult r;
  if (!parse_hex(hex, r.key)) {
    return failure(fmt::format("replication key file {}: odd number of hex digits ({})", path, hex.size()));
  }
  return r;
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

}  // namespace tandem::replicator
