#include "bgpd/mrt/decode.hpp"

#include "bgpd/mrt/bytes.hpp"

namespace tandem::mrt {

Result<RecordHeader> decode_header(std::span<const uint8_t> bytes, uint64_t offset,
                                   size_t max_len) {
  if (bytes.size() < kHeaderLen)
    return MrtError{offset, "truncated record header (" + std::to_string(bytes.size()) + " of 12 bytes)", true};
  RecordHeader h;
  h.timestamp = detail::load_u32(bytes.data());
  h.type = detail::load_u16(bytes.data() + 4);
  h.subtype = detail::load_u16(bytes.data() + 6);
  h.length = detail::load_u32(bytes.data() + 8);
  if (h.length > max_len)
    return MrtError{offset, "record length " + std::to_string(h.length) + " exceeds the limit of " +
                                std::to_string(max_len),
                    true};
  return h;
}

Result<Record> RecordDecoder::decode(const RecordHeader& h, std::span<const uint8_t> body,
                                     uint64_t offset) {
  Record rec;
  rec.offset = offset;
  rec.time.seconds = h.timestamp;
  rec.type = h.type;
  rec.subtype = h.subtype;
  std::optional<std::string> fault;
  switch (h.type) {
    case type::kBgp4mp:
      fault = detail::decode_bgp4mp(body, h.subtype, rec);
      break;
    case type::kBgp4mpEt:
      // The microsecond field leads the body and counts in its length (§3).
      if (body.size() < 4) {
        fault = "BGP4MP_ET record shorter than its microsecond timestamp";
        break;
      }
      rec.time.microseconds = detail::load_u32(body.data());
      fault = detail::decode_bgp4mp(body.subspan(4), h.subtype, rec);
      break;
    case type::kTableDumpV2:
      fault = detail::decode_table_dump_v2(body, h.subtype, peer_count_, rec);
      break;
    case type::kTableDump:
      fault = detail::decode_table_dump(body, h.subtype, rec);
      break;
    default:
      rec.body = OtherRecord{{body.begin(), body.end()}};
      break;
  }
  if (fault) return MrtError{offset, std::move(*fault), false};
  return rec;
}

std::optional<Result<Record>> MemoryReader::next() {
  if (failed_ || pos_ >= bytes_.size()) return std::nullopt;
  const uint64_t at = pos_;
  auto h = decode_header(bytes_.subspan(pos_), at, max_len_);
  if (!h) {
    failed_ = true;
    return Result<Record>(h.error());
  }
  const size_t avail = bytes_.size() - pos_ - kHeaderLen;
  if (h->length > avail) {
    failed_ = true;
    return Result<Record>(MrtError{at, "truncated record: length " + std::to_string(h->length) +
                                           ", " + std::to_string(avail) + " bytes left",
                                   true});
  }
  const auto body = bytes_.subspan(pos_ + kHeaderLen, h->length);
  pos_ += kHeaderLen + h->length;
  return decoder_.decode(h.value(), body, at);
}

}  // namespace tandem::mrt
