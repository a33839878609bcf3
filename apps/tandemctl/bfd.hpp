// `tandemctl bfd [PEER]`: the BFD sessions (heartbeat table) of tandemd.
#pragma once

#include <ostream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "bfd".
Command parse_bfd(Args& args);

// The table of every session (no peer asked for) or one session in detail.
void render_bfd(const tandem::v1::ListBfdSessionsResponse& response, bool detail, std::ostream& out);

int execute(Context& ctx, const tandem::v1::ListBfdSessionsRequest& request);

}  // namespace tandemctl
