// NLRI prefix runs (RFC 4271 §4.3; RFC 7911 path identifiers are skipped on receive).
#include <algorithm>

#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::wire {

namespace {
WireError bad_nlri(std::string reason) {
  return detail::session_reset(err::kUpdate, err::kInvalidNetworkField, std::move(reason));
}
}  // namespace

Result<size_t> decode_prefixes(std::span<const uint8_t> bytes, Afi afi, bool add_path,
                               std::vector<Prefix>& out) {
  if (afi != Afi::Ipv4 && afi != Afi::Ipv6)
    return bad_nlri("unsupported AFI " + std::to_string(static_cast<unsigned>(afi)));
  const unsigned max_len = afi == Afi::Ipv4 ? 32 : 128;
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();

  // Pass 1: validate and count, so the output grows exactly once.
  size_t count = 0;
  for (size_t pos = 0; pos < n; ++count) {
    if (add_path) {
      if (n - pos < 5) return bad_nlri("NLRI path identifier overruns the field");
      pos += 4;
    }
    const unsigned len = p[pos++];
    if (len > max_len)
      return bad_nlri("prefix length " + std::to_string(len) + " exceeds " + std::to_string(max_len));
    const size_t nb = (len + 7) / 8;
    if (n - pos < nb) return bad_nlri("prefix overruns the NLRI field");
    pos += nb;
  }

  // Pass 2: build the prefixes (host bits masked, bytes past the length left zero).
  out.reserve(out.size() + count);
  for (size_t pos = 0; pos < n;) {
    if (add_path) pos += 4;
    const unsigned len = p[pos++];
    const size_t nb = (len + 7) / 8;
    Prefix& pfx = out.emplace_back();
    pfx.addr.afi = afi;
    pfx.len = static_cast<uint8_t>(len);
    if (nb > 0) {
      std::memcpy(pfx.addr.bytes.data(), p + pos, nb);
      if (const unsigned rem = len % 8; rem != 0)
        pfx.addr.bytes[nb - 1] &= static_cast<uint8_t>(0xFF00u >> rem);
    }
    pos += nb;
  }
  return count;
}

void encode_prefix(const Prefix& p, std::vector<uint8_t>& out) {
  const size_t nb = std::min<size_t>((static_cast<size_t>(p.len) + 7) / 8, 16);
  out.push_back(p.len);
  out.insert(out.end(), p.addr.bytes.begin(), p.addr.bytes.begin() + static_cast<std::ptrdiff_t>(nb));
}

}  // namespace tandem::wire
