#include "bgpd/mrt/file_reader.hpp"

namespace tandem::mrt {

Result<FileReader> FileReader::open(const std::string& path, size_t max_len) {
  auto src = open_source(path);
  if (!src) return src.error();
  return FileReader(std::move(src.value()), max_len);
}

Result<size_t> FileReader::fill(size_t at, size_t n) {
  buf_.resize(at + n);
  size_t got = 0;
  while (got < n) {
    auto r = source_->read(buf_.data() + at + got, n - got);
    if (!r) return r.error();
    if (r.value() == 0) break;
    got += r.value();
  }
  return got;
}

std::optional<Result<Record>> FileReader::next() {
  if (done_) return std::nullopt;
  const uint64_t at = offset_;
  auto fail = [&](std::string reason) {
    done_ = true;
    return std::optional<Result<Record>>(MrtError{at, std::move(reason), true});
  };
  auto got = fill(0, kHeaderLen);
  if (!got) return fail(got.error().reason);
  if (got.value() == 0) {
    done_ = true;
    return std::nullopt;
  }
  auto h = decode_header(std::span<const uint8_t>(buf_.data(), got.value()), at, max_len_);
  if (!h) return fail(h.error().reason);
  auto body = fill(kHeaderLen, h->length);
  if (!body) return fail(body.error().reason);
  if (body.value() < h->length)
    return fail("truncated record: length " + std::to_string(h->length) + ", " +
                std::to_string(body.value()) + " bytes left");
  offset_ += kHeaderLen + h->length;
  return decoder_.decode(h.value(), std::span<const uint8_t>(buf_.data() + kHeaderLen, h->length), at);
}

}  // namespace tandem::mrt
