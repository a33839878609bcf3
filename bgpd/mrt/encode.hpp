// Encoding MRT records (RFC 6396) into bytes: the common header and the BGP4MP records.
// Every function returns one whole record, header included, ready to be written.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bgpd/mrt/records.hpp"

namespace tandem::mrt {

// Appends the 12-byte common header (plus the 4-byte microsecond field when
// extended_time) with a placeholder length; returns the header's offset in out.
size_t begin_record(std::vector<uint8_t>& out, Timestamp t, uint16_t type, uint16_t subtype,
                    bool extended_time = false);
// Writes the length of the record begun at `start` (RFC 6396 §3: for _ET types it
// includes the microsecond field).
void end_record(std::vector<uint8_t>& out, size_t start);

// Which way a recorded message went. RFC 6396 has no direction field: a received
// message is BGP4MP_MESSAGE_AS4 (subtype 4); a sent one is BGP4MP_MESSAGE_AS4_LOCAL
// (subtype 7, IANA MRT registry; bgpdump prints it as BGP4MP_LOCAL), with the same
// peer/local fields, so both directions of a session read alike.
enum class Direction : uint8_t { Received, Sent };

// BGP4MP_MESSAGE_AS4 / _AS4_LOCAL (type 16), or BGP4MP_ET (type 17) when extended_time.
// `message` is a whole BGP message, marker included, as sent or received.
std::vector<uint8_t> encode_bgp4mp_message(Timestamp t, const Bgp4mpPeer& peer,
                                           std::span<const uint8_t> message,
                                           bool extended_time = false,
                                           Direction dir = Direction::Received);

// BGP4MP_STATE_CHANGE_AS4 (subtype 5).
std::vector<uint8_t> encode_bgp4mp_state_change(Timestamp t, const Bgp4mpPeer& peer,
                                                FsmState old_state, FsmState new_state,
                                                bool extended_time = false);

}  // namespace tandem::mrt
