// Result<T>: a value or a classified wire error (or another error type E: the MRT
// reader uses its own). Decoders never throw or abort on input; they return one of these.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "bgpd/wire/errors.hpp"

namespace tandem::wire {

template <class T, class E = WireError>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT(implicit)
  Result(E error) : v_(std::move(error)) {}    // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }

  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace tandem::wire
