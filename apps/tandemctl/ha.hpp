// `tandemctl ha`: the replicator's status (HaService.GetStatus) and
// `tandemctl ha digests [--peer ADDR]`: the RIB table digests, to compare two nodes.
#pragma once

#include <cstdint>
#include <ostream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "ha".
Command parse_ha(Args& args);

// `now_us`: CLOCK_REALTIME in microseconds, for the checkpoint ages (a parameter so that
// tests render deterministically).
void render_ha(const tandem::v1::HaStatus& status, std::uint64_t now_us, std::ostream& out);
void render_digests(const tandem::v1::GetTableDigestsResponse& response, std::ostream& out);

int execute(Context& ctx, const tandem::v1::GetHaStatusRequest& request);
int execute(Context& ctx, const tandem::v1::GetTableDigestsRequest& request);
int execute(Context& ctx, const tandem::v1::SwitchoverRequest& request);

}  // namespace tandemctl
