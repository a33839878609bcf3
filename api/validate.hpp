// Request validation. Each function checks a whole request before anything is applied
// and returns "" when it is valid, else a message that names the field and says
// exactly what is wrong (sent back with INVALID_ARGUMENT).
#pragma once

#include <string>

#include "tandem/v1/events.pb.h"
#include "tandem/v1/global.pb.h"
#include "tandem/v1/peer.pb.h"
#include "tandem/v1/rib.pb.h"

namespace tandem::api {

std::string validate_address(const std::string& field, const std::string& text);
std::string validate(const v1::PeerConfig& c);
std::string validate(const v1::AddPeerRequest& r);
std::string validate(const v1::ResetPeerRequest& r);
std::string validate(const v1::SetGlobalRequest& r);
std::string validate(const v1::ListRoutesRequest& r);
std::string validate(const v1::PathAttributes& a, const std::string& prefix_text);
std::string validate(const v1::AddRouteRequest& r);
std::string validate(const v1::DeleteRouteRequest& r);
std::string validate(const v1::WatchEventsRequest& r);

// Largest accepted ListRoutesRequest.batch_size.
inline constexpr uint32_t kMaxBatchSize = 10000;

}  // namespace tandem::api
