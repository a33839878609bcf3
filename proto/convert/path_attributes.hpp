// wire::PathAttributes <-> tandem.v1.PathAttributes: shared by the API (routes in and
// out) and replication (the API's routes sent to the standby).
#pragma once

#include "bgpd/wire/attributes.hpp"
#include "tandem/v1/common.pb.h"

namespace tandem::proto_convert {

void path_attributes_to_proto(const wire::PathAttributes& a, v1::PathAttributes& out);
// Never fails: an address that does not parse leaves its attribute out (the API
// validates its requests first, validate.hpp).
wire::PathAttributes path_attributes_from_proto(const v1::PathAttributes& a);

}  // namespace tandem::proto_convert
