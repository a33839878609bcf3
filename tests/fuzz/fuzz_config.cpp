// Fuzz the configuration loader's in-memory entry point, parse_config(text, file): the
// input is the TOML text. Nothing may throw out of it or abort; the result is either a
// Config (read from this file, with the canonical descriptions computable) or a
// ConfigError naming the file, with a message and a line within the input (or 0).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "bgpd/config/config.hpp"
#include "fuzz_common.hpp"

using namespace tandem::config;

namespace {

const std::string kFile = "fuzz.toml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const long lines = 1 + std::count(text.begin(), text.end(), '\n');

  LoadResult r = parse_config(text, kFile);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    FUZZ_CHECK(e->file == kFile);
    FUZZ_CHECK(!e->message.empty());
    FUZZ_CHECK(e->line >= 0 && e->line <= lines);
    const std::string s = e->to_string();
    FUZZ_CHECK(s.find(e->message) != std::string::npos);
    return 0;
  }
  const Config& c = std::get<Config>(r);
  FUZZ_CHECK(c.file == kFile);
  FUZZ_CHECK(c.router_id != 0 && c.local_as != 0);
  FUZZ_CHECK(!c.ha.node_id.empty());
  for (size_t i = 0; i < c.peers.size(); ++i) {
    FUZZ_CHECK(c.find_peer(c.peers[i].address) == &c.peers[i]);  // no address twice
    FUZZ_CHECK(c.peers[i].remote_as != 0 && !c.peers[i].families.empty());
    FUZZ_CHECK(!c.peers[i].bfd || c.bfd.enabled);
    (void)describe_peer(c.peers[i]);
  }
  for (size_t i = 0; i < c.networks.size(); ++i)
    for (size_t j = i + 1; j < c.networks.size(); ++j) FUZZ_CHECK(!(c.networks[i].prefix == c.networks[j].prefix));
  FUZZ_CHECK(c.ha.standby_buffer_bytes >= c.ha.max_unreplicated_bytes);
  (void)describe_global(c);

  // Deterministic: the same text gives the same configuration.
  LoadResult again = parse_config(text, kFile);
  FUZZ_CHECK(std::holds_alternative<Config>(again));
  FUZZ_CHECK(describe_global(std::get<Config>(again)) == describe_global(c));
  return 0;
}
