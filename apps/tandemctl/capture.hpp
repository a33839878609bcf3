// `tandemctl capture ...`: streams every BGP message the daemon sends and receives, with
// the session state, until interrupted (or --count messages); --pcapng also writes them
// to a pcapng file.
#pragma once

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "capture".
Command parse_capture(Args& args);

int execute(Context& ctx, const CaptureCommand& command);

}  // namespace tandemctl
