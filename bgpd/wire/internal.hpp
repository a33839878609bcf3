// Internal to bgpd/wire: declarations shared between the codec's .cpp files.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bgpd/wire/message.hpp"

namespace tandem::wire::detail {

// Short names for the attribute flag bits in the codec's tables (attributes_*.cpp).
inline constexpr uint8_t kO = attr::kFlagOptional, kT = attr::kFlagTransitive, kExt = attr::kFlagExtendedLength;

// capabilities.cpp
void encode_capability_list(const Capabilities& caps, std::vector<uint8_t>& out);
bool wrap_capability_params(std::span<const uint8_t> list, bool extended, std::vector<uint8_t>& out);

}  // namespace tandem::wire::detail

namespace tandem::wire::detail {

// attributes_decode.cpp: decode the path attribute section into u (attrs, MP NLRI,
// RFC 7606 outcomes). Returns the error only for SessionReset.
struct AttributeContext {
  bool ipv4_nlri_present = false;  // the classic NLRI field is not empty
  bool classic_fields_empty = true;  // withdrawn routes and NLRI fields are both empty
};
std::optional<WireError> decode_attribute_section(std::span<const uint8_t> bytes,
                                                  const CodecOptions& opts,
                                                  const AttributeContext& ctx, Update& u);

// attributes_encode.cpp
void encode_attributes_impl(const PathAttributes& attrs, const CodecOptions& opts,
                            bool emit_next_hop, std::vector<uint8_t>& out);

// Index of the NlriSet for `family` in sets, appended when absent.
inline size_t nlri_set_index(std::vector<NlriSet>& sets, Family family) {
  for (size_t i = 0; i < sets.size(); ++i)
    if (sets[i].family == family) return i;
  sets.push_back(NlriSet{family, {}});
  return sets.size() - 1;
}

}  // namespace tandem::wire::detail
