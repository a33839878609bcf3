// `tandemctl global` and `tandemctl global set ...`.
#pragma once

#include <ostream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "global".
Command parse_global(Args& args);

void render_global(const tandem::v1::GetGlobalResponse& response, std::ostream& out);
void render_global(const tandem::v1::Global& global, std::ostream& out);

int execute(Context& ctx, const tandem::v1::GetGlobalRequest& request);
int execute(Context& ctx, const tandem::v1::SetGlobalRequest& request);

}  // namespace tandemctl
