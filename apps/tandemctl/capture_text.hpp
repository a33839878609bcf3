// Text forms of capture records (`tandemctl capture` without --json, and the packet
// comments of its pcapng files).
#pragma once

#include <cstdint>
#include <string>

#include "tandem/v1/capture.pb.h"

namespace tandemctl {

// "2026-11-21T14:32:11.123456Z" (microseconds).
std::string capture_time_text(std::int64_t unix_nanos);

// The session part of a message record: "Established, outgoing, conn 7, offset 1234,
// seq 3315448001 ack 2211, families ipv4-unicast, 4-octet-as, route-refresh, hold 90,
// gr none, replication primary in-sync" (what is unknown says so).
std::string session_text(const tandem::v1::CapturedMessage& message);

// One line per record, no newline:
//   TIME recv PEER SUMMARY | SESSION          (sent: "sent")
//   TIME state PEER FROM -> TO (REASON)
//   TIME conn PEER #ID open LOCAL:PORT <-> REMOTE:PORT    ("closed")
//   TIME (N records dropped: this client was too slow; T in all)
std::string capture_line(const tandem::v1::CaptureRecord& record);

// A packet comment: "tandem: sent UPDATE to 192.0.2.3: SUMMARY | SESSION".
std::string packet_comment(const tandem::v1::CapturedMessage& message);

}  // namespace tandemctl
