#include "bgpd/rib/prefix_table.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace tandem::rib {

namespace {
constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kHugeThreshold = size_t{2} << 20;
}  // namespace

void* huge_page_alloc(size_t bytes) {
  if (bytes >= kHugeThreshold) {
    size_t rounded = (bytes + kHuge - 1) & ~(kHuge - 1);
    void* p = std::aligned_alloc(kHuge, rounded);
    if (p == nullptr) throw std::bad_alloc();
    ::madvise(p, rounded, MADV_HUGEPAGE);
    return p;
  }
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void huge_page_free(void* p, size_t /*bytes*/) { std::free(p); }

}  // namespace tandem::rib
