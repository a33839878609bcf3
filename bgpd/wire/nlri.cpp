// NLRI prefix runs (RFC 4271 §4.3; RFC 7911 path identifiers are skipped on receive).
#include <algorithm>

#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/message.hpp"
#include "bgpd/wire/nlri.hpp"

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
  // Pass 1: validate and count, so the output grows exactly once.
  size_t count = 0;
  const NlriWalk walk = for_each_encoded_prefix(bytes, max_len, add_path,
                                                [&](const uint8_t*, unsigned, unsigned) { ++count; });
  switch (walk.fault) {
    case NlriFault::None: break;
    case NlriFault::PathIdOverrun: return bad_nlri("NLRI path identifier overruns the field");
    case NlriFault::LengthTooLong:
      return bad_nlri("prefix length " + std::to_string(walk.bad_length) + " exceeds " + std::to_string(max_len));
    case NlriFault::PrefixOverrun: return bad_nlri("prefix overruns the NLRI field");
  }

  // Pass 2: build the prefixes (host bits masked, bytes past the length left zero).
  out.reserve(out.size() + count);
  (void)for_each_encoded_prefix(bytes, max_len, add_path, [&](const uint8_t* b, unsigned nb, unsigned len) {
    Prefix& pfx = out.emplace_back();
    pfx.addr.afi = afi;
    pfx.len = static_cast<uint8_t>(len);
    if (nb > 0) {
      std::memcpy(pfx.addr.bytes.data(), b, nb);
      if (const unsigned rem = len % 8; rem != 0) pfx.addr.bytes[nb - 1] &= static_cast<uint8_t>(0xFF00u >> rem);
    }
  });
  return count;
}

void encode_prefix(const Prefix& p, std::vector<uint8_t>& out) {
  const size_t nb = std::min<size_t>((static_cast<size_t>(p.len) + 7) / 8, 16);
  out.push_back(p.len);
  out.insert(out.end(), p.addr.bytes.begin(), p.addr.bytes.begin() + static_cast<std::ptrdiff_t>(nb));
}

}  // namespace tandem::wire
