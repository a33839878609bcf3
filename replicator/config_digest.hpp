// The two nodes of a pair must run the same peer configuration: the standby mirrors
// sessions it would otherwise negotiate differently. The primary sends a digest per
// peer (and of the global settings); the standby compares it with its own and refuses
// a mismatch, naming what differs.
#pragma once

#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "tandem/v1/replication.pb.h"

namespace tandem::replicator {

namespace repl = tandem::v1::repl;

repl::ConfigDigest make_config_digest(const config::Config& config);

// nullopt when equal; else a message naming the first difference (global settings, a
// peer only one node has, or a peer whose settings differ, with both summaries).
std::optional<std::string> compare_config(const repl::ConfigDigest& primary, const repl::ConfigDigest& mine);

}  // namespace tandem::replicator
