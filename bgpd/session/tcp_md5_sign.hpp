// The TCP MD5 signature option (RFC 2385) for the segments tandem builds itself: the
// takeover's sequence probe and its RST. A peer with a TCP-MD5 key for the session drops
// every segment without a valid signature, so these must carry one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::session {

inline constexpr uint8_t kTcpOptMd5 = 19;
inline constexpr size_t kTcpOptMd5Len = 18;  // kind, length, 16-byte digest

// MD5 over the pseudo-header (IPv4: addresses, zero, protocol, TCP length; IPv6:
// addresses, 32-bit length, 32-bit protocol), the fixed 20-byte TCP header with a zero
// checksum (no options), the payload and the key. `tcp_length` is the whole segment's:
// header, options and payload. `src`/`dst` are 4 or 16 bytes.
std::array<uint8_t, 16> tcp_md5_digest(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                                       std::span<const uint8_t> tcp_header20, std::span<const uint8_t> payload,
                                       size_t tcp_length, std::string_view key);

}  // namespace tandem::session
