#include "bgpd/mrt/sink.hpp"

#include <bzlib.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tandem::mrt {

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

class PlainSink final : public Sink {
 public:
  explicit PlainSink(FILE* f) : f_(f) {}
  ~PlainSink() override { close(); }
  bool write(std::span<const uint8_t> b) override {
    if (std::fwrite(b.data(), 1, b.size(), f_) == b.size()) return true;
    error_ = errno_text("write");
    return false;
  }
  bool flush() override {
    if (std::fflush(f_) == 0) return true;
    error_ = errno_text("flush");
    return false;
  }
  bool close() override {
    if (f_ == nullptr) return true;
    const bool ok = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok) error_ = errno_text("close");
    return ok;
  }

 private:
  FILE* f_;
};

class GzipSink final : public Sink {
 public:
  explicit GzipSink(gzFile g) : g_(g) {}
  ~GzipSink() override { close(); }
  bool write(std::span<const uint8_t> b) override {
    if (b.empty()) return true;
    if (gzwrite(g_, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size())) return true;
    return fail("gzip write");
  }
  bool flush() override { return gzflush(g_, Z_SYNC_FLUSH) == Z_OK || fail("gzip flush"); }
  bool close() override {
    if (g_ == nullptr) return true;
    const int rc = gzclose(g_);
    g_ = nullptr;
    if (rc != Z_OK) error_ = "gzip close: error " + std::to_string(rc);
    return rc == Z_OK;
  }

 private:
  bool fail(const char* what) {
    int errnum = 0;
    const char* msg = gzerror(g_, &errnum);
    error_ = std::string(what) + ": " + (errnum == Z_ERRNO ? std::strerror(errno) : msg);
    return false;
  }
  gzFile g_;
};

class Bzip2Sink final : public Sink {
 public:
  Bzip2Sink(FILE* f, BZFILE* b) : f_(f), b_(b) {}
  ~Bzip2Sink() override { close(); }
  bool write(std::span<const uint8_t> b) override {
    int err = BZ_OK;
    // BZ2_bzWrite takes a non-const buffer but does not modify it.
    BZ2_bzWrite(&err, b_, const_cast<uint8_t*>(b.data()), static_cast<int>(b.size()));
    if (err == BZ_OK) return true;
    error_ = err == BZ_IO_ERROR ? errno_text("bzip2 write") : "bzip2 write: error " + std::to_string(err);
    return false;
  }
  bool flush() override { return true; }  // a bzip2 block cannot be flushed early
  bool close() override {
    if (f_ == nullptr) return true;
    int err = BZ_OK;
    BZ2_bzWriteClose(&err, b_, 0, nullptr, nullptr);
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (err != BZ_OK) error_ = "bzip2 close: error " + std::to_string(err);
    else if (!closed) error_ = errno_text("close");
    return err == BZ_OK && closed;
  }

 private:
  FILE* f_;
  BZFILE* b_;
};

}  // namespace

std::unique_ptr<Sink> open_sink(const std::string& path, Compression c, std::string& error) {
  if (c == Compression::Gzip) {
    gzFile g = gzopen(path.c_str(), "ab6");
    if (g == nullptr) {
      error = errno_text(path.c_str());
      return nullptr;
    }
    gzbuffer(g, 1 << 17);
    return std::make_unique<GzipSink>(g);
  }
  FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) {
    error = errno_text(path.c_str());
    return nullptr;
  }
  if (c == Compression::None) return std::make_unique<PlainSink>(f);
  int err = BZ_OK;
  // Block size 9 (900 kB), the bzip2 default: best ratio for table dumps.
  BZFILE* b = BZ2_bzWriteOpen(&err, f, 9, 0, 0);
  if (err != BZ_OK) {
    std::fclose(f);
    error = path + ": cannot start bzip2 stream";
    return nullptr;
  }
  return std::make_unique<Bzip2Sink>(f, b);
}

}  // namespace tandem::mrt
