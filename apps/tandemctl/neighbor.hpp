// `tandemctl neighbor ...`: list, show, add, del, enable, disable, reset.
#pragma once

#include <ostream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"

namespace tandemctl {

// `args` holds the words after "neighbor".
Command parse_neighbor(Args& args);

void render_peers(const tandem::v1::ListPeersResponse& response, std::ostream& out);
void render_peer(const tandem::v1::Peer& peer, std::ostream& out);

int execute(Context& ctx, const tandem::v1::ListPeersRequest& request);
int execute(Context& ctx, const tandem::v1::GetPeerRequest& request);
int execute(Context& ctx, const tandem::v1::AddPeerRequest& request);
int execute(Context& ctx, const tandem::v1::DeletePeerRequest& request);
int execute(Context& ctx, const tandem::v1::EnablePeerRequest& request);
int execute(Context& ctx, const tandem::v1::DisablePeerRequest& request);
int execute(Context& ctx, const tandem::v1::ResetPeerRequest& request);

}  // namespace tandemctl
