// The pre-shared key of a tandemd pair: a file of hex digits readable by its owner only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::replicator {

inline constexpr size_t kMinKeyBytes = 32;

struct KeyResult {
  std::vector<uint8_t> key;  // when ok()
  std::string error;         // otherwise: names the file and what to do about it

  bool ok() const { return error.empty(); }
};

// Reads the key file: >= 64 hex digits (surrounding whitespace ignored); refused when
// group or others have any access to it (the error names the mode and says chmod 600).
KeyResult load_key(const std::string& path);

// Parses hex digits (both cases) into bytes; false on an odd count or a non-hex char.
bool parse_hex(const std::string& hex, std::vector<uint8_t>& out);

// n cryptographically random bytes (OpenSSL RAND_bytes). Throws std::runtime_error if
// the generator fails (it does not once the kernel's pool is initialised).
std::vector<uint8_t> random_bytes(size_t n);

}  // namespace tandem::replicator
