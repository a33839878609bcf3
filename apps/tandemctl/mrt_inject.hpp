// `tandemctl mrt inject FILE [--count N] [--nexthop ADDR|self]...`: originates the
// routes of an MRT file (mrt_routes.hpp) through RibService.InjectRoutes, a client
// stream of batches, and reports how many and how fast.
#pragma once

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "mrt".
Command parse_mrt(Args& args);

int execute(Context& ctx, const MrtInjectCommand& command);

}  // namespace tandemctl
