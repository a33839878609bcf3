// RFC 6793 §4.2.3: rebuild the 4-octet AS path from AS_PATH + AS4_PATH received from a
// 2-octet (OLD) speaker.
#include <algorithm>

#include "bgpd/wire/message.hpp"

namespace tandem::wire {

namespace {
void append_merging(AsPath& out, const AsPathSegment& seg) {
  if (seg.asns.empty()) return;
  if (!out.segments.empty() && seg.type == AsPathSegment::Sequence &&
      out.segments.back().type == AsPathSegment::Sequence) {
    auto& a = out.segments.back().asns;
    a.insert(a.end(), seg.asns.begin(), seg.asns.end());
    return;
  }
  out.segments.push_back(seg);
}
}  // namespace

AsPath reconcile_as4_path(const AsPath& as_path, const AsPath& as4_path) {
  // Path lengths as in RFC 4271 §9.1.2.2 (a set counts 1, confederation segments 0).
  const size_t n2 = as_path.selection_length();
  const size_t n4 = as4_path.selection_length();
  // "the AS4_PATH attribute MUST be ignored" when it is longer than AS_PATH.
  if (n2 < n4) return as_path;

  // Keep the leading n2 - n4 AS numbers of AS_PATH (with any confederation segments in
  // front of them), then append AS4_PATH.
  size_t keep = n2 - n4;
  AsPath out;
  out.segments.reserve(as_path.segments.size() + as4_path.segments.size());
  for (const auto& seg : as_path.segments) {
    if (seg.type == AsPathSegment::ConfedSequence || seg.type == AsPathSegment::ConfedSet) {
      if (keep > 0 || out.segments.empty() ||
          out.segments.back().type == AsPathSegment::ConfedSequence ||
          out.segments.back().type == AsPathSegment::ConfedSet)
        out.segments.push_back(seg);
      continue;
    }
    if (keep == 0) break;
    if (seg.type == AsPathSegment::Set) {
      if (!seg.asns.empty()) {
        out.segments.push_back(seg);
        --keep;
      }
      continue;
    }
    const size_t take = std::min(keep, seg.asns.size());
    append_merging(out, AsPathSegment{AsPathSegment::Sequence,
                                      {seg.asns.begin(), seg.asns.begin() + static_cast<std::ptrdiff_t>(take)}});
    keep -= take;
  }
  for (const auto& seg : as4_path.segments) {
    // Confederation segments are not allowed in AS4_PATH (RFC 6793 §3); the decoder
    // already discards such an AS4_PATH, skip them defensively.
    if (seg.type == AsPathSegment::ConfedSequence || seg.type == AsPathSegment::ConfedSet) continue;
    append_merging(out, seg);
  }
  return out;
}

}  // namespace tandem::wire
