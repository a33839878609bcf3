// `tandemctl events ...`: streams peer-state and best-path events until interrupted.
#pragma once

#include <ostream>
#include <string>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "events".
Command parse_events(Args& args);

// One line, without the newline.
std::string event_line(const tandem::v1::Event& event);

int execute(Context& ctx, const tandem::v1::WatchEventsRequest& request);

}  // namespace tandemctl
