// A frozen TCP connection (session::FrozenTcp) on the replication channel
// (repl::FrozenTcpState) and back. The snapshot's time travels as its age: the two
// nodes' monotonic clocks are unrelated.
#pragma once

#include <optional>
#include <string>

#include "bgpd/session/tcp_repair.hpp"
#include "tandem/v1/replication.pb.h"

namespace tandem::replicator {

namespace repl = tandem::v1::repl;

void to_proto(const session::FrozenTcp& f, repl::FrozenTcpState& out);
// nullopt + why when an address does not parse or a value is out of range.
std::optional<session::FrozenTcp> from_proto(const repl::FrozenTcpState& p, std::string& why);

}  // namespace tandem::replicator
