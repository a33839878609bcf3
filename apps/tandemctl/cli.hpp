// The command line: global options, command dispatch, usage texts, exit statuses.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "apps/tandemctl/command.hpp"

namespace tandemctl {

enum ExitStatus { kExitOk = 0, kExitError = 1, kExitUsage = 2 };

// Parses the words after the program name. `env_socket` is $TANDEMCTL_SOCKET (or
// nullptr). Throws UsageError.
Invocation parse_invocation(const std::vector<std::string>& words, const char* env_socket);

// The usage text for a topic: "" (all), "neighbor", "rib", "events", "global", "bfd", "ha".
std::string usage(const std::string& topic);

// Parses and runs a command line; returns the exit status. Errors go to `err` as
// "tandemctl: ..." (with a usage text for usage errors).
int run(const std::vector<std::string>& words, std::ostream& out, std::ostream& err,
        const char* env_socket);

}  // namespace tandemctl
