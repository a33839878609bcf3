// CaptureItem (made on the event loop) -> CaptureRecord, on the gRPC thread that sends
// it: the message summary is decoded here, off the event loop.
#pragma once

#include "api/capture_hub.hpp"
#include "tandem/v1/capture.pb.h"

namespace tandem::api {

// `include_data`: copy the message bytes into CapturedMessage.data.
void to_proto(const CaptureItem& item, bool include_data, v1::CaptureRecord& out);
void to_proto(const SessionSnapshot& s, v1::CaptureSessionState& out);
void to_proto(const fsm::Negotiated& n, v1::NegotiatedCapabilities& out);

}  // namespace tandem::api
