#include "replicator/config_digest.hpp"

#include <openssl/evp.h>

#include <map>

namespace tandem::replicator {
namespace {

std::string sha256(const std::string& text) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

repl::ConfigDigest make_config_digest(const config::Config& config) {
  repl::ConfigDigest d;
  d.set_global_summary(config::describe_global(config));
  d.set_global_digest(sha256(d.global_summary()));
  for (const auto& p : config.peers) {
    auto* pd = d.add_peers();
    pd->set_address(p.address.to_string());
    pd->set_summary(config::describe_peer(p));
    pd->set_digest(sha256(pd->summary()));
  }
  return d;
}

std::optional<std::string> compare_config(const repl::ConfigDigest& primary, const repl::ConfigDigest& mine) {
  if (primary.global_digest() != mine.global_digest())
    return "the global settings differ: primary '" + primary.global_summary() + "', standby '" +
           mine.global_summary() + "'";
  std::map<std::string, const repl::PeerDigest*> ours;
  for (const auto& p : mine.peers()) ours[p.address()] = &p;
  for (const auto& p : primary.peers()) {
    auto it = ours.find(p.address());
    if (it == ours.end()) return "peer " + p.address() + " is configured on the primary only";
    if (it->second->digest() != p.digest())
      return "peer " + p.address() + " differs: primary '" + p.summary() + "', standby '" + it->second->summary() +
             "'";
    ours.erase(it);
  }
  if (!ours.empty()) return "peer " + ours.begin()->first + " is configured on the standby only";
  return std::nullopt;
}

}  // namespace tandem::replicator
