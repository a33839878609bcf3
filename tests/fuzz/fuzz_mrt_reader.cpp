// Fuzz the MRT reader (bgpd/mrt) on an in-memory stream: every record decodes or
// yields an error with an offset inside the input and a reason; never a crash. Decoded
// records re-encode to the same bytes (BGP4MP AS4 forms) or decode back to the same
// values (TABLE_DUMP_V2), and RIB entry attributes go through the wire codec.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "bgpd/mrt/decode.hpp"
#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "fuzz_common.hpp"

using namespace tandem::mrt;

namespace {

// A STATE_CHANGE may carry bytes after the two states (read leniently, as bgpdump
// does): the re-encoded record is then a prefix of the original but for the length.
bool same_record(const std::vector<uint8_t>& again, std::span<const uint8_t> original) {
  if (again.size() > original.size() || again.size() < kHeaderLen) return false;
  if (again.size() == original.size()) return std::equal(again.begin(), again.end(), original.begin());
  return std::equal(again.begin(), again.begin() + 8, original.begin()) &&
         std::equal(again.begin() + kHeaderLen, again.end(), original.begin() + kHeaderLen);
}

std::optional<Record> decode_alone(const std::vector<uint8_t>& bytes, std::optional<size_t> peers) {
  std::vector<uint8_t> stream;
  if (peers) {
    PeerIndexTable t;
    t.peers.resize(*peers);
    stream = encode_peer_index_table(Timestamp{}, t);
  }
  stream.insert(stream.end(), bytes.begin(), bytes.end());
  MemoryReader r(stream);
  if (peers) (void)r.next();
  auto rec = r.next();
  FUZZ_CHECK(rec.has_value() && rec->ok());
  return rec->value();
}

void check_round_trip(const Record& rec, std::span<const uint8_t> original,
                      std::optional<size_t> peers) {
  const bool et = rec.type == type::kBgp4mpEt;
  if (const auto* m = std::get_if<Bgp4mpMessage>(&rec.body)) {
    if (rec.subtype == bgp4mp::kMessageAs4) {
      const auto again = encode_bgp4mp_message(rec.time, m->peer, m->message, et);
      FUZZ_CHECK(std::equal(again.begin(), again.end(), original.begin(), original.end()));
    }
  } else if (const auto* s = std::get_if<Bgp4mpStateChange>(&rec.body)) {
    if (rec.subtype == bgp4mp::kStateChangeAs4) {
      const auto again = encode_bgp4mp_state_change(rec.time, s->peer, static_cast<FsmState>(s->old_state),
                                                    static_cast<FsmState>(s->new_state), et);
      FUZZ_CHECK(same_record(again, original));
    }
  } else if (const auto* t = std::get_if<PeerIndexTable>(&rec.body)) {
    const auto back = decode_alone(encode_peer_index_table(rec.time, *t), std::nullopt);
    FUZZ_CHECK(back && std::get<PeerIndexTable>(back->body) == *t);
  } else if (const auto* rib = std::get_if<RibRecord>(&rec.body)) {
    for (const RibEntry& e : rib->entries) (void)decode_rib_attributes(e.attributes, rib->prefix.afi());
    if (rib->entries.size() <= 0xFFFF) {
      const auto back = decode_alone(encode_rib_record(rec.time, rib->sequence, rib->prefix, rib->entries), peers);
      FUZZ_CHECK(back && std::get<RibRecord>(back->body) == *rib);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  MemoryReader reader(in);
  uint64_t last = 0;
  bool first = true;
  std::optional<size_t> peers;
  while (auto rec = reader.next()) {
    if (!rec->ok()) {
      const MrtError& e = rec->error();
      FUZZ_CHECK(e.offset < size);
      FUZZ_CHECK(first || e.offset > last);
      FUZZ_CHECK(!e.reason.empty());
      last = e.offset;
      first = false;
      continue;
    }
    const Record& r = rec->value();
    FUZZ_CHECK(r.offset < size && (first || r.offset > last));
    last = r.offset;
    first = false;
    FUZZ_CHECK(reader.offset() <= size);
    const auto original = in.subspan(r.offset, reader.offset() - r.offset);
    if (const auto* t = std::get_if<PeerIndexTable>(&r.body)) peers = t->peers.size();
    check_round_trip(r, original, peers);
  }
  return 0;
}
