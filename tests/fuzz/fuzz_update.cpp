// Fuzz decode_update. Byte 0 chooses the CodecOptions (4-octet AS, extended message,
// eBGP, ADD-PATH receive per family); the rest is the UPDATE body. A decoded UPDATE is
// re-encoded (attributes, announcements, withdrawals) and, on 4-octet sessions, its
// attributes must decode back unchanged.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/wire/message.hpp"
#include "fuzz_common.hpp"

using namespace tandem::wire;

namespace {

CodecOptions options_from(uint8_t b) {
  CodecOptions o;
  o.four_octet_as = (b & 1) == 0;
  o.extended_message = (b & 2) != 0;
  o.ebgp = (b & 4) != 0;
  o.add_path_rx_ipv4 = (b & 8) != 0;
  o.add_path_rx_ipv6 = (b & 16) != 0;
  return o;
}

void check_attribute_round_trip(const PathAttributes& a, const CodecOptions& opts) {
  std::vector<uint8_t> out;
  encode_attributes(a, opts, out);
  CodecOptions rx = opts;
  auto back = decode_attributes(out, rx);
  FUZZ_CHECK(back.ok());
  if (!opts.four_octet_as) return;  // AS_TRANS reconciliation can legitimately differ
  FUZZ_CHECK(!back->treat_as_withdraw);
  PathAttributes want = a;
  want.has_origin = true;
  if (!a.has_origin) want.origin = Origin::Incomplete;
  want.has_as_path = true;
  if (!(a.next_hop && a.next_hop->is_v4())) want.next_hop.reset();
  want.next_hop_link_local.reset();
  if (opts.ebgp) {
    want.local_pref.reset();
    want.originator_id.reset();
    want.cluster_list.clear();
  }
  for (auto& u : want.unknown) u.flags |= tandem::wire::attr::kFlagPartial;
  FUZZ_CHECK(back->attrs == want);
  FUZZ_CHECK(back->attrs.hash() == want.hash());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const CodecOptions opts = options_from(data[0]);
  std::span<const uint8_t> body(data + 1, size - 1);
  if (body.size() > opts.max_message_size() - kHeaderLen) return 0;

  auto split = split_update(body);
  auto r = decode_update(body, opts);
  FUZZ_CHECK(split.ok() || !r.ok());
  if (!r.ok()) {
    FUZZ_CHECK(r.error().action == ErrorAction::SessionReset);
    FUZZ_CHECK(r.error().code == tandem::wire::err::kUpdate);
    FUZZ_CHECK(!r.error().reason.empty());
    return 0;
  }
  const Update& u = r.value();
  if (u.treat_as_withdraw) FUZZ_CHECK(!u.treat_as_withdraw_reason.empty());
  for (const auto& d : u.discarded) FUZZ_CHECK(!d.reason.empty());
  (void)u.attrs.hash();
  (void)u.attrs.as_path.to_string();
  (void)u.attrs.as_path.selection_length();

  // The same attributes through the cache path.
  auto attrs_only = decode_attributes(split->attributes, opts, !split->nlri.empty());
  FUZZ_CHECK(attrs_only.ok());
  FUZZ_CHECK(attrs_only->attrs == u.attrs);

  check_attribute_round_trip(u.attrs, opts);

  for (const auto& set : u.announced) {
    auto msgs = encode_announcements(u.attrs, set.family, set.prefixes, opts);
    size_t n = 0;
    for (const auto& m : msgs) {
      FUZZ_CHECK(m.size() <= opts.max_message_size());
      FUZZ_CHECK(decode_header(m, opts.max_message_size()).ok());
      CodecOptions rx = opts;
      rx.add_path_rx_ipv4 = rx.add_path_rx_ipv6 = false;
      auto again = decode_update(std::span<const uint8_t>(m).subspan(kHeaderLen), rx);
      FUZZ_CHECK(again.ok());
      for (const auto& s : again->announced) n += s.prefixes.size();
    }
    FUZZ_CHECK(msgs.empty() || n == set.prefixes.size());
  }
  for (const auto& set : u.withdrawn) {
    auto msgs = encode_withdrawals(set.family, set.prefixes, opts);
    size_t n = 0;
    for (const auto& m : msgs) {
      FUZZ_CHECK(m.size() <= opts.max_message_size());
      auto again = decode_update(std::span<const uint8_t>(m).subspan(kHeaderLen), CodecOptions{});
      FUZZ_CHECK(again.ok());
      for (const auto& s : again->withdrawn) n += s.prefixes.size();
    }
    FUZZ_CHECK(n == set.prefixes.size());
  }
  return 0;
}
