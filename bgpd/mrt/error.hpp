// Errors of the MRT reader are values: a reason and the byte offset of the record (in
// the decompressed stream) it concerns. Nothing in bgpd/mrt throws on input.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace tandem::mrt {

struct MrtError {
  uint64_t offset = 0;  // of the record's header in the (decompressed) stream
  std::string reason;
  // The framing is lost (truncated/oversized record, I/O or decompression error): the
  // reader cannot go on. A non-fatal error concerns one record; the next one follows.
  bool fatal = false;
  std::string to_string() const { return "offset " + std::to_string(offset) + ": " + reason; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(implicit)
  Result(MrtError error) : v_(std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }
  const MrtError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, MrtError> v_;
};

}  // namespace tandem::mrt
