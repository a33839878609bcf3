#include "bgpd/mrt/byte_source.hpp"

#include <bzlib.h>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

namespace tandem::mrt {

const char* to_string(Compression c) {
  switch (c) {
    case Compression::None: return "none";
    case Compression::Gzip: return "gzip";
    case Compression::Bzip2: return "bzip2";
  }
  return "?";
}

namespace {

MrtError io_error(std::string what) { return MrtError{0, std::move(what), true}; }

class PlainSource final : public ByteSource {
 public:
  explicit PlainSource(FILE* f) : f_(f) {}
  ~PlainSource() override { std::fclose(f_); }
  Result<size_t> read(uint8_t* buf, size_t n) override {
    const size_t got = std::fread(buf, 1, n, f_);
    if (got == 0 && std::ferror(f_)) return io_error(std::string("read: ") + std::strerror(errno));
    return got;
  }
  Compression compression() const override { return Compression::None; }

 private:
  FILE* f_;
};

class GzipSource final : public ByteSource {
 public:
  explicit GzipSource(gzFile g) : g_(g) {}
  ~GzipSource() override { gzclose(g_); }
  Result<size_t> read(uint8_t* buf, size_t n) override {
    const unsigned want = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    const int got = gzread(g_, buf, want);
    int errnum = Z_OK;
    const char* msg = gzerror(g_, &errnum);
    // A truncated stream reads to its end and then reports Z_BUF_ERROR.
    if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END))
      return io_error(std::string("gzip: ") + (msg != nullptr ? msg : "error"));
    return static_cast<size_t>(got);
  }
  Compression compression() const override { return Compression::Gzip; }

 private:
  gzFile g_;
};

// bzip2 through the low-level stream API, so that concatenated streams (as written
// by rotation into an existing file) are read whole.
class Bzip2Source final : public ByteSource {
 public:
  explicit Bzip2Source(FILE* f) : f_(f) {}
  ~Bzip2Source() override {
    if (active_) BZ2_bzDecompressEnd(&s_);
    std::fclose(f_);
  }
  Result<size_t> read(uint8_t* buf, size_t n) override {
    if (error_) return io_error(*error_);
    const unsigned want = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    s_.next_out = reinterpret_cast<char*>(buf);
    s_.avail_out = want;
    while (s_.avail_out == want) {
      if (s_.avail_in == 0 && !eof_) {
        const size_t got = std::fread(in_, 1, sizeof(in_), f_);
        if (got == 0) {
          if (std::ferror(f_)) return fail(std::string("read: ") + std::strerror(errno));
          eof_ = true;
        }
        s_.next_in = in_;
        s_.avail_in = static_cast<unsigned>(got);
      }
      if (!active_) {
        if (s_.avail_in == 0) return size_t{0};  // clean end after a complete stream
        if (!init()) return fail("bzip2: cannot initialise the decompressor");
      }
      const bool no_more_input = s_.avail_in == 0 && eof_;
      const int rc = BZ2_bzDecompress(&s_);
      if (rc == BZ_STREAM_END) {
        BZ2_bzDecompressEnd(&s_);
        active_ = false;
      } else if (rc != BZ_OK) {
        return fail("bzip2: corrupt stream (error " + std::to_string(rc) + ")");
      } else if (no_more_input && s_.avail_out == want) {
        return fail("bzip2: unexpected end of stream (truncated file)");
      }
    }
    return size_t{want - s_.avail_out};
  }
  Compression compression() const override { return Compression::Bzip2; }

 private:
  bool init() {
    char* next_in = s_.next_in;
    const unsigned avail_in = s_.avail_in;
    char* next_out = s_.next_out;
    const unsigned avail_out = s_.avail_out;
    std::memset(&s_, 0, sizeof(s_));
    s_.next_in = next_in;
    s_.avail_in = avail_in;
    s_.next_out = next_out;
    s_.avail_out = avail_out;
    active_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK;
    return active_;
  }
  Result<size_t> fail(std::string why) {
    error_ = why;
    return io_error(std::move(why));
  }

  FILE* f_;
  bz_stream s_{};
  char in_[1 << 16];
  bool active_ = false;
  bool eof_ = false;
  std::optional<std::string> error_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_source(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return io_error(path + ": " + std::strerror(errno));
  uint8_t magic[3] = {};
  const size_t n = std::fread(magic, 1, sizeof(magic), f);
  std::rewind(f);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    const int fd = dup(fileno(f));
    std::fclose(f);
    gzFile g = fd >= 0 ? gzdopen(fd, "rb") : nullptr;
    if (g == nullptr) return io_error(path + ": cannot open gzip stream");
    gzbuffer(g, 1 << 16);
    return std::unique_ptr<ByteSource>(std::make_unique<GzipSource>(g));
  }
  if (n == 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h')
    return std::unique_ptr<ByteSource>(std::make_unique<Bzip2Source>(f));
  return std::unique_ptr<ByteSource>(std::make_unique<PlainSource>(f));
}

}  // namespace tandem::mrt
